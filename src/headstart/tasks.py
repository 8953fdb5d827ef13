"""The task registry: one object per task, owning its loss, output activation, score->label decoding, metrics,
Hugging Face `problem_type`, data columns and default strategy. Code asks the task (`label_task(name).decode(...)`)
rather than comparing names; the name stays the string that data, headstart.json and the CLI carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np

from .errors import ConfigError, DataError, expected
from .evaluation.metrics import classification_metrics, multilabel_metrics, regression_metrics

AUTO = "auto"  # not a task: "let the labels decide" (lists of labels read as multilabel, the rest classification)


class Task(Protocol):
    """What every task declares; `LabelTask` and `GenerationTask` add what their estimator needs."""

    name: str
    generation: bool  # pairs of texts in, text out (Seq2SeqModel) rather than labels (TextClassifier)
    default_strategy: str
    primary_metric: str  # what `score` returns and `compare` ranks by unless told otherwise
    columns: tuple[str, str]  # default (input, target) columns of a data file


@dataclass(frozen=True)
class LabelTask:
    """A task of `TextClassifier`: texts in, class names, lists of them or numbers out. What differs is data:
    the rest follows from `output` (softmax: one class, sigmoid: each class on or off, identity: the value)."""

    name: str
    output: str  # the head's output activation: "softmax", "sigmoid" or "identity" (heads.Output)
    problem_type: str  # the Hugging Face config's problem_type
    primary_metric: str
    metrics: tuple[str, ...]  # the metrics `compare` can rank by (higher is better)
    score_name: str  # what `validation_score` measures, for progress lines
    columns: tuple[str, str] = ("text", "label")
    default_strategy: str = "probe"
    generation: bool = False

    @property
    def has_classes(self) -> bool:  # False for regression: no class names, one output, no label counts
        return self.output != "identity"

    @property
    def single_label(self) -> bool:  # one class per row: calibration, abstaining, class weights, bias audits
        return self.output == "softmax"

    @property
    def multi_label(self) -> bool:  # any number of classes per row, each decided by the threshold
        return self.output == "sigmoid"

    # -- labels ------------------------------------------------------------------------------------
    def parse_labels(self, labels: list[Any]) -> list[Any]:
        """Labels as given (the Python API, a file) to their one in-memory form."""
        if not self.has_classes:
            try:
                return [float(v) for v in labels]
            except (TypeError, ValueError) as exc:
                raise DataError(expected(f"numeric labels for {self.name}", f"a non-number ({exc})",
                                         f"Fix the label column or use task='{CLASSIFICATION.name}'.")) from None
        if self.multi_label:
            return [sorted({str(c) for c in (row if isinstance(row, (list, tuple, set)) else [row])})
                    for row in labels]
        return [_label_name(v) for v in labels]

    def row_classes(self, label: Any) -> list[Any]:
        """The class names in one row's label (none for regression)."""
        if not self.has_classes:
            return []
        return list(label) if self.multi_label else [label]

    def classes(self, labels: Sequence[Any]) -> list[str]:
        """Sorted distinct class names (flattened for multilabel)."""
        return sorted({c for label in labels for c in self.row_classes(label)})

    def strata(self, labels: Sequence[Any]) -> list[Any]:
        """A group per row for stratified splits and per-class samples (multilabel: its first label)."""
        if not self.has_classes:
            return [0] * len(labels)
        if self.multi_label:
            return ["|".join(row[:1]) for row in labels]
        return list(labels)

    def encode(self, labels: Sequence[Any], classes: Sequence[str]) -> np.ndarray:
        """Labels to what strategies train on: class ids, a 0/1 matrix or float values. Labels must be known."""
        if not self.has_classes:
            return np.asarray(labels, dtype=np.float32)
        index = {c: i for i, c in enumerate(classes)}
        if self.single_label:
            return np.asarray([index[c] for c in labels], dtype=np.int64)
        y = np.zeros((len(labels), len(classes)), dtype=np.float32)
        for i, row in enumerate(labels):
            y[i, [index[c] for c in row]] = 1.0
        return y

    def n_outputs(self, classes: Sequence[str]) -> int:
        """Output columns of a model: one per class, or one value."""
        return len(classes) if self.has_classes else 1

    # -- scores ------------------------------------------------------------------------------------
    def empty_scores(self, classes: Sequence[str]) -> np.ndarray:
        """The scores of no rows, shaped as those of some rows would be."""
        return np.zeros((0, len(classes)) if self.has_classes and classes else (0,), dtype=np.float32)

    def decode(self, scores: np.ndarray, classes: Sequence[str], threshold: float = 0.5) -> list[Any]:
        """Scores (probabilities or values) to labels: the best class, the classes over threshold, or the value."""
        if not self.has_classes:
            return [float(v) for v in np.ravel(scores)]
        if self.multi_label:
            return [[c for c, on in zip(classes, row >= threshold) if on] for row in scores]
        return [classes[i] for i in scores.argmax(axis=1)]

    def evaluate(self, labels: Sequence[Any], y: np.ndarray, scores: np.ndarray, classes: list[str],
                 threshold: float = 0.5) -> dict[str, Any]:
        """Every metric of the task for encoded targets `y` (and their label names) against `scores`."""
        if not self.has_classes:
            return regression_metrics(y, np.ravel(scores))
        if self.multi_label:
            return multilabel_metrics(y.astype(int), (scores >= threshold).astype(int), classes)
        return classification_metrics(list(labels), self.decode(scores, classes), classes)

    def validation_score(self, outputs: np.ndarray, y: np.ndarray) -> float:
        """Higher is better: accuracy, micro-F1 (multilabel) or negative MSE (regression); cheap, for early stopping."""
        if not self.has_classes:
            return -float(np.mean((outputs - y) ** 2))
        if self.multi_label:
            pred = outputs >= 0.5
            tp = float((pred & (y > 0.5)).sum())
            return 2 * tp / max(1.0, float(pred.sum() + (y > 0.5).sum()))
        return float((outputs.argmax(1) == y).mean())

    # -- torch -------------------------------------------------------------------------------------
    def target_tensor(self, y: np.ndarray):
        """`y` as the tensor the loss expects: class ids as int64, everything else float32."""
        import torch

        return torch.as_tensor(y, dtype=torch.long if self.single_label else torch.float32)

    def loss(self, logits, y, class_weights=None, row_weights=None):
        """Cross-entropy (optionally class-weighted), binary cross-entropy per class, or mean squared error.
        `row_weights` (a tensor (n,), or None for all 1) gives the weighted mean of the rows' losses."""
        import torch.nn.functional as F

        if not self.has_classes:
            per_row = F.mse_loss(logits.squeeze(-1), y, reduction="none")
        elif self.multi_label:
            per_row = F.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(-1)
        elif row_weights is None:
            return F.cross_entropy(logits, y, weight=class_weights)
        else:
            # cross_entropy's own weighting (class_weights) normalises by the summed class weights; with row
            # weights too, each row counts class_weight[y] * row_weight, normalised by the sum of both
            per_row = F.cross_entropy(logits, y, reduction="none")
            if class_weights is not None:
                row_weights = row_weights * class_weights[y]
        if row_weights is None:
            return per_row.mean()
        return (per_row * row_weights).sum() / row_weights.sum().clamp_min(1e-12)

    def activate(self, logits):
        """Logits to the scores users see: softmax, sigmoid, or the value itself."""
        import torch

        if not self.has_classes:
            return logits.squeeze(-1)
        return torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, -1)


