"""`headstart label-next`: the pool rows worth labelling next, in a CSV ready to fill in.

    headstart label-next MODEL pool.csv -n 50 -o to_label.csv [--query margin] [--labelled train.csv]
    headstart label-next --cold-start pool.csv -n 50 -o to_label.csv [--backbone NAME]

The output has the columns text, label (empty: fill it in), score (what chose the row; higher is more worth
labelling), guess (the model's current prediction; empty on a cold start), pool_row (0-based data row of the
pool file, header not counted) and query. Pool rows that already carry a label, and the rows of --labelled,
are never proposed (they are the labelled rows kcenter starts from). Each call appends one JSON line to
`label-next-history.jsonl` in the output's folder (labelled rows, the model's held-out accuracy, what was
proposed), which `headstart report` draws as labels against accuracy.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..backbones import DEFAULT_BACKBONE, resolve_backbone
from ..config import Options, opt
from ..data.readers import _cell_text, read_frame, require_columns
from ..embeddings import embed
from ..errors import ConfigError, DataError, expected
from ..estimators import load_estimator
from ..io import atomic_file
from ..model_folder import CLASSIFIER_KIND
from ..unlabelled.pool import Pool, read_pool
from ..unlabelled.query import DUPLICATE_COSINE, QUERIES, Selection, get_query, query_model, select
from .args import options_adder, parse_into

HISTORY_FILE = "label-next-history.jsonl"
COLD_START_QUERY = "kmeans"
COLUMNS = ["text", "label", "score", "guess", "pool_row", "query"]


@dataclass
class LabelNextArgs(Options):
    model: str = opt(None, "model folder written by `headstart fit` (with --cold-start: leave it out and pass only "
                           "the pool)", positional=True)
    pool: str = opt(None, "file of unlabelled rows: .csv, .tsv, .jsonl or .parquet", positional=True)
    n: int = opt(50, "rows to propose", min=1, aliases=("-n",))
    output: str = opt("to_label.csv", "where to write the rows to label (.csv)", aliases=("-o",))
    query: str = opt("margin", f"query strategy: {', '.join(QUERIES)} (cold start: {COLD_START_QUERY}); "
                               "see docs/unlabelled.md")
    text_col: str = opt("text", "column holding the text (pool and --labelled)")
    label_col: str = opt("label", "label column of the pool: rows with a label there are treated as labelled, "
                                  "never proposed")
    labelled: str = opt("", "file of rows already labelled (its --text-col): never proposed")
    cold_start: bool = opt(False, "no model yet: pick diverse rows by clustering the pool's embeddings "
                                  f"(--query {COLD_START_QUERY}, kcenter or random)")
    backbone: str = opt(DEFAULT_BACKBONE, "with --cold-start: the encoder that embeds the pool")
    duplicate_cosine: float = opt(DUPLICATE_COSINE, "rows at least this cosine-similar to a row already proposed "
                                                    "are not proposed with it", gt=0, max=1)
    seed: int = opt(0, "seed of the random, kcenter and clustering choices", min=0)
    overwrite: bool = opt(False, "replace an existing --output file")


add_arguments = options_adder(LabelNextArgs)


def run(args: argparse.Namespace) -> int:
    a = parse_into(args, LabelNextArgs)
    model, pool_path, query = _resolve_arguments(a, args)
    out = _check_output(Path(a.output), a.overwrite)
    clf = load_estimator(model, kinds=[CLASSIFIER_KIND]) if model else None  # before the pool: fail fast
    pool = read_pool(pool_path, a.text_col, a.label_col)
    labelled = list(pool.labelled_texts) + _labelled_texts(a.labelled, a.text_col)
    for note in pool.notes:
        print(note)
    if a.labelled:
        print(f"{len(labelled) - len(pool.labelled_texts)} row(s) of {a.labelled} are labelled: never proposed")
    if clf is not None:
        selection, proba = query_model(clf, pool.texts, a.n, query, labelled, a.seed, a.duplicate_cosine)
        guesses = clf.scores_to_labels(proba[selection.indices]) if proba is not None \
            else clf.predict([pool.texts[i] for i in selection.indices])
    else:
        selection = _cold_start(a, pool, labelled, query)
        guesses = [""] * len(selection.indices)
    for note in selection.notes:
        print(note)
    frame = pd.DataFrame({
        "text": [pool.texts[i] for i in selection.indices], "label": "",
        "score": np.round(selection.scores, 6),
        "guess": ["|".join(g) if isinstance(g, list) else g for g in guesses],
        "pool_row": [pool.rows[i] for i in selection.indices], "query": query}, columns=COLUMNS)
    with atomic_file(out) as tmp:
        frame.to_csv(tmp, index=False)
    history = append_history(out, a, clf, pool, labelled, selection, query)
    print(f"wrote {len(frame)} rows to label to {out} (query {query}; fill in the label column); "
          f"history: {history}")
    return 0


def _resolve_arguments(a: LabelNextArgs, args: argparse.Namespace) -> tuple[str | None, str, str]:
    """(model folder or None, pool file, query) from the two optional positionals and --cold-start."""
    query = a.query if "query" in vars(args) or not a.cold_start else COLD_START_QUERY
    get_query(query)  # an unknown name fails here, before anything is read
    if a.cold_start:
        if a.pool is not None:
            raise ConfigError(expected("only the pool file with --cold-start", f"two files ({a.model}, {a.pool})",
                                       "Drop --cold-start to query with a model, or drop the model folder."))
        if a.model is None:
            raise ConfigError(expected("a pool file", "none", "Pass the file: label-next --cold-start pool.csv"))
        if get_query(query).needs_proba:
            able = [name for name, s in QUERIES.items() if not s.needs_proba]
            raise ConfigError(expected(f"a query that needs no model with --cold-start ({', '.join(able)})",
                                       f"--query {query}", "Fit a model first, or pick one of those."))
        return None, a.model, query
    if a.model is None or a.pool is None:
        raise ConfigError(expected("a model folder and a pool file", "fewer arguments",
                                   "Run label-next MODEL POOL, or label-next --cold-start POOL without a model."))
    return a.model, a.pool, query


def _check_output(out: Path, overwrite: bool) -> Path:
    if out.suffix.lower() != ".csv":
        raise DataError(expected("an output ending in .csv", str(out), "Rename the -o file."))
    if out.is_dir():
        raise ConfigError(expected("a file path for -o", f"a folder at {out}", "Name a .csv file."))
    if out.exists() and not overwrite:
        raise ConfigError(expected("a new -o file", f"an existing file at {out}",
                                   "Pass --overwrite to replace it, or choose another -o."))
    return out


def _labelled_texts(path: str, text_col: str) -> list[str]:
    if not path:
        return []
    frame = read_frame(path)
    require_columns(frame, [text_col], path)
    return [_cell_text(v) for v in frame[text_col].tolist()]


def _cold_start(a: LabelNextArgs, pool: Pool, labelled: list[str], query: str) -> Selection:
    ref = resolve_backbone(a.backbone)
    x = embed(ref, pool.texts, progress=None)
    lx = embed(ref, labelled, progress=False) if labelled else None
    return select(query, a.n, embeddings=x, labelled_embeddings=lx, texts=pool.texts, labelled_texts=labelled,
                  seed=a.seed, duplicate_cosine=a.duplicate_cosine)


def model_accuracy(meta: dict[str, Any]) -> tuple[float | None, str]:
    """The held-out accuracy a model folder records (validation split, else cross-validation) and its source."""
    metrics = meta.get("metrics", {}) or {}
    for source in ("valid", "cv"):
        value = (metrics.get(source) or {}).get("accuracy")
        if value is not None:
            return float(value), source
    return None, ""


def append_history(out: Path, a: LabelNextArgs, clf: Any, pool: Pool, labelled: list[str], selection: Selection,
                   query: str) -> Path:
    """One JSON line per call in the output's folder (one line written at once: a killed call leaves none)."""
    meta = getattr(clf, "metadata_", {}) if clf is not None else {}
    accuracy, source = model_accuracy(meta)
    row = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "command": shlex.join(["headstart", *sys.argv[1:]]) if sys.argv[1:2] == ["label-next"] else "",
           "model": a.model if clf is not None else None, "strategy": meta.get("strategy"),
           "labelled_rows": (meta.get("data") or {}).get("n_train"), "accuracy": accuracy,
           "accuracy_source": source, "pool": str(a.model if clf is None else a.pool), "pool_rows": len(pool),
           "known_labelled": len(labelled), "query": query, "n": a.n, "proposed": int(len(selection.indices)),
           "mean_score": float(np.mean(selection.scores)) if len(selection.scores) else None,
           "output": str(out), "seed": a.seed}
    path = out.parent / HISTORY_FILE
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    return path


COMMAND = ("label-next", "the pool rows worth labelling next (active learning), with the score that chose each",
           add_arguments, run)
