"""Read a pool of unlabelled rows: the input of `label-next` and of `fit --unlabeled`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..data.examples import is_empty_text
from ..data.readers import _cell_text, _is_missing, read_frame, require_columns
from ..errors import DataError, expected


@dataclass
class Pool:
    """The unlabelled rows of a file, with where each came from.

    texts: the rows to propose or pseudo-label, in file order (empty texts and labelled rows left out).
    rows: the 0-based data row of each text in the file, so outputs can point back at it.
    labelled_texts: texts of the rows whose label column is filled; they are never treated as unlabelled.
    labelled_labels: their labels, as written.
    notes: one line per kind of row that was left out, to print.
    """

    texts: list[str]
    rows: list[int]
    source: str
    labelled_texts: list[str] = field(default_factory=list)
    labelled_labels: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)


def read_pool(path: str | os.PathLike, text_col: str = "text", label_col: str = "label") -> Pool:
    """Read the unlabelled rows of `path` (CSV, TSV, JSONL or Parquet).

    A pool may carry a label column: rows with a label there are set apart as already labelled (callers say
    what they do with them), rows without one form the pool. Empty texts are skipped and counted. A pool with
    no unlabelled row left is an error.
    """
    frame = read_frame(path)
    require_columns(frame, [text_col], str(path))
    texts = [_cell_text(v) for v in frame[text_col].tolist()]
    labels = frame[label_col].tolist() if label_col in frame.columns else [None] * len(texts)
    pool = Pool(texts=[], rows=[], source=str(path))
    empty = 0
    for row, (text, label) in enumerate(zip(texts, labels)):
        if is_empty_text(text):
            empty += 1
        elif not _is_missing(label):
            pool.labelled_texts.append(text)
            pool.labelled_labels.append(str(label))
        else:
            pool.texts.append(text)
            pool.rows.append(row)
    if empty:
        pool.notes.append(f"{empty} pool row(s) with an empty text skipped")
    if pool.labelled_texts:
        pool.notes.append(f"{len(pool.labelled_texts)} pool row(s) already carry a label in '{label_col}': "
                          "they are treated as labelled, never as unlabelled")
    if not pool.texts:
        got = (f"all {len(texts)} rows of {path} labelled or empty" if texts else f"no rows in {path}")
        raise DataError(expected(f"unlabelled rows (an empty '{label_col}' cell, or no '{label_col}' column)",
                                 got, "Pass the file of rows nobody has labelled yet."))
    return pool
