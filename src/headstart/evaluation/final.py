"""The recommended model, fitted once more after the grid so the report can show its confusion
matrix, per-class scores and calibration: the same per-class sample as the grid's first seed,
with a stratified part held out to fit the softmax temperature. The calibrated model is saved in
`<output>/model` (temperature in its headstart.json) and its test results in `final.json`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..data.examples import Examples
from ..data.split import sample_per_class, stratified_split
from ..io import read_json, write_json
from .calibration import calibration_summary

CALIBRATION_FRACTION = 0.2
MISCLASSIFIED_PER_CLASS = 3


def fit_final(train: Examples, test: Examples, spec: Any, recommendation: dict[str, Any], folder: Path,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fit, calibrate, save and score the recommended strategy; reuse an earlier identical result."""
    from ..classifier import TextClassifier
    from .compare import FINAL_JSON, setup_hash, strategy_options

    strategy, size, seed = recommendation["strategy"], recommendation["size"], 0
    options = strategy_options(spec, strategy)
    key = f"{strategy}|{size}|{seed}|{setup_hash(train, test, spec.backbone, strategy, options)}"
    path = folder / FINAL_JSON
    if path.exists() and (folder / "model").exists():
        previous = read_json(path)
        if previous.get("key") == key and "misclassified" in previous:  # older results lack the examples
            log(f"final model: reusing {folder / 'model'} ({strategy}@{size})")
            return previous
    sample = sample_per_class(train, None if size == "all" else int(size), seed)
    fit_part, calib_part = stratified_split(sample, CALIBRATION_FRACTION, seed)
    if len(calib_part) < 2:  # too few rows to hold any out: calibrate on the training rows (noted below)
        fit_part, calib_part = sample, sample
    clf = TextClassifier(backbone=spec.backbone, strategy=strategy, task=train.task, seed=seed, progress=False,
                         **options)
    clf.fit(fit_part, X_valid=calib_part)
    raw = clf.predict_proba(test.texts)
    clf.calibrate(calib_part)
    metrics = clf.evaluate(test)
    y_test = np.array([clf.classes_.index(label) for label in (test.labels or [])])
    calibration = calibration_summary(raw, y_test, clf.temperature_)
    clf.save(folder / "model")
    confidence = calibration["reliability_after"]["mean_confidence"]
    calibrated = raw ** (1.0 / clf.temperature_)  # softmax(log p / T), without a second pass over the test set
    calibrated /= calibrated.sum(axis=1, keepdims=True)
    result = {"key": key, "strategy": strategy, "size": size, "seed": seed, "n_fit": len(fit_part),
              "n_calibration": len(calib_part), "calibrated_on_training_rows": calib_part is sample,
              "model": str(folder / "model"), "metrics": metrics, "calibration": calibration,
              "mean_confidence": confidence, "classes": clf.classes_,
              "misclassified": misclassified(test.texts, y_test, calibrated, clf.classes_)}
    write_json(path, result)
    log(f"final model: {strategy}@{size} saved to {folder / 'model'}; temperature {clf.temperature_:.3f}, "
        f"test ECE {calibration['ece_before']:.4f} -> {calibration['ece_after']:.4f}")
    return result


def misclassified(texts: list[str], y: np.ndarray, proba: np.ndarray, classes: list[Any],
                  per_class: int = MISCLASSIFIED_PER_CLASS) -> list[dict[str, Any]]:
    """Up to `per_class` wrong test predictions per true class, the most confident first (the errors most
    worth reading: likely label noise, or what the model has not learnt)."""
    pred = proba.argmax(axis=1)
    rows = []
    for k, name in enumerate(classes):
        wrong = np.flatnonzero((y == k) & (pred != k))
        for i in wrong[np.argsort(-proba[wrong, pred[wrong]], kind="stable")][:per_class]:
            rows.append({"true": name, "predicted": classes[pred[i]], "confidence": float(proba[i, pred[i]]),
                         "text": texts[i]})
    return rows
