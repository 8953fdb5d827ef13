"""`headstart evaluate`: metrics of a saved model on a labelled file."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from ..config import Options, opt
from ..estimators import load_estimator
from ..io import write_json
from ..model_folder import GENERATION_KIND
from ..tables import table
from . import generation
from .args import options_adder, parse_into
from .common import ModelTaskArgs, ScoredColumnArgs, check_model_task, read_labelled


@dataclass
class EvaluateArgs(Options):
    model: str = opt(None, "model folder written by `headstart fit`", positional=True)
    data: str = opt(None, "labelled test file", positional=True)
    json: bool = opt(False, "print the metrics as one JSON object")
    output: str = opt("", "also write the metrics JSON to this file", aliases=("-o",))


def run(args: argparse.Namespace) -> int:
    ev = parse_into(args, EvaluateArgs)
    parse_into(args, generation.DecodingArgs)  # out-of-range decoding options stop before any model loads
    model = load_estimator(ev.model)
    check_model_task(parse_into(args, ModelTaskArgs).task, model.task_, ev.model)
    if model.kind == GENERATION_KIND:
        metrics, show = generation.evaluate_pairs(args, model, ev.model, ev.data, ev.json, ev.output)
    else:  # an Examples: an unseen label is reported with the file's name
        data = read_labelled(ev.data, parse_into(args, ScoredColumnArgs), task=model.task_)
        metrics, show = model.evaluate(data), print_metrics
    if ev.output:
        write_json(ev.output, metrics)
    if ev.json:
        print(json.dumps(metrics))
    else:
        show(metrics)
    return 0


def print_metrics(metrics: dict) -> None:
    headline = {k: v for k, v in metrics.items() if not isinstance(v, (dict, list)) and k != "note"}
    print(table([headline]))
    if "note" in metrics:
        print(f"note: {metrics['note']}")
    if "per_class" in metrics:
        rows = [{"class": c, **v} for c, v in metrics["per_class"].items()]
        print("\nper class\n" + table(rows, ["class", "precision", "recall", "f1", "support"]))
    if "confusion_matrix" in metrics:
        labels, matrix = metrics["confusion_matrix"]["labels"], metrics["confusion_matrix"]["matrix"]
        rows = [{"true \\ predicted": label, **{p: n for p, n in zip(labels, row)}} for label, row in zip(labels, matrix)]
        print("\nconfusion matrix (rows: true, columns: predicted)\n" + table(rows))


COMMAND = ("evaluate", "metrics of a saved model on a labelled file (classification: accuracy, macro-F1, "
            "per-class table, confusion matrix; generation: BLEU/chrF or ROUGE, samples file)",
           options_adder(EvaluateArgs, ModelTaskArgs, (ScoredColumnArgs, "columns"), *generation.COLUMN_GROUPS), run)
