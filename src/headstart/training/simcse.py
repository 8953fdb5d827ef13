"""Unsupervised SimCSE (Gao et al., 2021) as a domain-adaptation objective for sentence encoders.

Masked-LM training pulls a sentence encoder such as all-MiniLM away from the embedding space it was
trained for (it ships without an MLM head; on sst2 texts the probe lost 7 points after MLM adaptation).
SimCSE keeps training the embedding itself: every in-domain line is encoded twice, the two dropout
views are positives, the other lines of the batch negatives (InfoNCE over cosine similarities / 0.05).

Held-out lines are scored before and after with the same loss, and with retrieval accuracy: how often
a line's second view is the nearest of all second views of its batch to its first view.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..embeddings import pooled
from .step import TrainStep


def simcse_loss(model, batch: dict[str, Any], temperature: float):
    """(loss, number of lines whose own second view ranked first) for one batch, two dropout views each."""
    import torch

    first, second = pooled(model, batch), pooled(model, batch)
    logits = first @ second.T / temperature
    target = torch.arange(len(first), device=logits.device)
    return torch.nn.functional.cross_entropy(logits, target), int((logits.argmax(-1) == target).sum())


def batches(tokenizer, lines: Sequence[str], batch_size: int, max_length: int, order: np.ndarray | None = None):
    order = np.arange(len(lines)) if order is None else order
    for start in range(0, len(order), batch_size):
        chunk = [lines[i] for i in order[start:start + batch_size]]
        if len(chunk) > 1:  # one line has no in-batch negative
            yield tokenizer(chunk, padding=True, truncation=True, max_length=max_length, return_tensors="pt")


def evaluate_simcse(model, tokenizer, lines: Sequence[str], config, device: str) -> dict[str, float]:
    """Mean held-out SimCSE loss and retrieval accuracy; dropout stays on (it makes the two views), with a fixed
    seed so that before and after see the same noise draws."""
    import torch

    model.train()
    total, correct, n = 0.0, 0, 0
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed + 1)
        for batch in batches(tokenizer, lines, config.batch_size, config.max_length):
            batch = {k: v.to(device) for k, v in batch.items()}
            loss, hits = simcse_loss(model, batch, config.temperature)
            size = len(batch["input_ids"])
            total, correct, n = total + float(loss) * size, correct + hits, n + size
    model.eval()
    if n == 0:
        return {"loss": float("nan"), "retrieval_accuracy": float("nan"), "lines": 0}
    return {"loss": total / n, "retrieval_accuracy": correct / n, "lines": n}


def train_simcse(model, tokenizer, lines: Sequence[str], config, device: str, rng: np.random.Generator,
                 progress: bool | None) -> int:
    """Optimisation steps on `lines` (epochs, capped by max_steps); returns the number of steps taken."""
    per_epoch = max(1, len(lines) // config.batch_size)
    total = config.max_steps or per_epoch * config.epochs  # as for the LM objectives: max_steps overrides epochs
    train_step = TrainStep([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                           weight_decay=config.weight_decay, total_steps=total, schedule="linear",
                           warmup_steps=max(1, int(0.06 * total)), max_grad_norm=1.0, desc="simcse",
                           progress=progress)
    model.train()
    while train_step.steps < total:
        for batch in batches(tokenizer, lines, config.batch_size, config.max_length, rng.permutation(len(lines))):
            batch = {k: v.to(device) for k, v in batch.items()}
            train_step(lambda: simcse_loss(model, batch, config.temperature)[0])
            if train_step.steps >= total:
                break
    train_step.close()
    model.eval()
    return train_step.steps
