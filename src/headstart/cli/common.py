"""Options and printing shared by several commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..config import Options, opt
from ..data import read_examples
from ..data.examples import Examples
from ..data.pipeline import from_flags


@dataclass
class ColumnArgs(Options):
    text_col: str = opt("text", "column holding the text")
    label_col: str = opt("label", "column holding the label(s)")
    task: Literal["auto", "classification", "multilabel", "regression"] = opt(
        "auto", "the task; regression is never guessed, multilabel splits cells on --label-sep")
    label_sep: str = opt("|", "separator between labels in one cell, for --task multilabel")


@dataclass
class PreprocessArgs(Options):
    lowercase: bool = opt(False, "lower-case every text")
    normalize: bool = opt(False, "Unicode NFC and collapsed whitespace")
    strip_html: bool = opt(False, "remove HTML tags and unescape entities")
    drop_empty: bool = opt(False, "drop rows whose text is empty (otherwise they are an error)")
    min_chars: int = opt(0, "drop texts shorter than this many characters (0: keep all)", min=0)
    max_chars: int = opt(0, "drop texts longer than this many characters (0: keep all)", min=0)
    dedupe: bool = opt(False, "keep only the first row of each exact duplicate text")


def read_labelled(path: str, cols: ColumnArgs, pre: PreprocessArgs | None = None, task: str | None = None,
                  quiet: bool = False) -> Examples:
    examples = read_examples(path, cols.text_col, cols.label_col, task or cols.task, cols.label_sep)
    if pre is not None:
        pipeline = from_flags(pre.lowercase, pre.normalize, pre.strip_html, pre.drop_empty, pre.min_chars,
                              pre.max_chars, pre.dedupe)
        if pipeline.steps:
            examples, dropped = pipeline(examples)
            dropped = {k: v for k, v in dropped.items() if v}
            if dropped and not quiet:
                print(f"preprocessing dropped rows: {dropped}")
    return examples


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A plain aligned text table."""
    if not rows:
        return "(none)"
    columns = columns or list(rows[0])
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)
