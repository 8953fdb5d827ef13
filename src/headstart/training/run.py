"""`run_training`: what every gradient strategy runs once it has built its SequenceClassifier."""

from __future__ import annotations

import time

from ..config import TrainConfig
from ..strategies.registry import FitReport
from ..targets import Target
from .loop import describe_run, train_classifier
from .param_groups import layerwise_param_groups
from .regularise import backbone_names, l2sp_penalty, snapshot, wise_interpolate
from .seqcls import SequenceClassifier


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
