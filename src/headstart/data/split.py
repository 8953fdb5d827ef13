"""Stratified splits and per-class samples, reproducible from a seed."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..tasks import label_task
from .examples import Examples


def _strata(examples: Examples) -> list[Any]:
    if examples.labels is None:
        return [0] * len(examples)
    return label_task(examples.task).strata(examples.labels)  # multilabel: the first label, a usable approximation


def stratified_split(examples: Examples, fraction: float, seed: int) -> tuple[Examples, Examples]:
    """Split off `fraction` of the rows, keeping class proportions and at least one row of each class
    in the larger part. Classes with a single example stay in the training part."""
    rng = np.random.default_rng(seed)
    strata = _strata(examples)
    train_idx: list[int] = []
    held_idx: list[int] = []
    for value in sorted(set(map(str, strata))):
        members = np.array([i for i, s in enumerate(strata) if str(s) == value])
        rng.shuffle(members)
        n_held = int(round(fraction * len(members)))
        n_held = min(n_held, len(members) - 1)
        held_idx.extend(members[:n_held])
        train_idx.extend(members[n_held:])
    return examples.subset(sorted(train_idx)), examples.subset(sorted(held_idx))


def sample_per_class(examples: Examples, n_per_class: int | None, seed: int) -> Examples:
    """At most `n_per_class` rows of each class (all rows when None), drawn with `seed`."""
    if n_per_class is None:
        return examples
    rng = np.random.default_rng(seed)
    strata = _strata(examples)
    chosen: list[int] = []
    for value in sorted(set(map(str, strata))):
        members = np.array([i for i, s in enumerate(strata) if str(s) == value])
        chosen.extend(rng.permutation(members)[:n_per_class])
    return examples.subset(sorted(chosen))


def label_counts(labels: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in labels:
        for label in (row if isinstance(row, list) else [row]):
            counts[str(label)] = counts.get(str(label), 0) + 1
    return dict(sorted(counts.items()))
