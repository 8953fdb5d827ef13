"""Small numeric helpers on numpy arrays shared across layers (strategies, calibration)."""

from __future__ import annotations

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of scores (n, k), stable for large values (the row maximum is subtracted first)."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
