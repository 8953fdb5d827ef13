"""`headstart evaluate`: metrics of a saved model on a labelled file."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from ..config import Options, opt
from ..io import write_json
from ..generation import cli as generation
from ..generation.model import is_generation_folder
from .args import add_dataclass_args, parse_into
from .common import ColumnArgs, read_labelled, table


@dataclass
class EvaluateArgs(Options):
    model: str = opt(None, "model folder written by `headstart fit`", positional=True)
    data: str = opt(None, "labelled test file", positional=True)
    json: bool = opt(False, "print the metrics as one JSON object")
    output: str = opt("", "also write the metrics JSON to this file", aliases=("-o",))


def add_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    add_dataclass_args(parser, EvaluateArgs)
    add_dataclass_args(parser, ColumnArgs, "columns")
    generation.add_column_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..classifier import TextClassifier

    ev = parse_into(args, EvaluateArgs)
    generation.check_decoding(args)
    if is_generation_folder(ev.model):
        return generation.run_evaluate(args, ev.model, ev.data, ev.json, ev.output)
    clf = TextClassifier.load(ev.model)
    cols = parse_into(args, ColumnArgs)
    data = read_labelled(ev.data, cols, task=clf.task_)
    metrics = clf.evaluate(data)  # an Examples: an unseen label is reported with the file's name
    if ev.output:
        write_json(ev.output, metrics)
    if ev.json:
        print(json.dumps(metrics))
        return 0
    print_metrics(metrics)
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
           add_arguments, run)
