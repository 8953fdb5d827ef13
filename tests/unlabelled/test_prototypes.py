"""Self-training method `cluster`: prototypes refined over the pool, and the rounds that take a share of it."""

from __future__ import annotations

import numpy as np
import pytest

from headstart import TextClassifier
from headstart.errors import ConfigError
from headstart.heads import fit_head
from headstart.strategies.registry import Cost
from headstart.targets import Target
from headstart.tasks import CLASSIFICATION
from headstart.unlabelled.prototypes import cluster_labels
from headstart.unlabelled.self_train import SelfTrainConfig, resolve_method, self_train


def _sphere(rng, centres, labels, spread):
    x = centres[labels] + spread * rng.normal(size=(len(labels), centres.shape[1]))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_pool_rows_take_the_label_of_their_cluster():
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8)
    pool_y = rng.integers(0, 3, 300)
    x_pool = _sphere(rng, centres, pool_y, 0.25)
    y = np.repeat([0, 1, 2], 2)
    x_labelled = _sphere(rng, centres, y, 0.25)
    dist = cluster_labels(x_labelled, y, x_pool, 3)
    assert dist.shape == (300, 3) and np.allclose(dist.sum(1), 1)
    assert (dist.argmax(1) == pool_y).mean() > 0.95


def test_class_shares_keep_a_rare_class_from_taking_the_large_ones_rows():
    # Class 1 is 5% of the pool and its labelled rows sit between the clusters: with equal shares its prototype
    # takes class 0's boundary rows and drifts into class 0; with the shares estimated it stays a small class.
    rng = np.random.default_rng(1)
    centres = np.array([[1.0, 0, 0], [0.55, 0.85, 0]])
    pool_y = (rng.random(2000) < 0.05).astype(int)
    x_pool = _sphere(rng, centres, pool_y, 0.3)
    y = np.array([0, 0, 1, 1])
    x_labelled = _sphere(rng, centres, y, 0.05)
    shared = cluster_labels(x_labelled, y, x_pool, 2).argmax(1)
    equal = cluster_labels(x_labelled, y, x_pool, 2, class_shares=False).argmax(1)
    assert (shared == pool_y).mean() > (equal == pool_y).mean() + 0.05
    assert abs(shared.mean() - pool_y.mean()) < abs(equal.mean() - pool_y.mean())


def test_a_class_without_labelled_rows_gets_probability_zero():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 4))
    dist = cluster_labels(x[:4], np.array([0, 0, 2, 2]), x[4:], 3)
    assert (dist[:, 1] == 0).all() and np.allclose(dist.sum(1), 1)


class _Embedded:
    """A strategy with embeddings and a logistic head, whose embeddings cluster by class (like contrastive's)."""

    name, cost, row_weights, needs_examples = "embedded", Cost.FEATURES, True, True
    class_clustered_embeddings = True

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors, self.head_ = vectors, None

    def embeddings(self, texts):
        return np.stack([self.vectors[t] for t in texts])

    def refit_head(self, x, train, seed):
        self.head_ = fit_head(x, train.y, train.task, "logistic", 1.0, seed=seed, sample_weight=train.weight)

    def head_scores(self, x):
        return self.head_.scores(x)


def test_cluster_rounds_take_a_share_of_every_class_and_end_with_the_whole_pool():
    rng = np.random.default_rng(3)
    centres = np.eye(2, 6) * 1.0
    pool_y = (rng.random(90) < 0.3).astype(int)  # 27-ish of class 1, 63-ish of class 0
    texts = {f"t{i}": v for i, v in enumerate(_sphere(rng, centres, np.repeat([0, 1], 6), 0.1))}
    pool = {f"p{i}": v for i, v in enumerate(_sphere(rng, centres, pool_y, 0.1))}
    valid_v = {f"v{i}": v for i, v in enumerate(_sphere(rng, centres, np.repeat([0, 1], 5), 0.1))}
    strategy = _Embedded({**texts, **pool, **valid_v})
    train = Target(list(texts), np.repeat([0, 1], 6), CLASSIFICATION.name, ["a", "b"])
    valid = Target(list(valid_v), np.repeat([0, 1], 5), CLASSIFICATION.name, ["a", "b"])
    strategy.refit_head(strategy.embeddings(train.texts), train, 0)
    config = SelfTrainConfig(self_train=True, self_train_rounds=3)
    model, report, _ = self_train(strategy, train, valid, list(pool), config, 0, refit=lambda t: None)
    assert report.method == "cluster" and report.per_class == 0
    counts = np.bincount(pool_y, minlength=2)
    first = report.rounds[0].added_per_class
    assert first == {"a": int(np.ceil(counts[0] / 3)), "b": int(np.ceil(counts[1] / 3))}
    assert len(report.rounds) == 3 and report.kept_rounds == 3  # separable: every round keeps 100% valid
    assert sum(r.pseudo_rows for r in report.rounds) == len(pool)


def test_an_explicit_per_class_count_is_honoured_by_cluster():
    rng = np.random.default_rng(4)
    centres = np.eye(2, 6)
    texts = {f"t{i}": v for i, v in enumerate(_sphere(rng, centres, np.repeat([0, 1], 4), 0.1))}
    pool = {f"p{i}": v for i, v in enumerate(_sphere(rng, centres, rng.integers(0, 2, 60), 0.1))}
    strategy = _Embedded({**texts, **pool})
    train = Target(list(texts), np.repeat([0, 1], 4), CLASSIFICATION.name, ["a", "b"])
    strategy.refit_head(strategy.embeddings(train.texts), train, 0)
    config = SelfTrainConfig(self_train=True, self_train_rounds=1, self_train_per_class=5, self_train_method="cluster")
    _, report, _ = self_train(strategy, train, None, list(pool), config, 0, refit=lambda t: None)
    assert report.per_class == 5 and report.rounds[0].added_per_class == {"a": 5, "b": 5}


def test_auto_means_cluster_only_where_embeddings_cluster_by_class():
    from headstart.strategies import get_strategy

    assert resolve_method(get_strategy("contrastive"), "auto") == "cluster"
    assert resolve_method(get_strategy("probe"), "auto") == "rounds"
    assert resolve_method(get_strategy("probe"), "cluster") == "cluster"


def test_cluster_for_a_strategy_without_embeddings_is_refused():
    texts, labels = [f"text {i}" for i in range(8)], ["a", "b"] * 4
    with pytest.raises(ConfigError, match="cluster"):
        TextClassifier(strategy="scratch-tfidf", self_train=True, self_train_method="cluster", progress=False).fit(
            texts, labels, X_unlabeled=["some pool text"])
