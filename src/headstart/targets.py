"""`Target`: encoded training targets, the one shape every strategy and training loop receives.

A bottom module (numpy only), so `training/` and `strategies/` both use it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass
class Target:
    """Training targets, already encoded: what every strategy's `fit` receives.

    y: int class ids shape (n,) for classification, a 0/1 float matrix (n, k) for multilabel,
    floats (n,) for regression.
    weight: optional per-row weights (n,) in (0, 1], e.g. pseudo-labelled rows counting less than real ones
    (`headstart.unlabelled.self_train`); None means every row counts 1. Only strategies that declare
    `row_weights = True` receive weighted targets (`TextClassifier` refuses the others).
    """

    texts: list[str]
    y: np.ndarray
    task: str
    classes: list[str]
    weight: np.ndarray | None = None

    def subset(self, index: Sequence[int] | np.ndarray) -> "Target":
        idx = np.asarray(index, dtype=int)
        weight = None if self.weight is None else self.weight[idx]
        return Target([self.texts[i] for i in idx], self.y[idx], self.task, self.classes, weight)

    def weights(self) -> np.ndarray:
        """The per-row weights, ones when none were given."""
        return np.ones(len(self.texts)) if self.weight is None else np.asarray(self.weight, dtype=float)
