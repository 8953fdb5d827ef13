"""Calibration of class probabilities: expected calibration error, reliability diagram data and
temperature scaling (Guo et al., 2017) fitted on held-out data.

Temperature scaling works on log-probabilities, so it applies to every strategy, whether it
exposes logits or only probabilities: p_T = softmax(log p / T). T > 1 softens over-confident
models, T < 1 sharpens under-confident ones; the arg-max (and so accuracy) never changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DataError, expected
from ..numeric import softmax

_EPS = 1e-12


def _check(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs, y = np.asarray(probs, dtype=np.float64), np.asarray(y, dtype=np.int64)
    if probs.ndim != 2 or len(probs) != len(y) or len(y) == 0:
        raise DataError(expected("probabilities (n, k) and n integer labels", f"shapes {probs.shape} and {y.shape}",
                                 "Pass predict_proba output and the encoded labels of the same rows."))
    return probs, y


def reliability(probs: np.ndarray, y: np.ndarray, n_bins: int = 10) -> dict[str, Any]:
    """Reliability diagram data: per confidence bin, mean confidence, accuracy and count.

    Bins are equal-width over [0, 1] on the top-class confidence; empty bins are kept with count 0
    so plots and tables line up.
    """
    probs, y = _check(probs, y)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # right-closed bins, the first one also takes 0: a confidence of exactly 1.0 lands in the last bin
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        mask = which == b
        n = int(mask.sum())
        bins.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": n,
                     "confidence": float(confidence[mask].mean()) if n else None,
                     "accuracy": float(correct[mask].mean()) if n else None})
    ece = float(sum(b["count"] / len(y) * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"]))
    return {"bins": bins, "n": int(len(y)), "ece": ece,
            "accuracy": float(correct.mean()), "mean_confidence": float(confidence.mean())}


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """ECE: the count-weighted mean |accuracy - confidence| over equal-width confidence bins."""
    return reliability(probs, y, n_bins)["ece"]


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): rescale probabilities by a temperature, rows still sum to 1."""
    return softmax(np.log(np.clip(np.asarray(probs, dtype=np.float64), _EPS, 1.0)) / float(temperature))


def negative_log_likelihood(probs: np.ndarray, y: np.ndarray) -> float:
    probs, y = _check(probs, y)
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], _EPS, 1.0))))


def fit_temperature(probs: np.ndarray, y: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature minimising the NLL of held-out labels `y` under softmax(log p / T).

    Searched on log T (bounded, scipy's minimize_scalar): the NLL is smooth and unimodal in log T.
    """
    from scipy.optimize import minimize_scalar

    probs, y = _check(probs, y)
    if y.max() >= probs.shape[1] or y.min() < 0:
        raise DataError(expected(f"labels in 0..{probs.shape[1] - 1}", f"labels {y.min()}..{y.max()}",
                                 "Encode labels with the model's classes."))
    logp = np.log(np.clip(probs, _EPS, 1.0))

    def nll(log_t: float) -> float:
        z = logp / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(log_norm - z[np.arange(len(y)), y]))

    result = minimize_scalar(nll, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded",
                             options={"xatol": 1e-4})
    return float(np.exp(result.x))


def calibration_summary(probs: np.ndarray, y: np.ndarray, temperature: float = 1.0,
                        n_bins: int = 10) -> dict[str, Any]:
    """Before/after temperature scaling on one data set: ECE, NLL and both reliability diagrams."""
    scaled = apply_temperature(probs, temperature)
    before, after = reliability(probs, y, n_bins), reliability(scaled, y, n_bins)
    return {"temperature": float(temperature), "ece_before": before["ece"], "ece_after": after["ece"],
            "nll_before": negative_log_likelihood(probs, y), "nll_after": negative_log_likelihood(scaled, y),
            "reliability_before": before, "reliability_after": after}


def abstain_mask(probs: np.ndarray, threshold: float) -> np.ndarray:
    """True where the top-class probability is below `threshold` (those rows abstain)."""
    return np.asarray(probs).max(axis=1) < threshold
