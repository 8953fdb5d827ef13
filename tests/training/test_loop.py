"""The training loop's own guarantees."""

import numpy as np

from headstart.config import TrainConfig
from headstart.strategies import Target
from headstart.training.loop import train_classifier
from headstart.training.seqcls import pretrained_classifier


def test_tiny_data_gets_min_steps(tiny_backbone):
    from headstart import resolve_backbone

    texts = ["good film", "bad film", "great", "awful"] * 4
    target = Target(texts, np.array([1, 0, 1, 0] * 4), "classification", ["neg", "pos"])
    clf = pretrained_classifier(resolve_backbone(tiny_backbone), target, 16, "cpu")
    state = train_classifier(clf.model, clf.tokenizer, target, None, TrainConfig(epochs=1, batch_size=32, min_steps=20),
                             seed=0, device="cpu", progress=False)
    assert state.step == state.total_steps == 20
    clf = pretrained_classifier(resolve_backbone(tiny_backbone), target, 16, "cpu")
    state = train_classifier(clf.model, clf.tokenizer, target, None, TrainConfig(epochs=1, batch_size=32, min_steps=0),
                             seed=0, device="cpu", progress=False)
    assert state.step == 1


def test_early_stopping_waits_for_min_steps(tiny_backbone):
    """A tiny validation set that stops improving must not end training before min_steps."""
    from headstart import resolve_backbone

    texts = ["good film", "bad film", "great", "awful"] * 4
    target = Target(texts, np.array([1, 0, 1, 0] * 4), "classification", ["neg", "pos"])
    valid = Target(["fine", "poor"], np.array([1, 0]), "classification", ["neg", "pos"])
    config = dict(epochs=1, batch_size=4, patience=1, lr=0.0)  # lr 0: the score never improves after the first eval
    clf = pretrained_classifier(resolve_backbone(tiny_backbone), target, 16, "cpu")
    state = train_classifier(clf.model, clf.tokenizer, target, valid, TrainConfig(min_steps=12, **config),
                             seed=0, device="cpu", progress=False)
    assert state.stop and state.step == 12  # stops at the first evaluation at or after the floor (epochs of 4 steps)
    clf = pretrained_classifier(resolve_backbone(tiny_backbone), target, 16, "cpu")
    state = train_classifier(clf.model, clf.tokenizer, target, valid, TrainConfig(min_steps=0, **config),
                             seed=0, device="cpu", progress=False)
    assert state.step == 4 and state.total_steps == 4
