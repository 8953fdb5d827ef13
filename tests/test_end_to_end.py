"""A few end-to-end runs with the real default backbone on the shipped SST-2 sample."""

from __future__ import annotations

import pytest

from headstart import TextClassifier
from headstart.cli import main

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def sample(demo_frames):
    train, test = demo_frames
    train = train.iloc[:600]
    return train.text.tolist(), train.label.tolist(), test.text.tolist()[:300], test.label.tolist()[:300]


def test_transfer_beats_scratch_on_real_data(sample):
    X, y, Xt, yt = sample
    tfidf = TextClassifier(strategy="scratch-tfidf").fit(X, y).score(Xt, yt)
    probe = TextClassifier(strategy="probe", progress=False).fit(X, y).score(Xt, yt)
    finetune = TextClassifier(strategy="finetune", epochs=2, min_steps=0, max_length=64, progress=False).fit(X, y).score(Xt, yt)
    assert probe > tfidf + 0.03, (probe, tfidf)
    assert finetune > tfidf + 0.03, (finetune, tfidf)


def test_probe_saved_model_loads_with_transformers_alone(sample, tmp_path):
    X, y, Xt, _ = sample
    clf = TextClassifier(strategy="probe", progress=False).fit(X[:100], y[:100])
    clf.save(tmp_path / "m")
    from transformers import AutoModel

    assert AutoModel.from_pretrained(tmp_path / "m").config.hidden_size == 384
    assert TextClassifier.load(tmp_path / "m").predict(Xt[:5]) == clf.predict(Xt[:5])


def test_demo_command_runs_quickly(capsys):
    assert main(["demo", "--strategies", "scratch-tfidf,probe", "--train-rows", "200", "--few-per-class", "8"]) == 0
    out = capsys.readouterr().out
    assert "probe" in out and "vs_scratch_tfidf" in out
    # issue 17: the gain of transfer over training from scratch is stated as a number a user can check
    claims = [line for line in out.splitlines() if "paired by sentence" in line]
    assert len(claims) == 2, out  # all 200 labels, and 8 per class
    assert claims[0].startswith("All 200 labels: probe") and "600 held-out test sentences" in claims[0]
    assert claims[1].startswith("8 labels per class: probe") and "same 16 sentences" in claims[1]
    assert "Check it yourself: headstart demo -o runs/demo, then headstart evaluate runs/demo/<strategy>" in out


def test_demo_paired_gain_is_the_mean_difference_with_its_interval():
    import numpy as np

    from headstart.cli.demo import Fitted, paired_gain

    a = Fitted({}, np.array([1, 1, 1, 0] * 50, dtype=float))
    b = Fitted({}, np.array([1, 0, 0, 0] * 50, dtype=float))
    gain, low, high = paired_gain(a, b)
    diff = np.array([0, 1, 1, 0] * 50, dtype=float)
    half = 1.96 * diff.std(ddof=1) / np.sqrt(200) * 100
    assert gain == pytest.approx(50.0) and low == pytest.approx(50.0 - half) and high == pytest.approx(50.0 + half)
