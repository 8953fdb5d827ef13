"""Out-of-fold scores: a held-out estimate for strategies whose fit is cheap once features exist.

Strategies that take no validation split (probe, scratch-tfidf, prototype) fit their head k more times,
each time without one fold, and score that fold. `TextClassifier` turns the scores into `cv_*` metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..tasks import label_task

CV_HELP = ("when no validation set is given, estimate held-out scores by k-fold cross-validation on the "
           "training rows (k more fits of the head; fewer folds when a class is smaller than k; 0: off)")


@dataclass
class CrossValidation:
    """Scores of every training row from a model fitted without its fold (rows in training order)."""

    scores: np.ndarray
    folds: int
    method: str


def fold_splits(y: np.ndarray, task: str, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs: stratified for classification, so every class is in every training part;
    [] when fewer than two folds are possible (a class with one row, or fewer than two rows)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    stratified = label_task(task).single_label
    if stratified:
        present = np.bincount(y)[np.bincount(y) > 0] if len(y) else np.zeros(0, dtype=int)
        k = min(folds, int(present.min())) if len(present) else 0
    else:
        k = min(folds, len(y))
    if k < 2:
        return []
    splitter = (StratifiedKFold if stratified else KFold)(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y if stratified else None))


def out_of_fold(fit_score: Callable[[np.ndarray, np.ndarray], np.ndarray], y: np.ndarray, task: str, folds: int,
                seed: int, method: str) -> CrossValidation | None:
    """Call `fit_score(train_index, test_index)` for each fold (it fits on the first and returns scores of the
    second) and gather the scores in row order; None when the data cannot be split into two folds."""
    splits = fold_splits(y, task, folds, seed)
    if not splits:
        return None
    scores: np.ndarray | None = None
    for train_index, test_index in splits:
        part = np.asarray(fit_score(train_index, test_index))
        if scores is None:
            scores = np.zeros((len(y), *part.shape[1:]), dtype=np.float32)
        scores[test_index] = part
    assert scores is not None
    return CrossValidation(scores, len(splits), method)