@dataclass(frozen=True)
class GenerationTask:
    """A task of `Seq2SeqModel`: source texts in, target texts out."""

    name: str
    columns: tuple[str, str]
    primary_metric: str
    metric_families: tuple[str, ...]  # generation/metrics.py families, the task's own first
    prompt: str  # the default prompt of decoder-only models
    chat_prompt: str  # the same in chat form: no trailing cue, the assistant turn already says "answer now"
    default_strategy: str = "lora"
    generation: bool = True


CLASSIFICATION = LabelTask("classification", "softmax", "single_label_classification", "accuracy",
                           ("accuracy", "macro_f1"), score_name="accuracy")
MULTILABEL = LabelTask("multilabel", "sigmoid", "multi_label_classification", "micro_f1",
                       ("micro_f1", "macro_f1", "subset_accuracy"), score_name="micro_f1")
REGRESSION = LabelTask("regression", "identity", "regression", "r2", ("r2", "pearson", "spearman"),
                       score_name="neg_mse")
TRANSLATE = GenerationTask(
    "translate", ("source", "target"), "bleu", ("translation", "summarization"),
    prompt="Translate {source_lang} to {target_lang}:\n{source}\n{target_lang}:",
    chat_prompt="Translate this {source_lang} text to {target_lang}. Reply with the translation only.\n\n{source}")
