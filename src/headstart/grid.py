"""The comparison grid runner, a floor above the estimator: one `TextClassifier` per cell, then the
recommended strategy once more (`fit_final`). `evaluation.compare` plans, keys and analyses cells below it.

The final fit uses the grid's first-seed sample, a stratified part held out to fit the softmax temperature,
so the report can show its confusion matrix, per-class scores and calibration; the calibrated model goes to
`<output>/model` (temperature in its headstart.json) and its test results to `final.json`.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .classifier import TextClassifier
from .config import build_config
from .data.examples import Examples
from .data.split import sample_per_class, stratified_split
from .errors import ConfigError, DataError, expected
from .evaluation.calibration import calibration_summary
from .evaluation.compare import (FINAL_JSON, Cell, CompareSpec, analyse, base_strategy,
                                 cell_key, cell_options, plan, predicted_seconds, resolve_strategies, run_cells,
                                 self_train_options, setup_hash, strategy_options, training_work, write_results)
from .generation.compare import run_generation_comparison
from .generation.data import Pairs
from .io import read_json, write_json
from .strategies import get_strategy
from .tasks import label_task


def without_cross_validation(strategy: str, options: dict) -> dict:
    """`options` plus cv_folds=0 for a strategy that cross-validates, unless the options set it: for callers
    that score every fit on data of their own (compare cells, audit folds), where the estimate is wasted work."""
    fields = {f.name for f in dataclasses.fields(get_strategy(strategy).config_cls)}
    return {"cv_folds": 0, **options} if "cv_folds" in fields else dict(options)


def run_cell(cell: Cell, train: Examples, test: Examples, spec: CompareSpec, metric: str,
             clock: Callable[[], float]) -> dict[str, Any]:
    """Fit one strategy on one seeded per-class sample and score it on the test set."""
    sample = sample_per_class(train, None if cell.size == "all" else int(cell.size), cell.seed)
    start = clock()
    base = base_strategy(cell.strategy)
    options = without_cross_validation(base, strategy_options(spec, cell.strategy))  # scored on test
    pool = unlabelled_pool(spec, train, sample) if cell.strategy != base else None
    clf = TextClassifier(backbone=spec.backbone, strategy=base, task=train.task, seed=cell.seed,
                         progress=False, **options, **(self_train_options(spec, cell.strategy) if pool else {}))
    clf.fit(sample, X_unlabeled=pool or None)
    fit_seconds = clock() - start
    headline = {k: v for k, v in clf.evaluate(test).items() if not isinstance(v, dict)}  # no tables
    n_classes = max(len(sample.classes()), 1)
    return {"key": cell.key, "strategy": cell.strategy, "size": cell.size, "seed": cell.seed, "setup": cell.setup,
            "n_train": len(sample), "sample": sample.fingerprint(), "n_per_class": len(sample) / n_classes,
            "transfer": get_strategy(base).pretrained,
            "metrics": headline, "score": float(headline[metric]), "fit_seconds": float(fit_seconds),
            "trainable_parameters": int(clf.fit_report_.trainable_parameters), "seconds": float(clock() - start),
            **({"self_training": _self_training_summary(clf.self_training_, pool)} if pool is not None else {})}


def unlabelled_pool(spec: CompareSpec, train: Examples, sample: Examples) -> list[str]:
    """The pool of a +self-train cell: `spec.unlabeled`, or the training rows not sampled into the cell
    (empty for size 'all': that cell then fits without self-training and says so)."""
    if spec.unlabeled is not None:
        return list(spec.unlabeled)
    taken = set(sample.texts)
    return [t for t in train.texts if t not in taken]


def _self_training_summary(record: dict[str, Any] | None, pool: list[str]) -> dict[str, Any]:
    if record is None:
        return {"ran": False, "note": "no unlabelled rows left for this cell: fitted without self-training"}
    encoder = record.get("encoder")  # the encoder step (self_train_encoder), when it ran
    return {"ran": True, "pool_rows": record["pool_rows"], "kept_rounds": record["kept_rounds"],
            "rounds": len(record["rounds"]), "seconds": record["seconds"], "check": record["check"],
            **({"encoder": {"kept": encoder["kept"], "check": encoder["check"]}} if encoder else {})}


def run_comparison(train: Examples | Pairs, test: Examples | Pairs, spec: CompareSpec, output: str | Path,
                   log: Callable[[str], None] = print, clock: Callable[[], float] = time.monotonic,
                   on_cell: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the grid in `output`, write results.json / results.csv and return the results.
    Pairs (translate, summarize: `spec.task`) run the generation grid (`generation.compare`)."""
    if isinstance(train, Pairs):
        return run_generation_comparison(train, test, spec, output, log, clock, on_cell)
    if test.labels is None:
        raise DataError(expected("a labelled test set", f"no labels in {test.source}", "Give --test a labelled file."))
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    strategies = resolve_strategies(spec.strategies, train.task)
    task = label_task(train.task)
    metric = task.primary_metric if spec.metric == "auto" else spec.metric
    if metric not in task.metrics:
        raise ConfigError(expected(f"a {task.name} metric among {', '.join(task.metrics)}",
                                   repr(metric), "Fix --metric."))
    cells = plan(train, test, spec, strategies)
    log(f"grid: {len(strategies)} strategies x {len(spec.sizes)} sizes x {spec.seeds} seeds")

    def guess(cell: Cell, finished: list[dict[str, Any]]) -> float | None:
        config = build_config(get_strategy(base_strategy(cell.strategy)).config_cls,
                              strategy_options(spec, cell.strategy))
        return predicted_seconds(cell, finished, lambda rows: training_work(config, rows))

    finished, skipped = run_cells(
        cells, folder, spec.budget_s, lambda cell: run_cell(cell, train, test, spec, metric, clock), guess,
        lambda r: f"{metric}={r['score']:.4f} fit {r['fit_seconds']:.1f}s, {r['trainable_parameters']:,} trainable",
        log, clock, on_cell)
    results = analyse(finished, train, test, spec, strategies, metric, skipped)
    if spec.final and results["recommendation"] and task.single_label:
        results["final"] = fit_final(train, test, spec, results["recommendation"], folder, log)
    write_results(folder, results)
    return results


CALIBRATION_FRACTION = 0.2
MISCLASSIFIED_PER_CLASS = 3


def fit_final(train: Examples, test: Examples, spec: Any, recommendation: dict[str, Any], folder: Path,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fit, calibrate, save and score the recommended strategy; reuse an earlier identical result."""
    strategy, size, seed = recommendation["strategy"], recommendation["size"], 0
    options = strategy_options(spec, strategy)
    key = cell_key(strategy, size, seed, setup_hash(train, test, spec.backbone, strategy,
                                                    cell_options(spec, strategy)))
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
    base = base_strategy(strategy)
    pool = unlabelled_pool(spec, train, sample) if base != strategy else None
    clf = TextClassifier(backbone=spec.backbone, strategy=base, task=train.task, seed=seed, progress=False,
                         **options, **(self_train_options(spec, strategy) if pool else {}))
    clf.fit(fit_part, X_valid=calib_part, X_unlabeled=pool or None)  # self-training checked on calib_part
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
