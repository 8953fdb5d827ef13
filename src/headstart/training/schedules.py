"""Learning-rate schedules with warmup, as multipliers of the peak rate."""

from __future__ import annotations

import math
from typing import Callable

SCHEDULES: dict[str, Callable[[float], float]] = {
    "constant": lambda progress: 1.0,
    "linear": lambda progress: max(0.0, 1.0 - progress),
    "cosine": lambda progress: 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))),
}


def lr_multiplier(name: str, step: int, total_steps: int, warmup_steps: int) -> float:
    """Linear warmup to 1, then the named decay over the remaining steps."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    return SCHEDULES[name]((step - warmup_steps) / decay_steps)


def make_scheduler(optimizer, name: str, total_steps: int, warmup_steps: int):
    import torch

    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_multiplier(name, step, total_steps, warmup_steps))
