"""One readable training loop for sequence classifiers.

Strategies customise it without subclassing: they choose which parameters train and with which
learning rates (`param_groups`), and pass callbacks that the loop calls at named events
(`on_train_begin`, `on_epoch_begin`, `on_step_end`, `on_evaluate`, `on_train_end`), plus optional
extra loss terms (`penalties`, e.g. a pull toward the pre-trained weights).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..config import TrainConfig
from ..targets import Target
from ..tasks import label_task
from .batching import length_grouped_batches, pad_batch, sorted_batches
from .step import TrainStep


@dataclass
class TrainState:
    """What callbacks see and may change (e.g. `stop = True`)."""

    model: Any
    optimizer: Any = None
    epoch: int = 0
    step: int = 0
    total_steps: int = 0
    stop: bool = False
    history: list[dict[str, float]] = field(default_factory=list)
    best_score: float = -math.inf
    best_step: int = 0
    epochs: int = 0  # planned (see `effective_epochs`); early stopping may end sooner
    stop_reason: str = ""  # why `stop` was set, for the fit summary
    world_size: int = 1  # processes training together (DDP under torchrun / accelerate launch)


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    return tokenizer(list(texts), truncation=True, max_length=max_length, add_special_tokens=True)["input_ids"]


def predict_outputs(model, tokenizer, texts: Sequence[str], task: str, max_length: int, device: str,
                    batch_size: int = 64) -> np.ndarray:
    """Probabilities (or values) for texts, computed in length-sorted batches, returned in input order."""
    import torch

    activate = label_task(task).activate
    was_training = model.training
    model.eval()
    ids = tokenize(tokenizer, texts, max_length)
    out: list[np.ndarray | None] = [None] * len(ids)
    with torch.inference_mode():
        for batch in sorted_batches([len(t) for t in ids], batch_size):
            input_ids, mask = pad_batch([ids[i] for i in batch], tokenizer.pad_token_id or 0, device)
            probs = activate(model(input_ids=input_ids, attention_mask=mask).logits.float())
            for i, row in zip(batch, probs.cpu().numpy()):
                out[i] = row
    model.train(was_training)
    return np.stack(out) if out else np.zeros((0,))


def effective_epochs(n_examples: int, epochs: int | None, batch_size: int, min_steps: int, auto: int = 3) -> int:
    """Epochs a run plans: exactly `epochs` when the user set it (as transformers.Trainer does); when unset
    (None), `auto` epochs stretched so that at least `min_steps` optimiser steps happen: 16 examples at batch
    size 32 would otherwise get 3 updates in 3 epochs, too few to move anything."""
    if epochs is not None:
        return epochs
    steps_per_epoch = max(1, math.ceil(n_examples / max(1, batch_size)))
    return max(auto, math.ceil(min_steps / steps_per_epoch)) if min_steps > 0 else auto


def describe_run(state: TrainState, cfg: TrainConfig) -> list[str]:
    """Fit-summary notes: how many epochs and steps ran, and why that many."""
    if cfg.epochs is not None:
        why = f"as set by epochs={cfg.epochs}"
    elif state.epochs > cfg.auto_epochs:
        why = (f"epochs unset: stretched from {cfg.auto_epochs} to reach min_steps={cfg.min_steps}; "
               f"set --epochs to run exactly N")
    else:
        why = f"epochs unset: the default {cfg.auto_epochs}"
    planned = f"{_count(state.epochs, 'epoch')} ({_count(state.total_steps, 'step')})"
    if state.step >= state.total_steps:
        return [f"ran {planned}: {why}"]
    reason = f": {state.stop_reason}" if state.stop_reason else ""
    return [f"planned {planned}: {why}",
            f"stopped early after {_count(state.step, 'step')} of {state.total_steps} (epoch {state.epoch + 1})"
            f"{reason}"]


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def train_classifier(model, tokenizer, train: Target, valid: Target | None, cfg: TrainConfig, *, seed: int,
                     device: str, param_groups: list[dict[str, Any]] | None = None,
                     callbacks: Sequence[Any] = (), penalties: Sequence[Callable[[], Any]] = (),
                     progress: bool | None = None) -> TrainState:
    """Train `model` in place and leave it at its best validation checkpoint. Returns the final state."""
    from . import distributed

    dist, device = distributed.setup(device)
    model.to(device).train()
    # Under torchrun/accelerate launch the forward pass goes through DDP, which averages gradients;
    # `model` itself is still the trained module (evaluation, checkpoints, saving use it directly).
    forward = distributed.wrap(model, dist, device)
    rng = np.random.default_rng(seed)
    ids = tokenize(tokenizer, train.texts, cfg.max_length)
    lengths = [len(t) for t in ids]
    task = label_task(train.task)
    y_all = task.target_tensor(train.y)
    class_weights = _class_weights(train) if cfg.class_weight == "balanced" else None
    class_weights = class_weights.to(device) if class_weights is not None else None
    import torch

    row_weights = None if train.weight is None else torch.as_tensor(train.weight, dtype=torch.float32)

    groups = param_groups if param_groups is not None else default_param_groups(model, cfg.lr, cfg.weight_decay)
    steps_per_epoch = math.ceil(len(ids) / cfg.batch_size)
    epochs = effective_epochs(len(ids), cfg.epochs, cfg.batch_size, cfg.min_steps, cfg.auto_epochs)
    total_steps = steps_per_epoch * epochs
    train_step = TrainStep(groups, lr=cfg.lr, weight_decay=cfg.weight_decay, total_steps=total_steps,
                           schedule=cfg.schedule, warmup_steps=int(cfg.warmup_ratio * total_steps),
                           max_grad_norm=cfg.max_grad_norm, clip=model.parameters(),
                           progress=progress if dist.is_main else False)
    state = TrainState(model=model, optimizer=train_step.optimizer, total_steps=total_steps, epochs=epochs,
                       world_size=dist.world_size)
    eval_every = max(1, steps_per_epoch // max(1, cfg.evals_per_epoch))
    best_weights = None
    evals_without_gain = 0
    _fire(callbacks, "on_train_begin", state)
    started = time.perf_counter()

    def loss_of(batch):
        input_ids, mask = pad_batch([ids[i] for i in batch], tokenizer.pad_token_id or 0, device)
        logits = forward(input_ids=input_ids, attention_mask=mask).logits
        weights = None if row_weights is None else row_weights[batch].to(device)
        loss = task.loss(logits.float(), y_all[batch].to(device), class_weights, weights)
        for penalty in penalties:
            loss = loss + penalty()
        return loss

    for epoch in range(epochs):
        state.epoch = epoch
        _fire(callbacks, "on_epoch_begin", state)
        for batch in length_grouped_batches(lengths, cfg.batch_size, rng):
            batch = dist.shard(batch)  # every rank draws the same batches (same seed) and takes its share
            loss = train_step(lambda: loss_of(batch))
            state.step += 1
            _fire(callbacks, "on_step_end", state, loss=loss)
            if valid is not None and (state.step % eval_every == 0 or state.step == state.total_steps):
                score = task.validation_score(predict_outputs(model, tokenizer, valid.texts, valid.task,
                                                              cfg.max_length, device), valid.y)
                state.history.append({"step": state.step, "epoch": epoch + 1, "valid_score": score,
                                      "train_loss": loss, "seconds": time.perf_counter() - started})
                train_step.bar.log(epoch=epoch + 1, **{f"valid_{task.score_name}": score}, train_loss=loss)
                _fire(callbacks, "on_evaluate", state, score=score)
                if score > state.best_score:
                    state.best_score, state.best_step, evals_without_gain = score, state.step, 0
                    best_weights = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
                else:
                    evals_without_gain += 1
                    # min_steps is a floor for early stopping too: a validation split of a dozen rows from a
                    # tiny training set is noisy enough to stop a run after a handful of steps
                    if cfg.patience and evals_without_gain >= cfg.patience and state.step >= cfg.min_steps:
                        state.stop = True
                        state.stop_reason = (f"no validation gain in {evals_without_gain} evaluations "
                                             f"(patience={cfg.patience})")
            if state.stop:
                break
        if state.stop:
            break
    train_step.close()
    if best_weights is not None:
        model.load_state_dict(best_weights)
    _fire(callbacks, "on_train_end", state)
    model.eval()
    return state


def default_param_groups(model, lr: float, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on weight matrices only; biases and LayerNorm parameters are not decayed."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "norm" in name.lower() else decay).append(param)
    return [{"params": decay, "lr": lr, "weight_decay": weight_decay},
            {"params": no_decay, "lr": lr, "weight_decay": 0.0}]


def _class_weights(train: Target):
    import torch

    if not label_task(train.task).single_label:
        return None
    counts = np.bincount(train.y, minlength=len(train.classes)).astype(float)
    weights = len(train.y) / (len(train.classes) * np.clip(counts, 1, None))
    return torch.as_tensor(weights, dtype=torch.float32)


def _fire(callbacks: Sequence[Any], event: str, state: TrainState, **kwargs: Any) -> None:
    for cb in callbacks:
        handler = getattr(cb, event, None)
        if handler is not None:
            handler(state, **kwargs)
