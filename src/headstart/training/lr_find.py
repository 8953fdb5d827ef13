"""Learning-rate range test (Smith, 2017; fastai's lr_find): raise the learning rate exponentially
over a short run, record the loss, stop when it diverges, and suggest the rate where the smoothed loss
falls fastest. The model is a throw-away copy: nothing is saved but the curve.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError, expected
from ..targets import Target
from ..tasks import label_task
from .batching import length_grouped_batches, pad_batch
from .loop import tokenize
from .step import TrainStep


@dataclass
class RangeTest:
    """The curve and the suggestion."""

    # field order is the key order of the JSON file `lr-find` writes: the suggestion first
    suggested_lr: float = float("nan")
    min_loss_lr: float = float("nan")
    stopped_early: bool = False
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lr_range_test(model, tokenizer, train: Target, *, start_lr: float = 1e-7, end_lr: float = 1.0, steps: int = 100,
                  batch_size: int = 16, max_length: int = 128, weight_decay: float = 0.01, seed: int = 0,
                  device: str = "cpu", smoothing: float = 0.9, diverge_factor: float = 4.0) -> RangeTest:
    """Train `model` (changed in place; pass a copy) for up to `steps` steps with lr going from start_lr
    to end_lr geometrically; stop once the smoothed loss exceeds `diverge_factor` times its minimum."""
    import torch

    if not 0 < start_lr < end_lr:
        raise DataError(expected("0 < start_lr < end_lr", f"{start_lr} and {end_lr}", "Use e.g. 1e-7 and 1."))
    if len(train.texts) < 2:
        raise DataError(expected("at least 2 training texts", str(len(train.texts)), "Give more data."))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.to(device).train()
    ids = tokenize(tokenizer, train.texts, max_length)
    lengths = [len(t) for t in ids]
    task = label_task(train.task)
    y_all = task.target_tensor(train.y)
    factor = (end_lr / start_lr) ** (1.0 / max(1, steps - 1))
    # the rate rises geometrically from start_lr; no clipping: divergence is what is measured
    train_step = TrainStep([p for p in model.parameters() if p.requires_grad], lr=start_lr, total_steps=steps,
                           weight_decay=weight_decay, schedule=lambda step: factor ** step, progress=False)
    result = RangeTest()
    avg, best = 0.0, math.inf
    batches: list[np.ndarray] = []
    for step in range(steps):
        if not batches:
            batches = list(length_grouped_batches(lengths, batch_size, rng))
        batch = batches.pop()
        lr = train_step.optimizer.param_groups[0]["lr"]
        input_ids, mask = pad_batch([ids[i] for i in batch], tokenizer.pad_token_id or 0, device)
        value = train_step(lambda: task.loss(model(input_ids=input_ids, attention_mask=mask).logits.float(),
                                             y_all[batch].to(device)))
        # Exponential moving average with bias correction (fastai's smoothing).
        avg = smoothing * avg + (1 - smoothing) * value
        smooth = avg / (1 - smoothing ** (step + 1))
        result.lrs.append(lr)
        result.losses.append(value)
        result.smoothed.append(smooth)
        best = min(best, smooth)
        if not math.isfinite(value) or (step > 5 and smooth > diverge_factor * best):
            result.stopped_early = True
            break
    result.suggested_lr, result.min_loss_lr = suggest(result.lrs, result.smoothed)
    return result


def suggest(lrs: list[float], smoothed: list[float]) -> tuple[float, float]:
    """(steepest-descent lr, lr of the minimum smoothed loss / 10). The steepest point is searched before
    the minimum, since past it the loss only rises."""
    if len(lrs) < 3:
        return (lrs[0] if lrs else float("nan")), (lrs[0] if lrs else float("nan"))
    loss = np.asarray(smoothed)
    finite = np.isfinite(loss)
    low = int(np.argmin(np.where(finite, loss, np.inf)))
    grads = np.gradient(loss[:max(low + 1, 3)], np.log(np.asarray(lrs[:max(low + 1, 3)])))
    # Skip the first few points: the moving average is still settling there.
    skip = min(len(grads) - 1, max(1, len(lrs) // 10))
    steepest = skip + int(np.argmin(grads[skip:]))
    return float(lrs[steepest]), float(lrs[low] / 10)


def plot(result: RangeTest, path, title: str = "learning-rate range test") -> None:
    """Loss against learning rate (log scale), with the suggestion marked; written as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(result.lrs, result.losses, alpha=0.3, label="loss")
    ax.plot(result.lrs, result.smoothed, label="smoothed loss")
    if math.isfinite(result.suggested_lr):
        ax.axvline(result.suggested_lr, color="red", linestyle="--", label=f"suggested {result.suggested_lr:.2e}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
