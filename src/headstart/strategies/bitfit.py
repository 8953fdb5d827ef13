"""`bitfit`: train only the bias terms of the backbone, plus the classification head (Ben Zaken et al., 2022).

About 0.1% of a BERT's parameters train; every weight matrix stays bit-identical to the pre-trained one.
Saved models are plain Hugging Face folders, like `finetune`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..backbones import BackboneRef
from ..config import TrainConfig, opt
from ..tasks import CLASSIFIER_TASK_NAMES
from ..training.param_groups import layer_map, set_trainable
from ..training.regularise import AnchorOptions
from ..training.run import run_training
from ..training.seqcls import classifier_backed, start_classifier
from .registry import Cost, FitReport, Target, register


@dataclass
class BitFitConfig(AnchorOptions, TrainConfig):
    # Biases move the features only a little per step; the BitFit paper uses 1e-4 to 1e-3.
    lr: float = opt(5e-4, "peak learning rate of AdamW", gt=0)


def bias_and_head_names(model) -> set[str]:
    """Every bias below the head, and every parameter of the head (above the layer stack)."""
    lmap = layer_map(model)
    return {name for name, depth in lmap.depths.items() if depth == lmap.top or name.endswith(".bias")}


@register
@classifier_backed
class BitFit:
    name: ClassVar[str] = "bitfit"
    config_cls: ClassVar[type] = BitFitConfig
    tasks: ClassVar[tuple[str, ...]] = CLASSIFIER_TASK_NAMES
    cost: ClassVar[Cost] = Cost.GRADIENT
    row_weights: ClassVar[bool] = True

    def fit(self, backbone: BackboneRef | None, train: Target, valid: Target | None, config: BitFitConfig,
            seed: int) -> FitReport:
        self.classifier_, start = start_classifier(backbone, train, config)
        set_trainable(self.classifier_.model, bias_and_head_names(self.classifier_.model))
        return run_training(self.classifier_, train, valid, config, seed, start)
