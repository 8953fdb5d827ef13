"""The optimiser step every training loop shares: AdamW, an optional learning-rate schedule, gradient
clipping and the progress tick. A loop keeps only what differs: its batches, its loss, when it evaluates
and when it stops.

    steps = TrainStep(params, lr=1e-3, total_steps=100, schedule="linear", warmup_steps=6, max_grad_norm=1.0)
    with steps:
        for batch in batches:
            loss = steps(lambda: loss_of(model, batch))
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from ..progress import Progress
from ..progress import bar as progress_bar
from .optim import adamw
from .schedules import make_scheduler

Schedule = str | Callable[[int], float] | None
"""A schedule name of `schedules.py`, a multiplier of the peak rate per step, or None (the rate stays)."""


class TrainStep:
    """Calling it with a function that computes the loss (forward pass included) runs one step: the loss,
    zero-grad, backward, clipping, optimiser step, schedule step and progress tick; it returns the loss.

    `clip` names the parameters whose gradient norm is clipped (default: the optimiser's)."""

    def __init__(self, params: Iterable[Any], *, lr: float, total_steps: int, weight_decay: float = 0.01,
                 schedule: Schedule = None, warmup_steps: int = 0, max_grad_norm: float = 0.0,
                 clip: Iterable[Any] | None = None, desc: str = "training", progress: bool | None = None) -> None:
        self.optimizer = adamw(params, lr=lr, weight_decay=weight_decay)
        self.scheduler = _scheduler(self.optimizer, schedule, total_steps, warmup_steps)
        self.max_grad_norm = max_grad_norm
        # a list, not a generator: it is walked at every step
        self.clip = list(clip) if clip is not None else [p for g in self.optimizer.param_groups for p in g["params"]]
        self.bar: Progress = progress_bar(total_steps, desc, "step", enabled=progress)
        self.steps = 0

    def __call__(self, loss_of: Callable[[], Any]) -> float:
        import torch

        loss = loss_of()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.clip, self.max_grad_norm)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.steps += 1
        value = float(loss.item())
        self.bar.set_postfix(loss=value)
        self.bar.update(1)
        return value

    def close(self) -> None:
        """End the progress bar."""
        self.bar.close()

    def __enter__(self) -> "TrainStep":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _scheduler(optimizer, schedule: Schedule, total_steps: int, warmup_steps: int):
    import torch

    if schedule is None:
        return None
    if isinstance(schedule, str):
        return make_scheduler(optimizer, schedule, total_steps, warmup_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
