"""`top-k` and `head-only`: fine-tune the output layers while the core learned features stay frozen.

`top-k` trains the top k transformer layers plus everything above the layer stack (pooler, final
norm, classification head); `head-only` is k=0. Frozen parameters never change (bit-identical).
Saved models are plain Hugging Face folders, like `finetune`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..backbones import BackboneRef
from ..config import TrainConfig, opt
from ..tasks import CLASSIFIER_TASK_NAMES
from ..training.param_groups import layer_map, set_trainable, top_k_names
from ..training.regularise import AnchorOptions
from ..training.run import run_training
from ..training.seqcls import SequenceClassifier, classifier_backed, start_classifier
from .registry import Cost, FitReport, Target, register


@dataclass
class TopKConfig(AnchorOptions, TrainConfig):
    k: int = opt(2, "transformer layers trained, counted from the top (0: head only; more than the model has: "
                    "all layers and the embeddings)", min=0)


@dataclass
class HeadOnlyConfig(TrainConfig):
    # Only the head (and pooler) learns, from scratch: a larger step size suits it.
    lr: float = opt(1e-3, "peak learning rate of AdamW", gt=0)


def fit_top_k(backbone: BackboneRef | None, train: Target, valid: Target | None, config: TrainConfig, k: int,
              seed: int) -> tuple[SequenceClassifier, FitReport]:
    """A pre-trained classifier with everything below the top k layers frozen, trained with the shared loop."""
    classifier, start = start_classifier(backbone, train, config)
    lmap = layer_map(classifier.model)
    set_trainable(classifier.model, top_k_names(lmap, k))
    report = run_training(classifier, train, valid, config, seed, start)
    report.notes.append(f"trained the top {min(k, lmap.n_layers)} of {lmap.n_layers} layers and the head")
    return classifier, report


@register
@classifier_backed
class TopK:
    name: ClassVar[str] = "top-k"
    config_cls: ClassVar[type] = TopKConfig
    tasks: ClassVar[tuple[str, ...]] = CLASSIFIER_TASK_NAMES
    cost: ClassVar[Cost] = Cost.GRADIENT
    row_weights: ClassVar[bool] = True

    def fit(self, backbone: BackboneRef | None, train: Target, valid: Target | None, config: TopKConfig,
            seed: int) -> FitReport:
        self.classifier_, report = fit_top_k(backbone, train, valid, config, config.k, seed)
        return report


@register
@classifier_backed
class HeadOnly:
    name: ClassVar[str] = "head-only"
    config_cls: ClassVar[type] = HeadOnlyConfig
    tasks: ClassVar[tuple[str, ...]] = CLASSIFIER_TASK_NAMES
    cost: ClassVar[Cost] = Cost.GRADIENT
    row_weights: ClassVar[bool] = True

    def fit(self, backbone: BackboneRef | None, train: Target, valid: Target | None, config: HeadOnlyConfig,
            seed: int) -> FitReport:
        self.classifier_, report = fit_top_k(backbone, train, valid, config, 0, seed)
        return report
