import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headstart.errors import ConfigError, DataError
from headstart.unlabelled.query import (QUERIES, density, kmeans, margin_uncertainty, min_distances, normalise,
                                       select)


def pool(m=60, k=3, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(k), size=m), normalise(rng.normal(size=(m, d))), [f"text {i}" for i in range(m)]


@pytest.mark.parametrize("name", list(QUERIES))
def test_every_strategy_returns_n_distinct_rows_deterministically(name):
    proba, x, texts = pool()
    first = select(name, 10, proba=proba, embeddings=x, texts=texts, seed=3)
    again = select(name, 10, proba=proba, embeddings=x, texts=texts, seed=3)
    assert len(first.indices) == 10 and len(set(first.indices.tolist())) == 10
    assert first.indices.tolist() == again.indices.tolist() and np.allclose(first.scores, again.scores)
    assert first.indices.min() >= 0 and first.indices.max() < 60 and np.isfinite(first.scores).all()


def test_margin_picks_the_rows_whose_two_best_classes_tie():
    proba = np.array([[0.9, 0.05, 0.05], [0.5, 0.49, 0.01], [0.4, 0.3, 0.3], [0.34, 0.33, 0.33]])
    chosen = select("margin", 2, proba=proba)
    assert sorted(chosen.indices.tolist()) == [1, 3]
    assert np.allclose(chosen.scores, np.sort(margin_uncertainty(proba))[::-1][:2])


def test_entropy_and_least_confident_prefer_the_flat_row():
    proba = np.array([[0.98, 0.01, 0.01], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.2, 0.2]])
    assert select("entropy", 1, proba=proba).indices.tolist() == [1]
    assert select("least-confident", 1, proba=proba).indices.tolist() == [1]


def test_labelled_texts_and_repeated_texts_are_never_proposed():
    proba = np.array([[0.5, 0.5]] * 4 + [[0.99, 0.01]])
    texts = ["labelled", "same", "same", "other", "certain"]
    chosen = select("margin", 3, proba=proba, texts=texts, labelled_texts=["labelled"])
    assert sorted(chosen.indices.tolist()) == [1, 3, 4]
    with pytest.raises(DataError, match="at most the 3 pool rows"):
        select("margin", 4, proba=proba, texts=texts, labelled_texts=["labelled"])


def test_near_duplicates_are_not_proposed_together():
    base = normalise(np.eye(4, 6))
    near = normalise((base[0] + 0.01 * np.ones(6))[None])  # cosine 0.9998 to row 0
    x = np.vstack([base, near])
    proba = np.array([[0.5, 0.5], [0.9, 0.1], [0.95, 0.05], [0.99, 0.01], [0.51, 0.49]])
    chosen = select("margin", 2, proba=proba, embeddings=x)
    assert chosen.indices.tolist() == [0, 1] and any("near-duplicate" in n for n in chosen.notes)
    # a stricter threshold than their cosine lets both through
    assert select("margin", 2, proba=proba, embeddings=x, duplicate_cosine=0.99999).indices.tolist() == [0, 4]


def test_a_pool_of_near_copies_gives_fewer_rows_and_says_so():
    x = normalise(np.ones((5, 4)) + 1e-3 * np.arange(20).reshape(5, 4))
    chosen = select("kcenter", 3, embeddings=x)
    assert len(chosen.indices) == 1 and "not 3" in chosen.notes[0]


def test_kcenter_starts_far_from_the_labelled_rows_and_spreads_out():
    x = normalise(np.array([[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0, 0, 1], [0, 0.1, 0.99]], dtype=float))
    chosen = select("kcenter", 2, embeddings=x, labelled_embeddings=x[[0]], duplicate_cosine=1.01)
    assert set(chosen.indices.tolist()) == {2, 3} or set(chosen.indices.tolist()) == {2, 4}
    assert chosen.scores[0] >= chosen.scores[1] > 0


def test_min_distances_match_a_brute_force_computation():
    rng = np.random.default_rng(1)
    x, c = normalise(rng.normal(size=(50, 5))), normalise(rng.normal(size=(7, 5)))
    brute = np.sqrt(((x[:, None] - c[None]) ** 2).sum(-1)).min(1)
    assert np.allclose(min_distances(x, c), brute, atol=1e-5)


def test_kmeans_recovers_separated_groups():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(loc=centre, scale=0.05, size=(20, 2)) for centre in ([0, 0], [5, 5], [0, 5])])
    labels, centres = kmeans(x, 3, np.random.default_rng(0))
    assert len(set(labels.tolist())) == 3
    assert all(len(set(labels[i * 20:(i + 1) * 20].tolist())) == 1 for i in range(3))


