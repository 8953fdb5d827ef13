"""`finetune`: every weight of backbone and head trains (AdamW, warmup + decay, early stopping)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from ..backbones import BackboneRef
from ..config import TrainConfig
from ..seeding import pick_device
from ..tasks import CLASSIFIER_TASK_NAMES
from ..training.loop import describe_run, train_classifier
from ..training.param_groups import layerwise_param_groups
from ..training.regularise import AnchorOptions, backbone_names, l2sp_penalty, snapshot, wise_interpolate
from ..training.seqcls import SequenceClassifier, classifier_backed, pretrained_classifier
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


def run_training(classifier: SequenceClassifier, train: Target, valid: Target | None, config: TrainConfig,
                 seed: int, start: float, **loop_kwargs) -> FitReport:
    """Train a SequenceClassifier with the shared loop and summarise it as a FitReport.

    Reads the optional options every trained strategy may have: `lr_decay` (layer-wise learning rates),
    `l2sp` and `wise` (pull toward the starting weights). Parameters with requires_grad=False stay frozen.
    """
    model = classifier.model.to(classifier.device)
    l2sp, wise = getattr(config, "l2sp", 0.0), getattr(config, "wise", 1.0)
    anchor = snapshot(model, backbone_names(model)) if l2sp > 0 or wise < 1 else {}
    if "param_groups" not in loop_kwargs and (getattr(config, "lr_decay", 1.0) != 1.0 or l2sp > 0):
        loop_kwargs["param_groups"] = layerwise_param_groups(
            model, config.lr, config.weight_decay, getattr(config, "lr_decay", 1.0),
            backbone_weight_decay=0.0 if l2sp > 0 else None)
    if l2sp > 0:
        loop_kwargs["penalties"] = [*loop_kwargs.get("penalties", ()), l2sp_penalty(model, anchor, l2sp)]
    state = train_classifier(model, classifier.tokenizer, train, valid, config, seed=seed,
                             device=classifier.device, **loop_kwargs)
    notes = describe_run(state, config)
    if wise < 1:
        wise_interpolate(model, anchor, wise)
        notes.append(f"WiSE-FT: backbone interpolated with alpha={wise} toward the pre-trained weights")
    trainable, total = classifier.parameter_counts()
    best = {"valid_score": state.best_score, "step": state.best_step} if state.history else {}
    if state.world_size > 1:
        notes.append(f"trained data-parallel on {state.world_size} processes (each batch split across them)")
    return FitReport(fit_seconds=time.perf_counter() - start, trainable_parameters=trainable,
                     total_parameters=total, history=state.history, best=best, notes=notes)
