"""`headstart predict`: label and probabilities for every row of a file, streamed in chunks."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd

from ..config import Options, opt
from ..data.readers import FORMATS, read_frame, require_columns
from ..errors import DataError, expected
from ..estimators import load_estimator
from ..evaluation.calibration import abstain_mask
from ..model_folder import GENERATION_KIND
from ..progress import bar as progress_bar
from ..tasks import label_task
from . import generation
from .args import options_adder, parse_into
from .common import ModelTaskArgs, check_model_task


@dataclass
class PredictArgs(Options):
    model: str = opt(None, "model folder written by `headstart fit`", positional=True)
    data: str = opt(None, "file with texts: .csv, .tsv, .jsonl or .parquet", positional=True)
    output: str = opt("predictions.csv", "where to write predictions (.csv or .jsonl)", aliases=("-o",))
    text_col: str = opt("text", "column holding the text")
    chunk_size: int = opt(1024, "rows read, predicted and written at a time (bounds memory)", min=1)
    quiet: bool = opt(False, "no progress bar")
    abstain_below: float = opt(0.0, "classification: predict --abstain-label when the top probability is below this",
                                min=0, max=1)
    abstain_label: str = opt("abstain", "label written for rows that abstain (see --abstain-below)")
    resume: bool = opt(False, "continue a stopped run: keep the rows already in OUTPUT (or its .partial file), "
                              "predict only the rest and append them; an interrupted --resume run keeps its .partial")


def iter_chunks(path: str, text_col: str, chunk_size: int) -> Iterator[pd.DataFrame]:
    """Rows in chunks without reading the whole file (CSV/TSV/JSONL); Parquet is read by row groups."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt in ("csv", "tsv"):
        options = dict(sep="," if fmt == "csv" else "\t", dtype=str, keep_default_na=False, encoding="utf-8")
        require_columns(pd.read_csv(path, nrows=1, **options), [text_col], path)
        yield from pd.read_csv(path, chunksize=chunk_size, encoding_errors="strict", **options)
    elif fmt == "jsonl":
        for chunk in pd.read_json(path, lines=True, chunksize=chunk_size, dtype=False):
            require_columns(chunk, [text_col], path)
            yield chunk
    else:
        frame = read_frame(path)
        require_columns(frame, [text_col], path)
        for start in range(0, len(frame), chunk_size):
            yield frame.iloc[start:start + chunk_size]


def count_rows(path: str) -> int | None:
    if FORMATS.get(Path(path).suffix.lower()) in ("csv", "tsv", "jsonl"):
        with open(path, "rb") as fh:
            return sum(1 for _ in fh) - (0 if path.endswith(".jsonl") else 1)
    return None


