"""Preprocessing composed from plain functions.

* map functions take a `Row` and return a `Row` (e.g. normalise the text);
* filter predicates take a `Row` and return True to keep it;
* summary statistics are folds: `fold(step, initial, rows)`.

`Pipeline().map(normalize_text).filter(non_empty)` applied to `Examples` returns the new `Examples`
and how many rows each filter dropped, so nothing disappears silently.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, NamedTuple, TypeVar

from ..tasks import label_task
from .examples import Examples, is_empty_text

T = TypeVar("T")


class Row(NamedTuple):
    text: str
    label: Any = None


MapFn = Callable[[Row], Row]
FilterFn = Callable[[Row], bool]


@dataclass(frozen=True)
class Pipeline:
    steps: tuple[tuple[str, Callable[[Row], Any]], ...] = field(default_factory=tuple)

    def map(self, fn: MapFn) -> "Pipeline":
        return Pipeline(self.steps + (("map", fn),))

    def filter(self, fn: FilterFn) -> "Pipeline":
        return Pipeline(self.steps + (("filter", fn),))

    def __call__(self, examples: Examples) -> tuple[Examples, dict[str, int]]:
        labels = examples.labels if examples.labels is not None else [None] * len(examples)
        rows = [Row(t, l) for t, l in zip(examples.texts, labels)]
        keep = list(range(len(rows)))
        dropped: dict[str, int] = {}
        for kind, fn in self.steps:
            if kind == "map":
                rows = [fn(r) for r in rows]
            else:
                mask = [bool(fn(r)) for r in rows]
                dropped[_name(fn)] = dropped.get(_name(fn), 0) + mask.count(False)
                rows = [r for r, m in zip(rows, mask) if m]
                keep = [k for k, m in zip(keep, mask) if m]
        out = examples.subset(keep)
        out.texts = [r.text for r in rows]
        if examples.labels is not None:
            out.labels = [r.label for r in rows]
        return out, dropped


def fold(step: Callable[[T, Row], T], initial: T, rows: Iterable[Row]) -> T:
    """Reduce rows to a summary: `fold(lambda n, r: n + 1, 0, rows)` counts them."""
    return functools.reduce(step, rows, initial)


def rows_of(examples: Examples) -> list[Row]:
    labels = examples.labels if examples.labels is not None else [None] * len(examples)
    return [Row(t, l) for t, l in zip(examples.texts, labels)]


def _name(fn: Callable) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


# --- map functions -------------------------------------------------------------------------------
def on_text(fn: Callable[[str], str]) -> MapFn:
    """Lift a text -> text function to a row map."""
    def mapped(row: Row) -> Row:
        return row._replace(text=fn(row.text))
    mapped.__name__ = _name(fn)
    return mapped


_SPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]{1,200}>")


def normalize_text(row: Row) -> Row:
    """Unicode NFC and collapsed whitespace."""
    return row._replace(text=_SPACE.sub(" ", unicodedata.normalize("NFC", row.text)).strip())


def lowercase(row: Row) -> Row:
    return row._replace(text=row.text.lower())


def strip_html(row: Row) -> Row:
    return row._replace(text=html.unescape(_TAG.sub(" ", row.text)))


# --- filter predicates ---------------------------------------------------------------------------
def non_empty(row: Row) -> bool:
    return not is_empty_text(row.text)


def min_chars(n: int) -> FilterFn:
    def min_chars(row: Row) -> bool:
        return len(row.text) >= n
    return min_chars


def max_chars(n: int) -> FilterFn:
    def max_chars(row: Row) -> bool:
        return len(row.text) <= n
    return max_chars


def unique_text() -> FilterFn:
    """Keep the first row of each exact text (a stateful predicate: build a new one per pass)."""
    seen: set[str] = set()

    def unique_text(row: Row) -> bool:
        if row.text in seen:
            return False
        seen.add(row.text)
        return True
    return unique_text


# --- folds ---------------------------------------------------------------------------------------
def summarize(examples: Examples) -> dict[str, Any]:
    """Row count, text length statistics and label counts, each computed as a fold."""
    rows = rows_of(examples)
    n, total, longest, shortest = fold(
        lambda acc, r: (acc[0] + 1, acc[1] + len(r.text), max(acc[2], len(r.text)), min(acc[3], len(r.text))),
        (0, 0, 0, 10**9), rows)

    task = label_task(examples.task)

    def count_labels(acc: dict[str, int], r: Row) -> dict[str, int]:
        for label in (r.label if isinstance(r.label, list) else [r.label]):
            if label is not None and task.has_classes:
                acc[str(label)] = acc.get(str(label), 0) + 1
        return acc

    return {"rows": n, "mean_chars": round(total / max(n, 1), 1), "max_chars": longest,
            "min_chars": 0 if n == 0 else shortest, "labels": dict(sorted(fold(count_labels, {}, rows).items()))}


def from_flags(lowercase_text: bool = False, normalize: bool = False, html_strip: bool = False,
               drop_empty: bool = False, min_len: int = 0, max_len: int = 0, dedupe: bool = False) -> Pipeline:
    """The common cases, as the CLI flags name them."""
    p = Pipeline()
    if html_strip:
        p = p.map(strip_html)
    if normalize:
        p = p.map(normalize_text)
    if lowercase_text:
        p = p.map(lowercase)
    if drop_empty:
        p = p.filter(non_empty)
    if min_len:
        p = p.filter(min_chars(min_len))
    if max_len:
        p = p.filter(max_chars(max_len))
    if dedupe:
        p = p.filter(unique_text())
    return p


__all__ = ["Pipeline", "Row", "fold", "normalize_text", "lowercase", "strip_html", "non_empty", "min_chars",
           "max_chars", "unique_text", "summarize", "from_flags", "on_text", "replace"]
