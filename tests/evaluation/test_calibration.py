"""ECE and temperature scaling on synthetic data with known answers; the temperature travels with
a saved model; `predict --abstain-below`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from headstart import TextClassifier
from headstart.cli import main
from headstart.evaluation.calibration import (apply_temperature, expected_calibration_error, fit_temperature,
                                              reliability)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _synthetic(n=20000, k=4, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, size=(n, k))
    true_p = _softmax(logits)
    y = np.array([rng.choice(k, p=p) for p in true_p])
    return logits, true_p, y


def test_ece_is_small_for_calibrated_and_large_for_overconfident_probabilities():
    logits, true_p, y = _synthetic()
    assert expected_calibration_error(true_p, y) < 0.02
    assert expected_calibration_error(_softmax(3 * logits), y) > 0.1


def test_reliability_bins_count_every_row_once():
    logits, true_p, y = _synthetic(n=3000)
    diagram = reliability(true_p, y, n_bins=10)
    assert sum(b["count"] for b in diagram["bins"]) == 3000 and len(diagram["bins"]) == 10
    ones = np.eye(3)[[0, 1, 2, 0]]
    assert reliability(ones, np.array([0, 1, 2, 1]))["bins"][-1]["count"] == 4  # confidence 1.0 lands in the last bin


def test_temperature_scaling_recovers_the_overconfidence_factor():
    logits, _, y = _synthetic()
    over = _softmax(3 * logits)
    t = fit_temperature(over, y)
    assert t == pytest.approx(3.0, rel=0.1)
    fixed = apply_temperature(over, t)
    assert expected_calibration_error(fixed, y) < 0.02
    np.testing.assert_array_equal(fixed.argmax(1), over.argmax(1))
    np.testing.assert_allclose(fixed.sum(1), 1.0)


def test_temperature_is_saved_with_the_model_and_applied_after_loading(small_data, tmp_path):
    train, test = small_data
    clf = TextClassifier(strategy="scratch-tfidf", progress=False).fit(train.text[:150].tolist(),
                                                                       train.label[:150].tolist())
    raw = clf.predict_proba(test.text.tolist())
    clf.calibrate(train.text[150:].tolist(), train.label[150:].tolist())
    assert clf.temperature_ != 1.0
    calibrated = clf.predict_proba(test.text.tolist())
    assert not np.allclose(raw, calibrated)
    np.testing.assert_allclose(calibrated, apply_temperature(raw, clf.temperature_), atol=1e-6)
    clf.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.temperature_ == pytest.approx(clf.temperature_)
    np.testing.assert_allclose(loaded.predict_proba(test.text.tolist()), calibrated, atol=1e-6)
    assert loaded.predict(test.text.tolist()) == clf.predict(test.text.tolist())

    threshold = float(np.median(calibrated.max(axis=1)))  # about half the rows abstain
    test[["text"]].to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "pred.csv"
    assert main(["predict", str(tmp_path / "m"), str(tmp_path / "new.csv"), "-o", str(out), "--quiet",
                 "--abstain-below", str(threshold), "--abstain-label", "REVIEW"]) == 0
    frame = pd.read_csv(out)
    top = frame[["prob_negative", "prob_positive"]].max(axis=1)
    assert ((frame.prediction == "REVIEW") == (top < threshold - 1e-6)).sum() >= 98  # csv rounds to 6 places
    assert (frame.prediction == "REVIEW").any() and (frame.prediction != "REVIEW").any()
