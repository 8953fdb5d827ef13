"""`finetune`: every weight of backbone and head trains (AdamW, warmup + decay, early stopping)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..backbones import BackboneRef
from ..config import TrainConfig
from ..tasks import CLASSIFIER_TASK_NAMES
from ..training.regularise import AnchorOptions
from ..training.run import run_training
from ..training.seqcls import classifier_backed, start_classifier
from .registry import Cost, FitReport, Target, register


@dataclass
class FinetuneConfig(AnchorOptions, TrainConfig):
    """Full fine-tuning; all TrainConfig options apply, plus L2-SP and WiSE-FT."""


@register
@classifier_backed
class Finetune:
    name: ClassVar[str] = "finetune"
    config_cls: ClassVar[type] = FinetuneConfig
    tasks: ClassVar[tuple[str, ...]] = CLASSIFIER_TASK_NAMES
    cost: ClassVar[Cost] = Cost.GRADIENT
    row_weights: ClassVar[bool] = True

    def fit(self, backbone: BackboneRef | None, train: Target, valid: Target | None, config: FinetuneConfig,
            seed: int) -> FitReport:
        self.classifier_, start = start_classifier(backbone, train, config)
        return run_training(self.classifier_, train, valid, config, seed, start)
