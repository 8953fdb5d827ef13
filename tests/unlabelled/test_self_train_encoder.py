"""Self-training's encoder step (`self_train_encoder`): what it is fitted on, how it is judged, and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from headstart import TextClassifier
from headstart.errors import ConfigError
from headstart.heads import fit_head
from headstart.strategies.registry import Cost
from headstart.targets import Target
from headstart.tasks import CLASSIFICATION
from headstart.unlabelled.self_train import SelfTrainConfig, self_train

RETUNE = {"max_triplets": 7}  # what the fake's retune_config returns; refit must receive it


def _point(text: str) -> np.ndarray:
    """Texts 'a<i>' / 'b<i>' (and 'pa<i>', 'va<i>': pool, validation) sit near (1, 0) / (0, 1)."""
    c = text.lstrip("pv")[0]
    jitter = np.random.default_rng(int(text.lstrip("pvab"))).normal(0, 0.3, 2)
    return (np.array([1.0, 0.0]) if c == "a" else np.array([0.0, 1.0])) + jitter


class _Tunable:
    """A strategy with a head over embeddings and an encoder the encoder step re-tunes. A re-tuned one
    (`quality` set) is right on validation texts with that probability."""

    name, cost, row_weights, needs_examples = "tunable", Cost.GRADIENT, True, True

    def __init__(self, quality: float | None = None) -> None:
        self.quality, self.head_ = quality, None

    def embeddings(self, texts):
        return np.array([_point(t) for t in texts])

    def refit_head(self, x, target, seed):
        self.head_ = fit_head(x, target.y, target.task, "logistic", 1.0, seed=seed, sample_weight=target.weight)

    def head_scores(self, x):
        return self.head_.scores(x)

    def retune_config(self):
        return RETUNE

    def predict_proba(self, texts):
        if self.quality is None:
            return self.head_scores(self.embeddings(texts))
        right = [self.quality, 1 - self.quality]
        return np.array([right if t.lstrip("pv")[0] == "a" else right[::-1] for t in texts])


def _data(with_valid: bool):
    texts = [f"a{i}" for i in range(6)] + [f"b{i}" for i in range(6)]
    train = Target(texts, np.repeat([0, 1], 6), CLASSIFICATION.name, ["a", "b"])
    valid = Target(["va100", "vb101", "va102", "vb103"], np.array([0, 1, 0, 1]), CLASSIFICATION.name,
                   ["a", "b"]) if with_valid else None
    pool = [f"pa{i}" for i in range(200, 230)] + [f"pb{i}" for i in range(300, 330)]
    base = _Tunable()
    base.refit_head(base.embeddings(texts), train, 0)
    return base, train, valid, pool


@pytest.mark.parametrize("method", ["rounds", "cluster"])
@pytest.mark.parametrize("quality, with_valid, kept", [(0.999, True, True), (0.2, True, False), (0.2, False, True)])
def test_the_encoder_step_refits_on_the_first_rounds_rows_and_is_judged_on_the_validation_split(
        method, quality, with_valid, kept):
    base, train, valid, pool = _data(with_valid)
    calls = []

    def refit(target: Target, config=None):
        calls.append((target, config))
        return _Tunable(quality)

    config = SelfTrainConfig(self_train=True, self_train_method=method, self_train_rounds=3,
                             self_train_encoder=True, self_train_folds=3)
    model, report, cv = self_train(base, train, valid, pool, config, 0, refit)
    assert len(calls) == 1, "one whole refit: the rounds refit only the head"
    target, given = calls[0]
    assert given is RETUNE
    first = report.rounds[0]
    assert len(target.y) == len(train.y) + first.pseudo_rows
    assert target.texts[:len(train.y)] == train.texts and all(t.startswith("p") for t in target.texts[12:])
    assert (target.weights()[:12] == 1).all() and (target.weights()[12:] <= 0.5).all()
    assert np.bincount(target.y[12:], minlength=2).tolist() == list(first.added_per_class.values())
    assert report.encoder is not None and report.encoder.kept == kept
    assert (model.quality == quality) == kept, "the re-tuned model is returned exactly when it is kept"
    summary = "\n".join(report.summary())
    assert "encoder step" in summary and ("kept" if kept else "undone") in summary
    if with_valid:
        assert report.encoder.accuracy == (1.0 if quality > 0.5 else 0.0) and "validation" in report.encoder.check
    else:
        assert report.encoder.accuracy is None and report.encoder.check.startswith("unchecked")
        assert cv is None, "the out-of-fold scores belong to the old encoder's head"
        assert "--valid" in summary


def test_without_the_option_no_whole_refit_runs():
    base, train, valid, pool = _data(True)
    config = SelfTrainConfig(self_train=True, self_train_method="cluster")
    _, report, _ = self_train(base, train, valid, pool, config, 0, lambda *a: pytest.fail("refit called"))
    assert report.encoder is None


def test_a_strategy_without_an_encoder_to_retune_is_refused(tiny_backbone, small_data):
    train, _ = small_data
    part = train.groupby("label").head(8)
    clf = TextClassifier(backbone=tiny_backbone, strategy="probe", progress=False, self_train=True,
                         self_train_encoder=True)
    with pytest.raises(ConfigError, match="self-train-encoder"):
        clf.fit(part.text.tolist(), part.label.tolist(), X_unlabeled=train.text.tolist()[:50])
    assert not hasattr(clf, "strategy_"), "refused before anything was fitted"


def test_contrastive_retunes_its_encoder_with_the_first_fits_triplet_count(tiny_backbone, small_data, tmp_path):
    train, _ = small_data
    part = train.groupby("label").head(8)
    texts, labels = part.text.tolist(), part.label.tolist()
    pool = train.drop(part.index).text.tolist()
    options = dict(strategy="contrastive", backbone=tiny_backbone, progress=False, seed=0,
                   triplets_per_example=4, max_length=32)
    base = TextClassifier(**options).fit(texts, labels)
    first = base.strategy_.triplets_per_epoch_
    assert first == len(texts) * 4
    clf = TextClassifier(**options, self_train=True, self_train_rounds=2, self_train_encoder=True)
    clf.fit(texts, labels, X_unlabeled=pool)
    record = clf.self_training_
    encoder = record["encoder"]
    assert record["method"] == "cluster" and encoder["kept"] and encoder["check"].startswith("unchecked")
    assert encoder["pseudo_rows"] == record["rounds"][0]["pseudo_rows"] > 0
    retuned = clf.strategy_
    assert retuned.config_.max_triplets == first
    rows = len(texts) + encoder["pseudo_rows"]
    assert first < rows and retuned.triplets_per_epoch_ == rows, "one triplet per row: the first fit's budget"
    assert "cv" not in clf.metrics_
    assert any("encoder step" in n for n in clf.fit_report_.notes)
    clf.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.self_training_["encoder"] == encoder
    assert loaded.predict(pool[:10]) == clf.predict(pool[:10])
