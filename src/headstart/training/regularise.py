"""Regularisation toward the pre-trained weights: L2-SP (a loss term) and WiSE-FT (weight averaging).

Plain weight decay pulls every weight toward zero, which for a pre-trained network means toward
forgetting. L2-SP (Li et al., 2018) instead penalises the squared distance from the starting point;
WiSE-FT (Wortsman et al., 2022) interpolates the fine-tuned and pre-trained weights after training.
Both leave the classification head alone: it has no pre-trained value to return to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..config import Options, opt
from .param_groups import layer_map


@dataclass
class AnchorOptions(Options):
    """Options of strategies that start from pre-trained weights (data only; mixed into their configs)."""

    l2sp: float = opt(0.0, "L2-SP strength: penalise lambda/2 * squared distance of the backbone from its "
                           "pre-trained weights (0 disables; backbone weight decay is then turned off)", min=0)
    wise: float = opt(1.0, "WiSE-FT alpha: after training, backbone = (1-alpha)*pre-trained + alpha*fine-tuned "
                           "(1 keeps the fine-tuned weights; the head always stays fine-tuned)", min=0, max=1)


def backbone_names(model) -> set[str]:
    """Parameters below the head (those that have a pre-trained value), frozen or not: gradual unfreezing
    thaws them later."""
    lmap = layer_map(model)
    return {name for name in lmap.depths if lmap.depths[name] < lmap.top}


def snapshot(model, names: set[str]) -> dict[str, Any]:
    """Detached copies of the named parameters (the anchor), on the parameters' device."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if name in names}


def l2sp_penalty(model, anchor: dict[str, Any], strength: float) -> Callable[[], Any]:
    """A loop penalty: strength/2 * sum of squared distances of the anchored parameters from the anchor."""
    params = [(p, anchor[name]) for name, p in model.named_parameters() if name in anchor]

    def penalty():
        # Frozen parameters cannot move, so they are skipped (saves time under top-k / gradual).
        total = sum(((p - p0) ** 2).sum() for p, p0 in params if p.requires_grad)
        return 0.5 * strength * total

    return penalty


def wise_interpolate(model, anchor: dict[str, Any], alpha: float) -> None:
    """In place: each anchored parameter becomes (1-alpha)*anchor + alpha*current."""
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            # Unchanged (frozen) weights are skipped so they stay bit-identical despite float rounding.
            if name in anchor and not torch.equal(p, anchor[name].to(p.device)):
                p.copy_((1.0 - alpha) * anchor[name].to(p.device) + alpha * p)
