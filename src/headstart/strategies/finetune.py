"""`finetune`: every weight of backbone and head trains (AdamW, warmup + decay, early stopping)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from ..backbones import BackboneRef
from ..config import TrainConfig
from ..seeding import pick_device
from ..tasks import CLASSIFIER_TASK_NAMES
from ..training.regularise import AnchorOptions
from ..training.run import run_training
from ..training.seqcls import classifier_backed, pretrained_classifier
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

    def fit(self, backbone: BackboneRef | None, train: Target, valid: Target | None, config: FinetuneConfig,
            seed: int) -> FitReport:
        assert backbone is not None
        start = time.perf_counter()
        device = pick_device(config.device)
        self.classifier_ = pretrained_classifier(backbone, train, config.max_length, device)
        return run_training(self.classifier_, train, valid, config, seed, start)
