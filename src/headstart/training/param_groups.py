"""Where each parameter sits in the network, and optimiser groups built from that.

Partial fine-tuning (`top-k`, `gradual`), discriminative learning rates (`lr_decay`) and BitFit all
need the same fact about a parameter: how deep it is. Depth 0 is the embeddings, depth i+1 is
transformer layer i, and the top depth holds everything above the layer stack (final norm, pooler,
classification head). The layer stack is found generically as the largest `ModuleList` of the model,
so BERT-like encoders (`bert.encoder.layer`), decoders (`model.layers`, `transformer.h`) and
peft-wrapped models all work without a per-architecture table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import ModelError, expected


@dataclass(frozen=True)
class LayerMap:
    """Depth of every named parameter: 0 embeddings, 1..n layers, n+1 everything above them."""

    layers_prefix: str
    n_layers: int
    depths: dict[str, int]

    @property
    def top(self) -> int:
        return self.n_layers + 1

    def group(self, depth: int) -> list[str]:
        return [name for name, d in self.depths.items() if d == depth]


def find_layer_stack(model) -> tuple[str, Any]:
    """The (name, ModuleList) of the transformer blocks: the ModuleList holding most parameters."""
    import torch

    best_name, best_list, best_size = "", None, 0
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) > 0:
            size = sum(p.numel() for p in module.parameters())
            if size > best_size:
                best_name, best_list, best_size = name, module, size
    if best_list is None:
        raise ModelError(expected("a transformer with a stack of layers (a torch ModuleList)",
                                  f"{type(model).__name__} without one",
                                  "Use the finetune or probe strategy with this backbone."))
    return best_name, best_list


def layer_map(model) -> LayerMap:
    """Assign every parameter of `model` its depth (see the module docstring)."""
    prefix, stack = find_layer_stack(model)
    n = len(stack)
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.")
    depths: dict[str, int] = {}
    for name, _ in model.named_parameters():
        match = pattern.match(name)
        if match:
            depths[name] = int(match.group(1)) + 1
        elif _is_embedding(name):
            depths[name] = 0
        else:
            depths[name] = n + 1
    return LayerMap(prefix, n, depths)


def _is_embedding(name: str) -> bool:
    # embeddings.*, embed_tokens, wte/wpe (GPT-2), shared (T5); never the head, which sits outside them.
    parts = name.split(".")
    return any(p.startswith("embed") or p in ("wte", "wpe", "shared") for p in parts[:-1])


def set_trainable(model, names: set[str]) -> int:
    """requires_grad on exactly the parameters in `names`; returns how many values train."""
    count = 0
    for name, param in model.named_parameters():
        param.requires_grad_(name in names)
        count += param.numel() if name in names else 0
    return count


def top_k_names(lmap: LayerMap, k: int) -> set[str]:
    """Parameters of the top k layers plus everything above the stack (head, pooler, final norm)."""
    if k < 0:
        raise ModelError(expected("k >= 0", str(k), "k=0 trains the head only."))
    lowest = max(0, lmap.top - k)
    return {name for name, depth in lmap.depths.items() if depth >= lowest}


def layerwise_param_groups(model, lr: float, weight_decay: float, lr_decay: float = 1.0,
                           backbone_weight_decay: float | None = None,
                           include_frozen: bool = False) -> list[dict[str, Any]]:
    """AdamW groups with discriminative learning rates: depth d trains at lr * lr_decay ** (top - d).

    With lr_decay=1 this equals the loop's default groups. Biases and norm weights get no weight decay;
    `backbone_weight_decay` overrides the decay of parameters below the head (L2-SP sets it to 0, since it
    pulls those toward their starting values instead of toward zero). `include_frozen` also lists
    parameters that do not train yet (gradual unfreezing switches them on later; AdamW skips them
    while they have no gradient).
    """
    if not 0 < lr_decay <= 1:
        raise ModelError(expected("lr_decay in (0, 1]", str(lr_decay), "Use e.g. 0.8, or 1 to disable."))
    lmap = layer_map(model)
    groups: dict[tuple[float, float], list[Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad and not include_frozen:
            continue
        depth = lmap.depths[name]
        no_decay = param.ndim < 2 or "norm" in name.lower()
        decay = weight_decay if depth == lmap.top or backbone_weight_decay is None else backbone_weight_decay
        key = (lr * lr_decay ** (lmap.top - depth), 0.0 if no_decay else decay)
        groups.setdefault(key, []).append(param)
    return [{"params": params, "lr": group_lr, "weight_decay": wd}
            for (group_lr, wd), params in sorted(groups.items(), key=lambda kv: -kv[0][0])]