SUMMARIZE = GenerationTask(
    "summarize", ("document", "summary"), "rougeL", ("summarization", "translation"),
    prompt="Write the subject line of this email:\n{source}\nSubject:",
    chat_prompt="Write the subject line of this email. Reply with the subject line only.\n\n{source}")

CLASSIFIER_TASKS: tuple[LabelTask, ...] = (CLASSIFICATION, MULTILABEL, REGRESSION)
GENERATION_TASKS: tuple[GenerationTask, ...] = (TRANSLATE, SUMMARIZE)
CLASSIFIER_TASK_NAMES: tuple[str, ...] = tuple(t.name for t in CLASSIFIER_TASKS)
GENERATION_TASK_NAMES: tuple[str, ...] = tuple(t.name for t in GENERATION_TASKS)
_BY_NAME: dict[str, LabelTask | GenerationTask] = {t.name: t for t in (*CLASSIFIER_TASKS, *GENERATION_TASKS)}


def task_names() -> list[str]:
    """Every task, classifier tasks first."""
    return list(_BY_NAME)


def get_task(name: str) -> Task:
    """The task called `name`; a `ConfigError` that lists them otherwise."""
    return _named(name, (LabelTask, GenerationTask),
                  ConfigError(expected(f"a task ({', '.join(_BY_NAME)})", repr(name), "Choose a supported task.")))


def label_task(name: str) -> LabelTask:
    """The classifier task called `name`: the error `from_lists` has always given for another name."""
    return _named(name, LabelTask, DataError(expected(f"task one of {', '.join(CLASSIFIER_TASK_NAMES)}", repr(name),
                                                      "Choose a supported task.")))


def generation_task(name: str) -> GenerationTask:
    """The generation task called `name`, or a `ConfigError` naming them."""
    return _named(name, GenerationTask, ConfigError(expected(
        f"a generation task ({', '.join(GENERATION_TASK_NAMES)})", repr(name), "Pick one of them.")))


def _named(name: str, kind: Any, error: Exception) -> Any:
    task = _BY_NAME.get(name)
    if not isinstance(task, kind):
        raise error
    return task


def is_generation(name: Any) -> bool:
    """True when `name` names a generation task (False for anything else, 'auto' and None included)."""
    return isinstance(name, str) and getattr(_BY_NAME.get(name), "generation", False)


def infer_task(labels: Sequence[Any]) -> LabelTask:
    """Lists per row mean multilabel; everything else is classification unless asked otherwise.

    Regression is never guessed: integer class ids look numeric too.
    """
    if labels and all(isinstance(v, (list, tuple, set)) for v in labels):
        return MULTILABEL
    return CLASSIFICATION


def _label_name(value: Any) -> str:
    """Class names are strings; 1.0 and 1 both become '1' so numeric ids round-trip through CSV."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)
