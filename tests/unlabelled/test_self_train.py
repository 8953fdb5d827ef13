"""Self-training: selection, weights, the held-out check that undoes a round that hurts, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headstart import TextClassifier
from headstart.errors import ConfigError, DataError
from headstart.data.examples import from_lists
from headstart.heads import fit_head
from headstart.strategies.registry import Cost
from headstart.strategies.prototype import prototypes
from headstart.targets import Target
from headstart.tasks import CLASSIFICATION
from headstart.unlabelled.selection import select_balanced, spread_labels
from headstart.unlabelled.self_train import SelfTrainConfig, self_train


# ---------------------------------------------------------------------------------------------- selection


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 5), st.integers(1, 40), st.integers(1, 12), st.integers(0, 2**16))
def test_selection_is_balanced_capped_and_skips_taken_rows(k, n, per_class, seed):
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(k), size=n)
    taken = rng.random(n) < 0.3
    chosen = select_balanced(proba, per_class, taken)
    assert len(set(chosen.tolist())) == len(chosen) and not taken[chosen].any()
    predicted = proba.argmax(1)
    for c in range(k):
        mine = chosen[predicted[chosen] == c]
        available = np.flatnonzero((predicted == c) & ~taken)
        assert len(mine) == min(per_class, len(available))
        if len(mine):  # the most confident of the class, none more confident left behind
            left = np.setdiff1d(available, mine)
            assert not len(left) or proba[left].max(1).max() <= proba[mine].max(1).min()


def test_min_confidence_and_rows_no_label_reached_are_skipped():
    proba = np.array([[0.9, 0.1], [0.55, 0.45], [0.0, 0.0], [0.2, 0.8]])
    assert sorted(select_balanced(proba, 5, np.zeros(4, bool), min_confidence=0.6).tolist()) == [0, 3]


def test_label_spreading_labels_pool_rows_by_their_cluster():
    rng = np.random.default_rng(0)
    centres = np.array([[5.0, 0], [0, 5.0]])
    x_l = centres + 0.1 * rng.normal(size=(2, 2))
    pool_y = rng.integers(0, 2, 40)
    x_u = centres[pool_y] + 0.3 * rng.normal(size=(40, 2))
    dist = spread_labels(x_l, np.array([0, 1]), x_u, 2, neighbours=5)
    assert dist.shape == (40, 2) and np.allclose(dist.sum(1), 1)
    assert (dist.argmax(1) == pool_y).mean() > 0.9


# ---------------------------------------------------------------------------------------------- weights


def test_target_subset_keeps_the_weights():
    t = Target(["a", "b", "c"], np.array([0, 1, 0]), CLASSIFICATION.name, ["x", "y"], np.array([1.0, 0.5, 0.2]))
    assert t.subset([2, 0]).weight.tolist() == [0.2, 1.0]
    assert Target(["a"], np.array([0]), CLASSIFICATION.name, ["x"]).weights().tolist() == [1.0]


def test_a_row_weighted_two_counts_as_the_row_twice():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 5)), np.repeat([0, 1, 2], 10)
    w = np.ones(30)
    w[3] = 2.0
    weighted = fit_head(x, y, CLASSIFICATION.name, c=1.0, sample_weight=w)
    doubled = fit_head(np.vstack([x, x[3:4]]), np.append(y, y[3]), CLASSIFICATION.name, c=1.0)
    unweighted = fit_head(x, y, CLASSIFICATION.name, c=1.0)
    assert np.allclose(weighted.scores(x), doubled.scores(x), atol=1e-3)
    assert not np.allclose(weighted.scores(x), unweighted.scores(x), atol=1e-3)


def test_the_loss_is_the_weighted_mean_of_the_rows_losses():
    import torch

    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = torch.tensor([0, 0, 1])
    w = torch.tensor([1.0, 0.0, 0.5])
    per_row = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    assert torch.isclose(CLASSIFICATION.loss(logits, y, row_weights=w), (per_row * w).sum() / w.sum())
    class_w = torch.tensor([1.0, 3.0])
    expected = (per_row * w * class_w[y]).sum() / (w * class_w[y]).sum()
    assert torch.isclose(CLASSIFICATION.loss(logits, y, class_w, w), expected)
    assert torch.isclose(CLASSIFICATION.loss(logits, y), per_row.mean())


def test_prototypes_are_weighted_means():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    p = prototypes(x, np.array([0, 0, 1]), 2, np.array([3.0, 1.0, 1.0]))
    assert np.allclose(p[0], np.array([3.0, 1.0]) / np.linalg.norm([3.0, 1.0]))


def test_contrastive_triplets_of_weight_zero_do_not_count(tiny_backbone):
    import torch

    from headstart.backbones import load_model, load_tokenizer, resolve_backbone
    from headstart.strategies.contrastive import ContrastiveConfig, contrastive_loss

    ref = resolve_backbone(tiny_backbone)
    model, tok = load_model(ref).eval(), load_tokenizer(ref)
    texts = ["good film", "great film", "bad film", "awful film"]
    y = np.array([1, 1, 0, 0])
    triplets = np.array([[0, 1, 2], [2, 3, 0], [1, 0, 3]])
    config = ContrastiveConfig(loss="cosine")
    weight = np.array([1.0, 0.0, 1.0, 1.0])  # text 1 anchors or is the positive of triplets 0 and 2
    with torch.no_grad():
        weighted = contrastive_loss(model, tok, texts, y, triplets, config, "cpu", weight)
        only = contrastive_loss(model, tok, texts, y, triplets[1:2], config, "cpu")
        unweighted = contrastive_loss(model, tok, texts, y, triplets, config, "cpu")
    assert float(weighted) == pytest.approx(float(only), rel=1e-5)
    assert float(unweighted) != pytest.approx(float(only))


# ---------------------------------------------------------------------------------------------- the check


class _Scripted:
    """A 'strategy' refitted whole, whose quality on the validation rows is scripted by how many pseudo-labelled
    rows it was fitted with: more helps up to `best_rows`, then hurts."""

    name, cost, row_weights, needs_examples = "scripted", Cost.FEATURES, True, True

    def __init__(self, n_pseudo: int = 0, best_rows: int = 0) -> None:
        self.n_pseudo, self.best_rows = n_pseudo, best_rows

    def predict_proba(self, texts):
        # pool texts 'p...' get a confident class 0/1 guess; validation texts 'v<label>' are right with a
        # probability that peaks at best_rows pseudo-labelled rows
        quality = 0.9 - 0.1 * abs(self.n_pseudo - self.best_rows) / max(self.best_rows, 1)
        out = []
        for t in texts:
            if t.startswith("v"):
                c = int(t[1])
                out.append([quality, 1 - quality] if c == 0 else [1 - quality, quality])
            else:
                out.append([0.8, 0.2] if int(t[1:]) % 2 else [0.2, 0.8])
        return np.array(out)


def test_the_round_that_hurts_the_validation_check_is_undone():
    train = Target([f"t{i}" for i in range(8)], np.repeat([0, 1], 4), CLASSIFICATION.name, ["a", "b"])
    valid = Target(["v0", "v1", "v0", "v1"], np.array([0, 1, 0, 1]), CLASSIFICATION.name, ["a", "b"])
    pool = [f"p{i}" for i in range(100)]
    refits = []

    def refit(target: Target):
        refits.append(target)
        return _Scripted(int((target.weights() < 1).sum()), best_rows=32 * 2)

    config = SelfTrainConfig(self_train=True, self_train_rounds=4, self_train_per_class=16)
    model, report, cv = self_train(_Scripted(0, 64), train, valid, pool, config, 0, refit)
    assert cv is None
    assert [r.kept for r in report.rounds] == [True, True, False]  # 32, 64 rows help; 96 hurts, then stop
    assert report.kept_rounds == 2 and model.n_pseudo == 64
    assert [r.pseudo_rows for r in report.rounds] == [32, 32, 32]
    assert all(r.added_per_class == {"a": 16, "b": 16} for r in report.rounds)
    weights = refits[-1].weights()
    assert (weights[:8] == 1).all() and (weights[8:] <= 0.5).all(), "pseudo-labelled rows weigh less"
    assert any("hurt" in line for line in report.summary())


class _ScriptedGradient(_Scripted):
    cost = Cost.GRADIENT


def test_without_a_check_a_gradient_strategy_is_refused():
    train = Target([f"t{i}" for i in range(8)], np.repeat([0, 1], 4), CLASSIFICATION.name, ["a", "b"])
    with pytest.raises(ConfigError, match="validation split"):
        self_train(_ScriptedGradient(), train, None, ["p"], SelfTrainConfig(self_train=True), 0, lambda t: None)


# ---------------------------------------------------------------------------------------------- estimator


@pytest.fixture(scope="module")
def labelled(small_data):
    train, _ = small_data
    part = train.groupby("label").head(8)
    pool = train.drop(part.index).text.tolist()
    return part.text.tolist(), part.label.tolist(), pool


def test_probe_self_training_is_recorded_and_matches_the_two_step_path(labelled, tiny_backbone, tmp_path):
    texts, labels, pool = labelled
    options = dict(self_train=True, self_train_rounds=2, self_train_per_class=4)
    clf = TextClassifier(backbone=tiny_backbone, strategy="probe", progress=False, **options)
    clf.fit(texts, labels, X_unlabeled=pool)
    record = clf.self_training_
    assert record["method"] == "rounds" and record["pool_rows"] == len(set(pool) - set(texts))
    assert "cross-validation" in record["check"] and 1 <= len(record["rounds"]) <= 2
    assert any(n.startswith("self-training kept") for n in clf.fit_report_.notes)
    assert "cv" in clf.metrics_  # the estimate of the model kept (out-of-fold scores of the kept round)
    clf.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.self_training_ == record
    assert loaded.predict(pool[:20]) == clf.predict(pool[:20])
    # the same two steps by hand (what benchmarks/self_training.py runs)
    base = TextClassifier(backbone=tiny_backbone, strategy="probe", progress=False).fit(texts, labels)
    model, report, _ = self_train(base.strategy_, base.encode(from_lists(texts, labels)), None, pool,
                                  SelfTrainConfig(**options), 0, refit=lambda t: None)
    base.strategy_ = model
    assert report.kept_rounds == record["kept_rounds"]
    assert np.allclose(base.predict_proba(pool[:20]), clf.predict_proba(pool[:20]), atol=1e-6)


def test_whole_strategy_refits_for_a_strategy_without_embeddings(labelled):
    texts, labels, pool = labelled
    clf = TextClassifier(strategy="scratch-tfidf", progress=False, self_train=True, self_train_rounds=1)
    clf.fit(texts, labels, X_unlabeled=pool)
    assert clf.self_training_["learner"].startswith("whole strategy")
    assert clf.self_training_["rounds"][0]["pseudo_rows"] > 0


@pytest.mark.parametrize("kwargs, fit_kwargs, error, match", [
    ({"self_train": True}, {}, ConfigError, "X_unlabeled"),
    ({}, {"X_unlabeled": ["a"]}, ConfigError, "self_train=True"),
    ({"self_train": True}, {"X_unlabeled": []}, DataError, "empty pool"),
    ({"self_train": True, "self_train_rounds": 0}, {"X_unlabeled": ["a"]}, ConfigError, "self_train_rounds"),
    ({"self_train": True, "self_train_rounds": 11}, {"X_unlabeled": ["a"]}, ConfigError, "self_train_rounds"),
    ({"self_train": True, "self_train_weight": 0}, {"X_unlabeled": ["a"]}, ConfigError, "self_train_weight"),
    ({"self_train": True, "self_train_method": "propagate"}, {"X_unlabeled": ["a"]}, ConfigError, "propagate"),
    ({"self_train_rounds": 2}, {}, ConfigError, "self_train_rounds without it"),  # silently ignored before
])
def test_bad_self_training_input_is_refused(labelled, kwargs, fit_kwargs, error, match):
    texts, labels, _ = labelled
    with pytest.raises(error, match=match):
        TextClassifier(strategy="scratch-tfidf", progress=False, **kwargs).fit(texts, labels, **fit_kwargs)


def test_tasks_and_strategies_it_cannot_serve_are_refused(labelled, tiny_backbone):
    texts, labels, pool = labelled
    with pytest.raises(ConfigError, match="single-label classification"):
        TextClassifier(strategy="scratch-tfidf", task="regression", self_train=True, progress=False).fit(
            texts, list(range(len(texts))), X_unlabeled=pool)
    with pytest.raises(ConfigError, match="validation split"):  # 16 rows: finetune holds none out
        TextClassifier(backbone=tiny_backbone, strategy="finetune", self_train=True, progress=False).fit(
            texts, labels, X_unlabeled=pool)
    with pytest.raises(ConfigError, match="weighted rows"):
        TextClassifier(backbone=tiny_backbone, strategy="zero-shot", self_train=True, progress=False).fit(
            texts, labels, X_unlabeled=pool)
    firsts = [labels.index(c) for c in sorted(set(labels))]
    one_each = [texts[i] for i in firsts], [labels[i] for i in firsts]
    with pytest.raises(DataError, match="at least 2 labelled rows"):
        TextClassifier(strategy="scratch-tfidf", self_train=True, progress=False).fit(*one_each, X_unlabeled=pool)
    with pytest.raises(DataError, match="unlabelled texts"):  # every pool text is a labelled one
        TextClassifier(strategy="scratch-tfidf", self_train=True, progress=False).fit(texts, labels, X_unlabeled=texts)
