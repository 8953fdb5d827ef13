"""The optimiser step every training loop shares (AdamW, lr schedule, gradient clipping, progress tick), so
that a loop keeps only what differs: its batches, its loss, when it evaluates and when it stops."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from ..progress import bar as progress_bar
from ..threads import rebalance
from .schedules import make_scheduler


def adamw(params: Iterable[Any], lr: float, weight_decay: float = 0.01):
    """AdamW over `params` (tensors or param-group dicts), fused when every parameter allows it.

    Why fused: the per-tensor update loop costs more than the forward pass of a small encoder on CPU
    (measured for MiniLM-L6, 22M parameters, 2 cores: 137 ms per step unfused, 22 ms fused). Fused
    needs floating-point parameters on a supported device; anything else falls back to the loop.
    """
    import torch

    params = list(params)  # a generator would be spent by the first attempt
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


class TrainStep:
    """`train_step(loss_of)` runs one step and returns its loss: `loss_of()` (the forward pass and loss),
    zero-grad, backward, clipping to `max_grad_norm` (0: none) over `clip` (default: the optimiser's
    parameters), optimiser step, schedule step and progress tick. `schedule` is a name from `schedules.py`, a
    multiplier of the peak rate per step, or None (the rate stays as set). `close()` ends the progress bar."""

    def __init__(self, params: Iterable[Any], *, lr: float, total_steps: int, weight_decay: float = 0.01,
                 schedule: str | Callable[[int], float] | None = None, warmup_steps: int = 0,
                 max_grad_norm: float = 0.0, clip: Iterable[Any] | None = None, desc: str = "training",
                 progress: bool | None = None) -> None:
        import torch

        self.optimizer = adamw(params, lr=lr, weight_decay=weight_decay)
        self.scheduler = (make_scheduler(self.optimizer, schedule, total_steps, warmup_steps)
                          if isinstance(schedule, str) else
                          torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule) if schedule else None)
        self.max_grad_norm = max_grad_norm
        # a list, not a generator: it is walked at every step
        self.clip = list(clip) if clip is not None else [p for g in self.optimizer.param_groups for p in g["params"]]
        self.bar = progress_bar(total_steps, desc, "step", enabled=progress)
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
        rebalance()  # another job started or ended: PyTorch's thread count follows the free CPUs (auto policy)
        return value

    def close(self) -> None:
        self.bar.close()
