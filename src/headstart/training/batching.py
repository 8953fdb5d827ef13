"""Dynamic padding with length-grouped batches: similar lengths share a batch, so little padding."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np


def length_grouped_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator,
                           group_factor: int = 50) -> list[np.ndarray]:
    """Shuffle, cut into mega-batches of `group_factor` batches, sort each by length, then shuffle batches.

    Randomness is kept (different neighbours every epoch) while padding drops to near zero.
    """
    order = rng.permutation(len(lengths))
    lengths = np.asarray(lengths)
    mega = batch_size * group_factor
    batches: list[np.ndarray] = []
    for start in range(0, len(order), mega):
        chunk = order[start:start + mega]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)  # type: ignore[arg-type]
    return batches


def sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[np.ndarray]:
    """Inference order: longest first, so the memory peak comes at once and not at the end."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def pad_batch(token_ids: list[list[int]], pad_id: int, device: str):
    import torch

    width = max(len(t) for t in token_ids)
    ids = torch.full((len(token_ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(token_ids), width), dtype=torch.long)
    for i, t in enumerate(token_ids):
        ids[i, :len(t)] = torch.as_tensor(t, dtype=torch.long)
        mask[i, :len(t)] = 1
    return ids.to(device), mask.to(device)
