"""Read CSV, TSV, JSONL and Parquet files into `Examples`, with clear errors for bad files."""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError, expected
from ..tasks import AUTO, label_task
from .examples import Examples, from_lists

FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


def read_frame(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table by its extension. Every cell of a text file is read as a string."""
    path = Path(path)
    if not path.exists():
        raise DataError(expected("an existing data file", f"no file at {path}", "Check the path and spelling."))
    if path.is_dir():
        raise DataError(expected("a data file", f"a folder at {path}", "Pass the CSV/TSV/JSONL/Parquet file inside it."))
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(expected("a .csv, .tsv, .jsonl or .parquet file", f"'{path.suffix or 'no extension'}' ({path})",
                                 "Convert the file or rename it with the right extension."))
    if path.stat().st_size == 0:
        raise DataError(expected("a file with a header and rows", f"an empty file ({path})", "Check the file."))
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(path)
        elif fmt == "jsonl":
            frame = _read_jsonl(path)
        else:
            # strict utf-8 so that mojibake is reported instead of silently trained on
            frame = pd.read_csv(path, sep="," if fmt == "csv" else "\t", dtype=str, keep_default_na=False,
                                encoding="utf-8", encoding_errors="strict")
    except UnicodeDecodeError:
        # the exception's offset is relative to whatever chunk the parser decoded: find the byte in the file
        offset, line, byte = first_non_utf8(path)
        where = (f"a byte that is not UTF-8 (0x{byte:02x}) at byte offset {offset}, line {line} of {path}"
                 if offset >= 0 else f"bytes that are not UTF-8 in {path}")
        raise DataError(expected("UTF-8 text", where,
                                 "Re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8).")) from None
    except pd.errors.EmptyDataError:
        raise DataError(expected("a file with a header and rows", f"no columns in {path}", "Check the file.")) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(expected(f"a well-formed {fmt} file", f"a parse error in {path}: {exc}",
                                 "Fix the malformed row (unbalanced quotes are the usual cause).")) from None
    if len(frame) == 0:
        raise DataError(expected("at least one data row", f"only a header in {path}", "Add rows to the file."))
    return frame


def first_non_utf8(path: str | os.PathLike, chunk_size: int = 1 << 20) -> tuple[int, int, int]:
    """(byte offset in the file, 1-based line, the byte) of the first byte that is not valid UTF-8.

    Streams the file, so a bad byte deep in a large file costs one pass and constant memory. (-1, 0, 0)
    when the whole file decodes.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    fed = 0  # bytes given to the decoder so far
    lines = 1
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(chunk_size)
            pending = decoder.getstate()[0]  # an incomplete sequence carried over from the previous chunk
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                data = pending + chunk
                start = fed - len(pending) + exc.start
                return start, lines + data[:exc.start].count(b"\n"), data[exc.start]
            if not chunk:
                return -1, 0, 0
            fed += len(chunk)
            lines += chunk.count(b"\n")


def _read_jsonl(path: Path) -> pd.DataFrame:
    rows = []
    # utf-8-sig: a byte-order mark (Windows editors write one) is skipped, as the CSV reader does
    with open(path, encoding="utf-8-sig", errors="strict") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(expected("one JSON object per line", f"invalid JSON on line {number} of {path} ({exc.msg})",
                                         "Fix or remove that line.")) from None
            except RecursionError:
                raise DataError(expected("one JSON object per line", f"JSON nested too deeply on line {number} of "
                                         f"{path}", "Fix or remove that line.")) from None
            if not isinstance(row, dict):
                raise DataError(expected("one JSON object per line ({\"text\": ..., \"label\": ...})",
                                         f"a JSON {_json_kind(row)} on line {number} of {path}",
                                         "Write each row as an object keyed by column name.")) from None
            rows.append(row)
    return pd.DataFrame(rows)


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def require_columns(frame: pd.DataFrame, columns: list[str], path: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(expected(f"column(s) {missing}", f"columns {list(frame.columns)} in {path}",
                                 "Name the right columns with --text-col / --label-col."))


def read_examples(
    path: str | os.PathLike,
    text_col: str = "text",
    label_col: str | None = "label",
    task: str = "auto",
    label_sep: str | None = None,
    require_labels: bool = True,
) -> Examples:
    """Read a labelled (or, with `require_labels=False`, possibly unlabelled) text file.

    For `task="multilabel"`, labels in a cell are split on `label_sep` (default '|').
    """
    frame = read_frame(path)
    columns = [text_col] + ([label_col] if label_col and (require_labels or label_col in frame.columns) else [])
    require_columns(frame, columns, str(path))
    texts = [_cell_text(v) for v in frame[text_col].tolist()]
    labels: list[Any] | None = None
    if label_col and label_col in frame.columns:
        raw = frame[label_col].tolist()
        missing = [i for i, v in enumerate(raw) if _is_missing(v)]
        if missing:
            raise DataError(expected(f"a label on every row of column '{label_col}'",
                                     f"{len(missing)} rows without one (first: data row {missing[0] + 1}) in {path}",
                                     "Fill or drop those rows."))
        if task != AUTO and label_task(task).multi_label:
            sep = label_sep or "|"
            raw = [[p.strip() for p in str(v).split(sep) if p.strip()] for v in raw]
        labels = raw
    examples = from_lists(texts, labels, task=task) if labels is not None else Examples(texts=texts)
    if task != AUTO and labels is None:
        examples.task = task  # type: ignore[assignment]
    examples.source = str(path)
    return examples


def _cell_text(value: Any) -> str:
    return "" if _is_missing(value) else str(value)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not value.strip()
