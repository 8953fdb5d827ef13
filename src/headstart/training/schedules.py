"""Learning-rate schedules with warmup, as multipliers of the peak rate.

`constant`, `linear` and `cosine` warm up linearly from 0 and then decay. `one-cycle` (Smith & Topin)
rises along a half cosine from peak/25 and anneals along a cosine to almost 0; `slanted-triangular`
(Howard & Ruder, ULMFiT) rises linearly from peak/32 and falls linearly back to it. For these two the
rise is the warmup: it lasts `warmup_steps` (a 10% rise when none is given).
"""

from __future__ import annotations

import math
from typing import Callable

SCHEDULES: dict[str, Callable[[float], float]] = {
    "constant": lambda progress: 1.0,
    "linear": lambda progress: max(0.0, 1.0 - progress),
    "cosine": lambda progress: 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))),
}

ONE_CYCLE_START_DIV = 25.0  # the rise starts at peak / 25 (PyTorch OneCycleLR's div_factor)
ONE_CYCLE_FINAL = 1e-4  # the anneal ends at peak * 1e-4
SLANTED_RATIO = 32.0  # ULMFiT's ratio between the peak and the lowest rate


def _cosine_between(start: float, end: float, fraction: float) -> float:
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, fraction))))


def one_cycle(step: int, total_steps: int, warmup_steps: int) -> float:
    rise = warmup_steps if warmup_steps > 0 else max(1, round(0.1 * total_steps))
    if step < rise:
        return _cosine_between(1.0 / ONE_CYCLE_START_DIV, 1.0, (step + 1) / rise)
    return _cosine_between(1.0, ONE_CYCLE_FINAL, (step - rise) / max(1, total_steps - rise))


def slanted_triangular(step: int, total_steps: int, warmup_steps: int) -> float:
    cut = warmup_steps if warmup_steps > 0 else max(1, round(0.1 * total_steps))
    if step < cut:
        p = (step + 1) / cut
    else:
        p = max(0.0, 1.0 - (step - cut) / max(1, total_steps - cut))
    return (1.0 + p * (SLANTED_RATIO - 1.0)) / SLANTED_RATIO


SHAPED: dict[str, Callable[[int, int, int], float]] = {
    "one-cycle": one_cycle,
    "slanted-triangular": slanted_triangular,
}

SCHEDULE_NAMES = tuple(SCHEDULES) + tuple(SHAPED)


def lr_multiplier(name: str, step: int, total_steps: int, warmup_steps: int) -> float:
    """Linear warmup to 1, then the named decay over the remaining steps (or a shaped cycle)."""
    if name in SHAPED:
        return SHAPED[name](step, total_steps, warmup_steps)
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    return SCHEDULES[name]((step - warmup_steps) / decay_steps)


def make_scheduler(optimizer, name: str, total_steps: int, warmup_steps: int):
    import torch

    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_multiplier(name, step, total_steps, warmup_steps))