def test_cluster_margin_spreads_uncertain_rows_over_clusters():
    # two tight clusters, all rows equally uncertain: two picks must come from different clusters
    rng = np.random.default_rng(0)
    x = normalise(np.vstack([np.array([1.0, 0, 0]) + 0.01 * rng.normal(size=(10, 3)),
                             np.array([0, 1.0, 0]) + 0.01 * rng.normal(size=(10, 3))]))
    proba = np.tile([0.5, 0.5], (20, 1))
    chosen = select("cluster-margin", 2, proba=proba, embeddings=x, duplicate_cosine=1.01)
    assert {int(i) // 10 for i in chosen.indices} == {0, 1}


def test_density_is_the_mean_cosine_to_the_nearest_other_rows():
    rng = np.random.default_rng(2)
    x = normalise(rng.normal(size=(30, 4)))
    cos = x @ x.T
    np.fill_diagonal(cos, -np.inf)
    brute = np.sort(cos, axis=1)[:, -3:].mean(axis=1)
    assert np.allclose(density(x, neighbours=3), brute)
    assert density(x[:1]).tolist() == [0.0]  # a lone row has no neighbours


def test_density_margin_prefers_a_typical_uncertain_row_to_an_uncertain_outlier():
    rng = np.random.default_rng(0)
    crowd = normalise(np.array([1.0, 0, 0]) + 0.05 * rng.normal(size=(15, 3)))
    outlier = normalise(np.array([[0.0, 0, 1]]))
    x = np.vstack([outlier, crowd])
    proba = np.vstack([[0.5, 0.5], [0.52, 0.48], np.tile([0.9, 0.1], (14, 1))])  # the outlier is the most unsure
    assert select("margin", 1, proba=proba, embeddings=x).indices.tolist() == [0]
    assert select("density-margin", 1, proba=proba, embeddings=x).indices.tolist() == [1]


def test_balanced_margin_takes_rows_from_every_predicted_class():
    # class 0 holds the five most uncertain rows; margin takes only those, balanced-margin one per predicted class
    proba = np.array([[0.51, 0.49, 0.0]] * 5 + [[0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.05, 0.9, 0.05],
                                                [0.0, 0.05, 0.95]])
    assert sorted(select("margin", 3, proba=proba).indices.tolist()) == [0, 1, 2]
    chosen = select("balanced-margin", 3, proba=proba)
    assert sorted(proba[chosen.indices].argmax(axis=1).tolist()) == [0, 1, 2]
    assert chosen.indices.tolist()[0] == 0  # the most uncertain class first, its most uncertain row
    assert set(chosen.indices.tolist()) == {0, 5, 6}  # the most uncertain row of each class
    assert np.allclose(chosen.scores, margin_uncertainty(proba)[chosen.indices])
    again = select("balanced-margin", 5, proba=proba).indices.tolist()
    assert again[:3] == chosen.indices.tolist() and len(set(again)) == 5  # then round two, one per class


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_n_must_be_a_positive_count(bad):
    proba, x, texts = pool()
    with pytest.raises(ConfigError):
        select("margin", bad, proba=proba)


def test_n_larger_than_the_pool_says_what_to_do():
    proba, _, _ = pool(m=5)
    with pytest.raises(DataError, match="Pass -n 5 or less"):
        select("margin", 6, proba=proba)


def test_unknown_strategy_and_missing_inputs_are_refused():
    proba, x, _ = pool()
    with pytest.raises(ConfigError, match="kcenter"):
        select("uncertain-ish", 3, proba=proba)
    with pytest.raises(ConfigError, match="probabilities"):
        select("margin", 3, embeddings=x)
    with pytest.raises(ConfigError, match="embeddings"):
        select("kcenter", 3, proba=proba)
    with pytest.raises(DataError, match="same pool"):
        select("margin", 3, proba=proba, embeddings=x[:10])


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 40), n=st.integers(1, 40), seed=st.integers(0, 5), name=st.sampled_from(list(QUERIES)))
def test_any_pool_gives_distinct_valid_rows_or_a_clear_error(m, n, seed, name):
    proba, x, _ = pool(m=m, seed=seed)
    texts = [f"t{i % max(1, m // 2)}" for i in range(m)]  # repeated texts
    try:
        chosen = select(name, n, proba=proba, embeddings=x, texts=texts, seed=seed)
    except DataError:
        assert n > len(set(texts))
        return
    rows = chosen.indices.tolist()
    assert len(rows) == len(set(rows)) <= n and len({texts[r] for r in rows}) == len(rows)


def test_a_10000_row_pool_is_queried_within_10_seconds():
    proba, x, texts = pool(m=10_000, k=77, d=384)
    labelled = normalise(np.random.default_rng(9).normal(size=(154, 384)))
    for name in QUERIES:
        start = time.perf_counter()
        select(name, 50, proba=proba, embeddings=x, labelled_embeddings=labelled, texts=texts)
        assert time.perf_counter() - start < 10, name