def run(args: argparse.Namespace) -> int:
    pa = parse_into(args, PredictArgs)
    parse_into(args, generation.DecodingArgs)  # out-of-range decoding options stop before any model loads
    clf = load_estimator(pa.model)
    check_model_task(parse_into(args, ModelTaskArgs).task, clf.task_, pa.model)
    out = Path(pa.output)
    if out.suffix not in (".csv", ".jsonl"):
        raise DataError(expected("an output ending in .csv or .jsonl", str(out), "Rename the -o file."))
    if clf.kind == GENERATION_KIND:
        return generation.run_predict(args, clf, pa)
    read_frame(pa.data)  # same clear errors as everywhere for a missing/empty/non-UTF-8 file
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    done, columns = prepare_resume(out, tmp) if pa.resume else (0, None)
    if not pa.resume:
        tmp.unlink(missing_ok=True)
    bar = progress_bar(count_rows(pa.data), "predicting", "row", enabled=not pa.quiet, initial=done)
    rows, seen = done, 0
    try:
        with open(tmp, "a" if done else "w", encoding="utf-8", newline="") as fh:
            for chunk in iter_chunks(pa.data, pa.text_col, pa.chunk_size):
                skip = min(len(chunk), max(0, done - seen))  # rows a previous run already wrote
                seen += len(chunk)
                chunk = chunk.iloc[skip:]
                if chunk.empty:
                    continue
                texts = ["" if v is None else str(v) for v in chunk[pa.text_col].tolist()]
                result = predictions_frame(clf, chunk, texts, pa.abstain_below, pa.abstain_label)
                if columns is not None and out.suffix == ".csv" and list(result.columns) != columns:
                    raise DataError(expected(f"the columns of the output being resumed ({', '.join(columns)})",
                                             f"{', '.join(map(str, result.columns))}",
                                             "Resume with the same model and input, or run without --resume."))
                if out.suffix == ".csv":
                    result.to_csv(fh, header=rows == 0, index=False)
                else:
                    result.to_json(fh, orient="records", lines=True, force_ascii=False)
                fh.flush()
                rows += len(chunk)
                bar.update(len(chunk))
        if seen < done:
            raise DataError(expected(f"an input with at least the {done:,} rows already predicted",
                                     f"{seen:,} rows in {pa.data}", "Resume with the same input file."))
        os.replace(tmp, out)
    except BaseException:
        if pa.resume and tmp.exists():
            print(f"stopped; {tmp} keeps the rows written so far — run again with --resume to continue.",
                  file=sys.stderr)
        else:
            tmp.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    print(f"wrote {rows:,} predictions to {out}")
    return 0


def prepare_resume(out: Path, tmp: Path) -> tuple[int, list[str] | None]:
    """Rows already written (and the CSV header) by an earlier run; the finished file becomes the .partial again.

    A record cut off by a kill (text after the last newline) is dropped so the append starts cleanly.
    """
    if out.exists() and not tmp.exists():
        os.replace(out, tmp)
    if not tmp.exists():
        return 0, None
    _truncate_to_last_newline(tmp)
    if tmp.stat().st_size == 0:
        return 0, None
    if out.suffix == ".jsonl":
        with open(tmp, "rb") as fh:
            return sum(1 for line in fh if line.strip()), None
    try:
        columns = list(pd.read_csv(tmp, nrows=0).columns)
        rows = sum(len(c) for c in pd.read_csv(tmp, usecols=[0], dtype=str, chunksize=100_000,
                                               keep_default_na=False))
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(expected(f"a readable partial output at {tmp}", f"{type(exc).__name__}: {exc}",
                                 "Delete it and run without --resume.")) from None
    return rows, columns


def _truncate_to_last_newline(path: Path) -> None:
    with open(path, "rb+") as fh:
        end = fh.seek(0, os.SEEK_END)
        while end > 0:  # backwards, 64 KiB at a time
            start = max(0, end - (1 << 16))
            fh.seek(start)
            cut = fh.read(end - start).rfind(b"\n")
            if cut >= 0:
                fh.truncate(start + cut + 1)
                return
            end = start
        fh.truncate(0)


def predictions_frame(clf, chunk: pd.DataFrame, texts: list[str], abstain_below: float = 0.0,
                      abstain_label: str = "abstain") -> pd.DataFrame:
    scores = clf.decision_scores(texts)
    labels = clf.scores_to_labels(scores)
    task = label_task(clf.task_)
    if abstain_below > 0 and task.single_label and len(scores):
        # low-confidence rows go to a human instead of being guessed (calibrated models make this meaningful)
        labels = [abstain_label if abstains else label
                  for abstains, label in zip(abstain_mask(scores, abstain_below), labels)]
    result = chunk.reset_index(drop=True).copy()
    result["prediction"] = ["|".join(row) for row in labels] if task.multi_label else labels
    if task.has_classes:
        for j, cls in enumerate(clf.classes_):
            result[f"prob_{cls}"] = scores[:, j].round(6)
    return result


COMMAND = ("predict", "label and probabilities for every row of a file, streamed with a progress bar",
           options_adder(PredictArgs, ModelTaskArgs, *generation.COLUMN_GROUPS), run)
