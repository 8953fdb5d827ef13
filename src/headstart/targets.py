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
    """

    texts: list[str]
    y: np.ndarray
    task: str
    classes: list[str]

    def subset(self, index: Sequence[int] | np.ndarray) -> "Target":
        idx = np.asarray(index, dtype=int)
        return Target([self.texts[i] for i in idx], self.y[idx], self.task, self.classes)
