"""Which pool rows self-training pseudo-labels: class-balanced selection, and label spreading over embeddings."""

from __future__ import annotations

import numpy as np


def select_balanced(proba: np.ndarray, per_class: int | np.ndarray, taken: np.ndarray,
                    min_confidence: float = 0.0) -> np.ndarray:
    """Pool rows to pseudo-label: for every predicted class, the `per_class` most confident rows not `taken`
    yet (and at least `min_confidence`), so a dominant class cannot crowd the others out. `per_class` may give
    each class its own count."""
    predicted, confidence = proba.argmax(1), proba.max(1)
    quota = np.broadcast_to(np.asarray(per_class, dtype=int), (proba.shape[1],))
    chosen = []
    for c in range(proba.shape[1]):
        candidates = np.flatnonzero((predicted == c) & ~taken & (confidence >= min_confidence)
                                    & (proba.sum(1) > 0))
        chosen.append(candidates[np.argsort(-confidence[candidates], kind="stable")][:quota[c]])
    return np.concatenate(chosen).astype(int) if chosen else np.zeros(0, dtype=int)


def spread_labels(x_labelled: np.ndarray, y: np.ndarray, x_pool: np.ndarray, n_classes: int,
                  neighbours: int) -> np.ndarray:
    """Label distributions (pool rows x classes, rows summing to 1, or 0 where no label reached the row) from
    label spreading over a kNN graph of labelled + pool embeddings."""
    from sklearn.semi_supervised import LabelSpreading

    x = np.vstack([x_labelled, x_pool])
    k = max(1, min(neighbours, len(x) - 1))
    model = LabelSpreading(kernel="knn", n_neighbors=k, alpha=0.2, max_iter=100)
    model.fit(x, np.concatenate([y, -np.ones(len(x_pool), dtype=int)]))
    dist = np.zeros((len(x_pool), n_classes))
    dist[:, model.classes_[model.classes_ >= 0]] = model.label_distributions_[len(x_labelled):]
    total = dist.sum(1, keepdims=True)
    return np.divide(dist, total, out=np.zeros_like(dist), where=total > 0)
