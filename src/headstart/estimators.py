"""The estimators behind every command, and the one place that chooses between them.

A saved folder's `headstart.json` records its estimator `kind` (classifier folders predate the field and
leave it out); `fit` chooses from the task. `evaluate`, `predict`, `serve` and `export` load through
`load_estimator`, so no command looks at a folder to guess what it holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, Sequence

from .classifier import TextClassifier
from .errors import ModelError, expected
from .generation.model import Seq2SeqModel
from .model_folder import CLASSIFIER_KIND, GENERATION_KIND, model_kind, read_metadata
from .tasks import is_generation


class Estimator(Protocol):
    """What every headstart estimator offers (besides scikit-learn's get_params/set_params)."""

    kind: str  # the `kind` its saved folder records
    task_: str
    metadata_: dict[str, Any]  # headstart.json, once loaded

    def fit(self, X: Any, y: Any = None, *args: Any, **kwargs: Any) -> "Estimator": ...
    def predict(self, X: Sequence[str]) -> list[Any]: ...
    def evaluate(self, X: Any, y: Any = None) -> dict[str, Any]: ...
    def score(self, X: Sequence[str], y: Sequence[Any]) -> float: ...
    def save(self, folder: str | Path) -> Path: ...


ESTIMATORS: dict[str, type] = {CLASSIFIER_KIND: TextClassifier, GENERATION_KIND: Seq2SeqModel}


def kind_for_task(task: str | None) -> str:
    """The estimator kind that fits `task` (a generation task, or anything a classifier reads)."""
    return GENERATION_KIND if is_generation(task) else CLASSIFIER_KIND


def load_estimator(folder: str | Path, verify: bool = True, kinds: Sequence[str] | None = None) -> Estimator:
    """Load a saved model with the estimator its headstart.json names.

    `kinds` limits what the caller can use (e.g. only classifiers can be served); another kind is a
    ModelError naming what the folder holds, raised before any weights are read."""
    kind = model_kind(read_metadata(folder))
    if kind not in ESTIMATORS or (kinds is not None and kind not in kinds):
        wanted = " or ".join(kinds or ESTIMATORS)
        raise ModelError(expected(f"a {wanted} model folder", f"a {kind} model at {folder}",
                                  "Pass a folder that `headstart fit` wrote for such a task."))
    return ESTIMATORS[kind].load(folder, verify=verify)
