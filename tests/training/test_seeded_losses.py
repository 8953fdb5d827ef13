"""Same numbers: seeded runs of every classification-side training loop give the losses they gave before
the loops shared `training/step.py` (values recorded on main before the change)."""

from __future__ import annotations

import numpy as np
import pytest

from headstart.seeding import set_seed
from headstart.strategies import Target

from .seeded import check, parameter_sum, record_losses, seeded_model

TEXTS = ["good film", "bad film", "great acting", "awful plot", "a fine day", "a poor show"] * 4
LABELS = np.array([1, 0, 1, 0, 1, 0] * 4)
TARGET = Target(TEXTS, LABELS, "classification", ["neg", "pos"])
VALID = Target(["fine", "poor", "great", "bad"], np.array([1, 0, 1, 0]), "classification", ["neg", "pos"])
LINES = [f"{t} number {i}" for i, t in enumerate(TEXTS * 2)]


@pytest.fixture(scope="module")
def tiny_backbone(tmp_path_factory) -> str:
    """A 2-layer, 32-dim random BERT over a fixed vocabulary (same ids in every run)."""
    from transformers import BertConfig, BertModel

    def build(tok):
        return BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                    intermediate_size=64, max_position_embeddings=64))

    words = sorted({w for line in LINES + VALID.texts for w in line.split()})
    return seeded_model(tmp_path_factory.mktemp("seeded-bert"), words, build)

def test_classifier_loop_with_penalty_layerwise_groups_and_early_stopping(monkeypatch, tiny_backbone):
    from headstart import TextClassifier

    def run():
        clf = TextClassifier(backbone=tiny_backbone, strategy="finetune", epochs=3, batch_size=8, lr=1e-3,
                             l2sp=0.01, lr_decay=0.8, max_length=16, progress=False, seed=0)
        return clf.fit(TEXTS, [TARGET.classes[i] for i in LABELS], X_valid=VALID.texts,
                       y_valid=[VALID.classes[i] for i in VALID.y])

    losses, clf = record_losses(monkeypatch, run)
    history = [[h["step"], h["valid_score"], h["train_loss"]] for h in clf.fit_report_.history]
    check("finetune", {"losses": losses, "history": history,
                       "proba": clf.predict_proba(VALID.texts).ravel().tolist()})


def test_classifier_loop_with_callbacks(monkeypatch, tiny_backbone):
    from headstart import TextClassifier

    def run():
        clf = TextClassifier(backbone=tiny_backbone, strategy="gradual", epochs=3, batch_size=8, lr=1e-3,
                             max_length=16, progress=False, seed=0, unfreeze_every=1)
        return clf.fit(TEXTS, [TARGET.classes[i] for i in LABELS])

    losses, clf = record_losses(monkeypatch, run)
    check("gradual", {"losses": losses, "proba": clf.predict_proba(VALID.texts).ravel().tolist()})


def test_lr_range_test(monkeypatch, tiny_backbone):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from headstart.training.lr_find import lr_range_test

    set_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_backbone, num_labels=2)
    losses, result = record_losses(monkeypatch, lambda: lr_range_test(
        model, AutoTokenizer.from_pretrained(tiny_backbone), TARGET, start_lr=1e-4, end_lr=1e-1, steps=8,
        batch_size=8, max_length=16))
    check("lr_find", {"losses": losses, "curve": result.losses, "suggested": result.suggested_lr,
                      "weights": parameter_sum(model)})
    factor = (1e-1 / 1e-4) ** (1 / 7)
    assert result.lrs == [1e-4 * factor ** step for step in range(8)]  # exactly the rates set by hand before


def test_masked_lm_pretraining_with_head_warmup(monkeypatch, tiny_backbone, tmp_path):
    from headstart import resolve_backbone
    from headstart.training.pretrain import PretrainConfig, continue_pretraining

    config = PretrainConfig(max_steps=6, batch_size=8, head_warmup_steps=3, lr=1e-3, device="cpu", max_length=16)
    losses, report = record_losses(monkeypatch, lambda: continue_pretraining(
        resolve_backbone(tiny_backbone), LINES, tmp_path / "mlm", config, progress=False))
    check("mlm", {"losses": losses, "steps": report.steps, "before": report.before["loss"],
                  "after": report.after["loss"]})


def test_simcse_pretraining(monkeypatch, tiny_backbone, tmp_path):
    from headstart import resolve_backbone
    from headstart.training.pretrain import PretrainConfig, continue_pretraining

    config = PretrainConfig(objective="simcse", max_steps=5, batch_size=8, lr=1e-3, device="cpu", max_length=16)
    losses, report = record_losses(monkeypatch, lambda: continue_pretraining(
        resolve_backbone(tiny_backbone), LINES, tmp_path / "simcse", config, progress=False))
    check("simcse", {"losses": losses, "steps": report.steps, "before": report.before["loss"],
                     "after": report.after["loss"]})


def test_contrastive(monkeypatch, tiny_backbone):
    from headstart import resolve_backbone
    from headstart.strategies.contrastive import Contrastive, ContrastiveConfig

    set_seed(0)
    strategy = Contrastive()
    config = ContrastiveConfig(triplets_per_example=3, batch_size=8, lr=1e-3, max_length=16, device="cpu")
    losses, report = record_losses(monkeypatch, lambda: strategy.fit(resolve_backbone(tiny_backbone), TARGET, None,
                                                                     config, seed=0))
    check("contrastive", {"losses": losses, "history": [[h["step"], h["loss"]] for h in report.history],
                          "proba": strategy.predict_proba(VALID.texts).ravel().tolist()})
