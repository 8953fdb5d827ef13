"""`Examples`: the one in-memory shape of a labelled (or unlabelled) text data set."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import DataError, expected
from ..tasks import AUTO, CLASSIFICATION, infer_task, label_task


@dataclass
class Examples:
    """Texts with optional labels.

    `labels` holds class names (classification), lists of class names (multilabel),
    floats (regression) or is None (unlabelled, e.g. for predict).
    """

    texts: list[str]
    labels: list[Any] | None = None
    task: str = CLASSIFICATION.name  # a name in the task registry (headstart.tasks)
    source: str = "<memory>"
    extra: dict[str, list[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: Sequence[int] | np.ndarray) -> "Examples":
        idx = [int(i) for i in index]
        return Examples(
            texts=[self.texts[i] for i in idx],
            labels=None if self.labels is None else [self.labels[i] for i in idx],
            task=self.task,
            source=self.source,
            extra={k: [v[i] for i in idx] for k, v in self.extra.items()},
        )

    def classes(self) -> list[str]:
        """Sorted distinct class names (flattened for multilabel)."""
        return [] if self.labels is None else label_task(self.task).classes(self.labels)

    def fingerprint(self) -> str:
        """A short hash of texts and labels: recorded with a model so users know what it saw."""
        h = hashlib.sha256()
        for i, text in enumerate(self.texts):
            h.update(text.encode("utf-8"))
            h.update(b"\x00")
            if self.labels is not None:
                h.update(repr(self.labels[i]).encode("utf-8"))
            h.update(b"\x01")
        return h.hexdigest()[:16]


def from_lists(texts: Sequence[str], labels: Sequence[Any] | None, task: str = "auto") -> Examples:
    """Validate in-memory input (the Python API's entry) and build `Examples`."""
    if isinstance(texts, str):
        raise DataError(expected("a list of texts", "a single string", "Wrap it in a list: [text]."))
    texts = list(texts)
    if not texts:
        raise DataError(expected("at least one text", "an empty list", "Pass some training texts."))
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise DataError(
            expected("every text to be a string", f"{type(texts[bad[0]]).__name__} at position {bad[0]}"
                     f" ({len(bad)} non-strings in all)", "Convert texts with str() or drop those rows.")
        )
    if labels is None:
        return Examples(texts=texts, labels=None, task=CLASSIFICATION.name if task == AUTO else task)
    labels = list(labels)
    if len(labels) != len(texts):
        raise DataError(expected(f"{len(texts)} labels, one per text", f"{len(labels)} labels",
                                 "Pass texts and labels of the same length."))
    resolved = infer_task(labels) if task == AUTO else label_task(task)
    return Examples(texts=texts, labels=resolved.parse_labels(labels), task=resolved.name)


def is_empty_text(text: str) -> bool:
    """The one rule for a text too empty to use: nothing but whitespace. `fit` refuses such training texts,
    `--drop-empty` drops them and the server answers 422 for them."""
    return not text.strip()


def unencodable_at(text: str) -> int | None:
    """Position of the first character UTF-8 cannot encode (a lone surrogate, which JSON's \\ud800 escapes
    can produce and tokenizers reject), or None when the whole text encodes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def check_trainable(train: Examples, min_per_class: int = 1) -> None:
    """Errors for data that cannot train anything: missing labels, one class, empty texts."""
    if train.labels is None:
        raise DataError(expected("labels for training", "no labels", "Give the label column (--label-col)."))
    empty = [i for i, t in enumerate(train.texts) if is_empty_text(t)]
    if empty:
        raise DataError(
            expected("non-empty texts", f"{len(empty)} empty texts (first at row {empty[0] + 1}) in {train.source}",
                     "Drop them (--drop-empty) or fill them in.")
        )
    if not label_task(train.task).has_classes:
        values = np.asarray(train.labels, dtype=float)
        if not np.all(np.isfinite(values)):
            raise DataError(expected("finite numeric labels", "NaN or infinite values", "Clean the label column."))
        if np.ptp(values) == 0:
            raise DataError(expected("labels that vary", f"every label equal to {values[0]}", "Check the label column."))
        return
    classes = train.classes()
    if len(classes) < 2:
        raise DataError(
            expected("at least two classes", f"only {classes!r} in {train.source}",
                     "A classifier needs examples of two or more classes; check the label column.")
        )
