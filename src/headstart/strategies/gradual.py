"""`gradual`: gradual unfreezing as in ULMFiT (Howard & Ruder, 2018).

Training starts with only the top group (head, pooler, final norm) trainable; at the start of each
later epoch (every `unfreeze_every` epochs) the next layer down is unfrozen, and the embeddings come
last. Combine with `--lr-decay` and `--schedule slanted-triangular` for the full ULMFiT recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..backbones import BackboneRef
from ..config import AUTO_EPOCHS_HELP, TrainConfig, opt
from ..tasks import CLASSIFIER_TASK_NAMES
from ..training.param_groups import LayerMap, layer_map, layerwise_param_groups, set_trainable, top_k_names
from ..training.regularise import AnchorOptions
from ..training.run import run_training
from ..training.seqcls import classifier_backed, start_classifier
from .registry import Cost, FitReport, Target, register


@dataclass
class GradualConfig(AnchorOptions, TrainConfig):
    auto_epochs: ClassVar[int] = 4
    epochs: int | None = opt(None, AUTO_EPOCHS_HELP.format(auto=4), min=1)
    unfreeze_every: int = opt(1, "epochs between two unfreezing steps (one more layer each time)", min=1)
    patience: int = opt(0, "stop after this many evaluations without improvement (0 disables; early stopping "
                           "before the lower layers thaw would cut the schedule short)", min=0)


class GradualUnfreezing:
    """Loop callback: before epoch e, the top 1 + e // every groups train (head first, embeddings last)."""

    def __init__(self, lmap: LayerMap, every: int) -> None:
        self.lmap, self.every = lmap, every
        self.unfrozen_layers: list[int] = []

    def on_epoch_begin(self, state) -> None:
        k = state.epoch // self.every  # layers below the head that train in this epoch
        set_trainable(state.model, top_k_names(self.lmap, k))
        self.unfrozen_layers.append(k)


@register
@classifier_backed
class Gradual:
    name: ClassVar[str] = "gradual"
    config_cls: ClassVar[type] = GradualConfig
    tasks: ClassVar[tuple[str, ...]] = CLASSIFIER_TASK_NAMES
    cost: ClassVar[Cost] = Cost.GRADIENT
    row_weights: ClassVar[bool] = True

    def fit(self, backbone: BackboneRef | None, train: Target, valid: Target | None, config: GradualConfig,
            seed: int) -> FitReport:
        self.classifier_, start = start_classifier(backbone, train, config)
        model = self.classifier_.model
        lmap = layer_map(model)
        # Every parameter is in the optimiser from the start; frozen ones have no gradient, so AdamW
        # (and its weight decay) leaves them untouched until the callback thaws them.
        groups = layerwise_param_groups(model, config.lr, config.weight_decay, config.lr_decay,
                                        backbone_weight_decay=0.0 if config.l2sp > 0 else None)
        callback = GradualUnfreezing(lmap, config.unfreeze_every)
        set_trainable(model, top_k_names(lmap, 0))
        report = run_training(self.classifier_, train, valid, config, seed, start, param_groups=groups,
                              callbacks=[callback])
        # The model ends with all thawed layers trainable; report what trained by the end.
        report.notes.append(f"unfrozen layers per epoch: {callback.unfrozen_layers}")
        return report
