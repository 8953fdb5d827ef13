"""Source/target pairs for translation and summarization: reading, checks, truncation with one warning."""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..data.readers import read_frame, require_columns
from ..errors import DataError, expected


class TruncationWarning(Warning):
    """Some inputs were longer than the model's limit and were cut (not a UserWarning: the CLI shows it)."""


@dataclass
class Pairs:
    """Parallel texts: `targets` is None for unlabelled input (predict)."""

    sources: list[str]
    targets: list[str] | None = None
    source: str = "<memory>"
    extra: dict[str, list[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sources)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for i, s in enumerate(self.sources):
            h.update(s.encode())
            h.update(b"\x00" + (self.targets[i].encode() if self.targets else b"") + b"\x01")
        return h.hexdigest()[:16]


def read_pairs(path: str | os.PathLike, source_col: str = "source", target_col: str | None = "target",
               require_targets: bool = True) -> Pairs:
    """Read a JSONL/CSV/TSV/Parquet file of pairs. Missing columns and empty cells are `DataError`s."""
    frame = read_frame(path)
    columns = [source_col] + ([target_col] if target_col and (require_targets or target_col in frame.columns) else [])
    try:
        require_columns(frame, columns, str(path))
    except DataError as exc:
        raise DataError(str(exc).replace("--text-col / --label-col", "--source-col / --target-col")) from None
    sources = [_cell(v) for v in frame[source_col].tolist()]
    targets = [_cell(v) for v in frame[target_col].tolist()] if target_col and target_col in frame.columns else None
    return check_pairs(Pairs(sources, targets, str(path)), require_targets=require_targets and targets is not None)


def pairs_from_lists(sources: Sequence[str], targets: Sequence[str] | None = None, require_targets: bool = True) -> Pairs:
    """Pairs from Python lists, with the same checks as files."""
    if isinstance(sources, str):
        raise DataError(expected("a list of source texts", "a single string", "Wrap it in a list: [text]."))
    srcs = [_cell(s) for s in sources]
    tgts = None if targets is None else [_cell(t) for t in targets]
    if tgts is not None and len(tgts) != len(srcs):
        raise DataError(expected("as many targets as sources", f"{len(srcs)} sources and {len(tgts)} targets",
                                 "Pass parallel lists."))
    if require_targets and tgts is None:
        raise DataError(expected("target texts", "none", "Pass the targets (references) too."))
    return check_pairs(Pairs(srcs, tgts), require_targets=require_targets)


def check_pairs(pairs: Pairs, require_targets: bool = True) -> Pairs:
    if len(pairs) == 0:
        raise DataError(expected("at least one pair", f"none in {pairs.source}", "Add rows."))
    empty_src = [i for i, s in enumerate(pairs.sources) if not s.strip()]
    if empty_src:
        raise DataError(expected("a non-empty source text on every row",
                                 f"{len(empty_src)} empty (first: data row {empty_src[0] + 1}) in {pairs.source}",
                                 "Fill or drop those rows."))
    if require_targets and pairs.targets is not None:
        empty = [i for i, t in enumerate(pairs.targets) if not t.strip()]
        if empty:
            raise DataError(expected("a non-empty target on every row",
                                     f"{len(empty)} empty targets (first: data row {empty[0] + 1}) in {pairs.source}",
                                     "Fill or drop those rows; a model cannot learn to produce nothing."))
    return pairs


def truncate_tokens(token_lists: list[list[int]], limit: int, what: str) -> list[list[int]]:
    """Cut every list to `limit` tokens and warn ONCE with the count of cut ones."""
    cut = sum(1 for t in token_lists if len(t) > limit)
    if cut:
        warnings.warn(f"{cut} of {len(token_lists)} {what} were longer than {limit} tokens and were truncated "
                      f"(raise the limit with the max_source_length / max_target_length options)",
                      TruncationWarning, stacklevel=3)
    return [t[:limit] for t in token_lists]


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)
