"""The training loop's own guarantees."""

import numpy as np

from headstart.config import TrainConfig
from headstart.targets import Target
from headstart.training.loop import describe_run, effective_epochs, train_classifier
from headstart.training.seqcls import pretrained_classifier

TEXTS = ["good film", "bad film", "great", "awful"] * 4
TARGET = Target(TEXTS, np.array([1, 0, 1, 0] * 4), "classification", ["neg", "pos"])
VALID = Target(["fine", "poor"], np.array([1, 0]), "classification", ["neg", "pos"])


def _train(tiny_backbone, config: TrainConfig, valid=None):
    from headstart import resolve_backbone

    clf = pretrained_classifier(resolve_backbone(tiny_backbone), TARGET, 16, "cpu")
    return train_classifier(clf.model, clf.tokenizer, TARGET, valid, config, seed=0, device="cpu", progress=False)


def test_tiny_data_gets_min_steps_when_epochs_are_unset(tiny_backbone):
    state = _train(tiny_backbone, TrainConfig(batch_size=32, min_steps=20))
    assert state.step == state.total_steps == 20
    assert describe_run(state, TrainConfig(batch_size=32, min_steps=20)) == [
        "ran 20 epochs (20 steps): epochs unset: stretched from 3 to reach min_steps=20; set --epochs to run exactly N"]
    state = _train(tiny_backbone, TrainConfig(batch_size=32, min_steps=0))
    assert state.step == 3  # the automatic 3 epochs, one step each


def test_explicit_epochs_are_honoured_exactly(tiny_backbone):
    """Issue 17: `--epochs 1` ran 12 epochs because min_steps silently won; as in transformers.Trainer, a set
    epoch count is what runs."""
    config = TrainConfig(epochs=1, batch_size=32, min_steps=20)
    state = _train(tiny_backbone, config)
    assert state.step == state.total_steps == 1
    assert describe_run(state, config) == ["ran 1 epoch (1 step): as set by epochs=1"]
    assert effective_epochs(16, 1, 32, 100) == 1 and effective_epochs(16, None, 32, 100) == 100


def test_early_stopping_waits_for_min_steps(tiny_backbone):
    """A tiny validation set that stops improving must not end training before min_steps."""
    # lr 1e-12: the weights (and so the score) never change after the first evaluation
    config = dict(batch_size=4, patience=1, lr=1e-12)
    state = _train(tiny_backbone, TrainConfig(min_steps=8, **config), VALID)
    assert state.stop and state.step == 8 and state.total_steps == 12  # auto 3 epochs of 4 steps
    notes = describe_run(state, TrainConfig(min_steps=8, **config))
    assert notes[-1] == "stopped early after 8 steps of 12 (epoch 2): no validation gain in 1 evaluations (patience=1)"
    state = _train(tiny_backbone, TrainConfig(min_steps=0, epochs=1, **config), VALID)
    assert state.step == 4 and state.total_steps == 4


def test_stopping_at_the_last_step_is_not_reported_as_early(tiny_backbone):
    """Issue 17: a run that ended on its last step printed 'stopped early at step 108 of 108'."""
    from headstart import TextClassifier

    clf = TextClassifier(backbone=tiny_backbone, strategy="finetune", epochs=2, batch_size=4, patience=1, lr=1e-12,
                         min_steps=0, max_length=16, progress=False)
    clf.fit(TEXTS, [["neg", "pos"][i] for i in TARGET.y], X_valid=["fine", "poor"], y_valid=["pos", "neg"])
    assert clf.fit_report_.notes[0] == "ran 2 epochs (8 steps): as set by epochs=2"
    assert not any("early" in note for note in clf.fit_report_.notes)
