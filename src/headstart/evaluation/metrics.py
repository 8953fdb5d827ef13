"""Task metrics, computed with scikit-learn, returned as plain JSON-ready dicts."""

from __future__ import annotations

from typing import Any

import numpy as np


def classification_metrics(y_true: list[str], y_pred: list[str], classes: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class scores and the confusion matrix over the model's `classes`.

    Macro averages run, as in scikit-learn without `labels`, over the classes that occur in these rows
    (true or predicted): a class the model knows but a small split happens not to contain has no defined
    precision or recall, and counting it as 0 would drag macro-F1 down for nothing the model did. Such
    classes are listed in `absent_classes` and their per-class scores are None.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    seen = set(y_true) | set(y_pred)
    present = [c for c in classes if c in seen]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))
        if present else 0.0,
        "n": len(y_true),
        "per_class": {c: _class_scores(p[i], r[i], f[i], s[i], c in seen) for i, c in enumerate(classes)},
        "confusion_matrix": {"labels": classes,
                             "matrix": confusion_matrix(y_true, y_pred, labels=classes).tolist()},
    }
    return _note_absent(metrics, [c for c in classes if c not in seen], len(classes))


def multilabel_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Micro- and macro-F1, subset accuracy and per-class scores of 0/1 indicator matrices.

    Macro-F1 runs over the classes with at least one true or predicted row here (see
    `classification_metrics`); the others are listed in `absent_classes`."""
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    seen = (np.asarray(y_true).sum(axis=0) + np.asarray(y_pred).sum(axis=0)) > 0
    present = [i for i in range(len(classes)) if seen[i]]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    metrics = {
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))
        if present else 0.0,
        "subset_accuracy": float((y_true == y_pred).all(axis=1).mean()),
        "n": int(len(y_true)),
        "per_class": {c: _class_scores(p[i], r[i], f[i], s[i], bool(seen[i])) for i, c in enumerate(classes)},
    }
    return _note_absent(metrics, [c for i, c in enumerate(classes) if not seen[i]], len(classes))


def _class_scores(p: float, r: float, f: float, support: int, seen: bool) -> dict[str, Any]:
    if not seen:  # neither true nor predicted here: the scores are 0/0, not 0
        return {"precision": None, "recall": None, "f1": None, "support": int(support)}
    return {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(support)}


def _note_absent(metrics: dict[str, Any], absent: list[str], n_classes: int) -> dict[str, Any]:
    if absent:
        metrics["absent_classes"] = absent
        metrics["note"] = (f"macro averages over the {n_classes - len(absent)} of {n_classes} classes present in "
                           f"these {metrics['n']} rows; absent (neither true nor predicted): {', '.join(absent)}")
    return metrics


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    constant = np.ptp(y_pred) == 0 or np.ptp(y_true) == 0
    return {
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
        "pearson": 0.0 if constant else float(pearsonr(y_true, y_pred)[0]),
        "spearman": 0.0 if constant else float(spearmanr(y_true, y_pred)[0]),
        "n": int(len(y_true)),
    }

