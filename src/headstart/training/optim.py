"""The optimiser every trainer uses: AdamW, fused into one kernel where torch supports it."""

from __future__ import annotations

from typing import Any, Iterable


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
