"""`scratch-init`: the backbone's architecture, randomly initialised, trained like `finetune` (a baseline)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..backbones import BackboneRef
from ..config import AUTO_EPOCHS_HELP, TrainConfig, opt
from ..tasks import CLASSIFIER_TASK_NAMES
from ..training.run import run_training
from ..training.seqcls import classifier_backed, random_classifier, start_classifier
from .registry import Cost, FitReport, Target, register


@dataclass
class ScratchInitConfig(TrainConfig):
    # Random weights need a larger step size and more passes than pre-trained ones.
    auto_epochs: ClassVar[int] = 8
    lr: float = opt(2e-4, "peak learning rate of AdamW", gt=0)
    epochs: int | None = opt(None, AUTO_EPOCHS_HELP.format(auto=8), min=1)
    patience: int = opt(3, "stop after this many evaluations without improvement on validation (0 disables)", min=0)


@register
@classifier_backed
class ScratchInit:
    name: ClassVar[str] = "scratch-init"
    config_cls: ClassVar[type] = ScratchInitConfig
    tasks: ClassVar[tuple[str, ...]] = CLASSIFIER_TASK_NAMES
    pretrained: ClassVar[bool] = False  # the from-scratch baseline transfer is measured against
    cost: ClassVar[Cost] = Cost.GRADIENT
    row_weights: ClassVar[bool] = True

    def fit(self, backbone: BackboneRef | None, train: Target, valid: Target | None, config: ScratchInitConfig,
            seed: int) -> FitReport:
        self.classifier_, start = start_classifier(backbone, train, config, random_classifier)
        return run_training(self.classifier_, train, valid, config, seed, start)
