"""Pseudo-labels from class prototypes refined over the pool (self-training method `cluster`).

Each class starts as the mean of its labelled rows' normalised embeddings. Soft k-means over the pool then
moves every prototype toward the pool rows nearest to it (Ren et al., 2018, "Meta-learning for semi-supervised
few-shot classification"), while the labelled rows keep it anchored to its class. Each class also gets a mixing
weight, its share of the pool, estimated in the same EM loop: without it, a rare class (trec's abbreviations,
emotion's surprise) takes the boundary rows of the large classes and drifts toward them. A pool row's
responsibilities (one per class, summing to 1) are its label distribution.

Why here and not a head's own predictions: with 8 labelled rows per class the head's most confident pool rows
are the ones it already separates, so adding them teaches it little (benchmarks/self_training_tuned.py). The
prototypes use where the pool's rows lie, which the labelled rows alone cannot show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Cosine similarity x 20 as the logit: contrastive tunes its encoder with this scale (its `mnr` loss). Over its
# tuned embeddings (sst2, trec, emotion, seed 0, without class shares) 10 was worse on all three and 40 no
# better (benchmarks/self_training_tuned.py).
SIMILARITY_SCALE = 20.0
ITERATIONS = 10
_MIN_SHARE = 1e-4  # a class whose share falls to 0 could never win a row back


def _normalised(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


@dataclass
class RefinedPrototypes:
    """The outcome of `refine_prototypes`: one row per class that has labelled rows (`present`)."""

    present: np.ndarray  # class indices
    vectors: np.ndarray  # unit-length prototypes
    log_share: np.ndarray  # log of each class's share of the pool x the number of classes (0: equal shares)
    responsibilities: np.ndarray  # pool rows x present classes, rows summing to 1

    def logits(self, x: np.ndarray, scale: float = SIMILARITY_SCALE) -> np.ndarray:
        """Class scores of rows `x` (rows x present classes): scaled cosine to each prototype + log share."""
        return scale * _normalised(np.asarray(x, dtype=np.float64)) @ self.vectors.T + self.log_share


def refine_prototypes(x_labelled: np.ndarray, y: np.ndarray, x_pool: np.ndarray, n_classes: int,
                      scale: float = SIMILARITY_SCALE, iterations: int = ITERATIONS, class_shares: bool = True
                      ) -> RefinedPrototypes:
    """Prototypes of the labelled rows (`y`: class indices) refined by soft k-means over the pool, with each
    class's share of the pool estimated too (`class_shares=False`: equal shares, plain soft k-means)."""
    present = np.flatnonzero(np.bincount(y, minlength=n_classes) > 0)
    labelled, pool = _normalised(np.asarray(x_labelled, dtype=np.float64)), _normalised(
        np.asarray(x_pool, dtype=np.float64))
    onehot = (y[:, None] == present[None, :]).astype(np.float64)
    anchor, anchor_count = onehot.T @ labelled, onehot.sum(0)
    prototypes = _normalised(anchor / anchor_count[:, None])
    log_share = np.zeros(len(present))
    resp = np.full((len(pool), len(present)), 1.0 / len(present))
    for _ in range(iterations):
        logits = scale * pool @ prototypes.T + log_share
        resp = np.exp(logits - logits.max(1, keepdims=True))
        resp /= resp.sum(1, keepdims=True)
        prototypes = _normalised((anchor + resp.T @ pool) / (anchor_count + resp.sum(0))[:, None])
        if class_shares:
            log_share = np.log(np.maximum(resp.mean(0), _MIN_SHARE) * len(present))
    return RefinedPrototypes(present, prototypes, log_share, resp)


def cluster_labels(x_labelled: np.ndarray, y: np.ndarray, x_pool: np.ndarray, n_classes: int,
                   scale: float = SIMILARITY_SCALE, iterations: int = ITERATIONS, class_shares: bool = True
                   ) -> np.ndarray:
    """Label distributions (pool rows x classes, rows summing to 1): the responsibilities of
    `refine_prototypes`. A class with no labelled row gets no prototype and probability 0."""
    refined = refine_prototypes(x_labelled, y, x_pool, n_classes, scale, iterations, class_shares)
    out = np.zeros((len(refined.responsibilities), n_classes))
    out[:, refined.present] = refined.responsibilities
    return out
