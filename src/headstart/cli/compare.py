"""`headstart compare`: strategies x labelled-set sizes x seeds on one test set, with learning curves,
transfer gain, forecasts and a recommendation. Resumable; stops cleanly at a time budget."""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..backbones import DEFAULT_BACKBONE, resolve_backbone
from ..estimators import kind_for_task
from ..generation.config import DEFAULT_GENERATION_BACKBONE
from ..generation.data import read_pairs
from ..model_folder import GENERATION_KIND
from ..tasks import GENERATION_TASK_NAMES
from ..config import Options, load_config_file, opt
from ..errors import ConfigError, expected
from ..evaluation.answers import format_results
from ..evaluation.compare import (CELLS_FILE, FINAL_JSON, RESULTS_CSV, RESULTS_JSON, CompareSpec, parse_budget,
                                  parse_sizes, self_trains)
from ..evaluation.curves import MIN_FORECAST_SIZES
from ..grid import run_comparison
from ..io import check_output_folder, folder_kind
from ..strategies import strategy_names
from ..unlabelled.pool import read_pool
from . import generation
from .args import add_dataclass_args, parse_into
from .common import TrainingColumnArgs, read_labelled
from .fit import _flag_value
from .generation import PairColumns

GENERATION_SIZES = "250,1000"  # pairs, when --task translate|summarize and no --sizes


@dataclass
class CompareArgs(Options):
    data: str = opt(None, "labelled training data the samples are drawn from", positional=True)
    test: str = opt("", "labelled test file every cell is scored on (required)")
    output: str = opt("runs/compare", "folder for cells.jsonl, results.json, results.csv and the final model",
                      aliases=("-o",))
    overwrite: bool = opt(False, "start afresh: discard the cells, results and model of an earlier comparison in "
                                 "--output (default: resume it)")
    strategies: str = opt("", "comma list of strategies (default: every registered one for the task)")
    sizes: str = opt("8,16,32,64,256,all", "labelled examples per class, comma list; 'all' is the whole file "
                                           f"(translate/summarize: pairs, default {GENERATION_SIZES})")
    baseline_sizes: str = opt("", "sizes for the from-scratch strategies (default: --sizes): cheap per example, "
                                  "they can run larger, and the transfer gain is read where they reach transfer")
    seeds: int = opt(5, "samples (and seeds) per strategy and size", min=1)
    budget: str = opt("", "time budget such as 90s, 30m or 2h (default: none); cheap cells run first")
    backbone: str = opt(DEFAULT_BACKBONE, "pre-trained model for every strategy that needs one (translate/summarize: "
                                          f"{DEFAULT_GENERATION_BACKBONE} unless given)")
    options: str = opt("", "JSON file: {\"finetune\": {\"epochs\": 2}, \"*\": {\"device\": \"cuda\"}} "
                           "('*' applies to every strategy that has the option)")
    metric: str = opt("auto", "metric the curves use: auto (accuracy, micro_f1 or r2 by task), macro_f1, ...")
    final: bool = opt(True, "fit the recommended strategy once more, calibrate it and save it to OUTPUT/model")
    unlabeled: str = opt("", "pool of unlabelled rows for the NAME+self-train strategies (e.g. --strategies "
                             "probe,probe+self-train); default: the training rows not sampled into each cell")


def add_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    add_dataclass_args(parser, CompareArgs)
    if kind_for_task(_flag_value(argv, "--task")) == GENERATION_KIND:  # pairs, generation strategies
        parser.add_argument("--task", choices=GENERATION_TASK_NAMES, required=True,
                            help="the generation task: strategies full, lora, zero-shot, scratch; sizes in pairs; "
                                 f"--backbone defaults to {DEFAULT_GENERATION_BACKBONE}")
        add_dataclass_args(parser, PairColumns, "columns of the pairs")
        parser.epilog = ("generation strategies: " + ", ".join(strategy_names(GENERATION_TASK_NAMES[0])) +
                         "; options per strategy go in --options (fields of `headstart fit --task translate --help`)."
                         " Then: headstart report OUTPUT")
        return
    add_dataclass_args(parser, TrainingColumnArgs, "columns")
    parser.epilog = ("strategies: " + ", ".join(strategy_names()) + "; NAME+self-train also learns from unlabelled "
                     "rows (--unlabeled). Translation and summarization: `headstart compare --task translate|summarize "
                     "--help`. Then: headstart report OUTPUT")


def run(args: argparse.Namespace) -> int:
    ca = parse_into(args, CompareArgs)
    if not ca.data or not ca.test:
        raise ConfigError(expected("a training file and --test FILE", f"data={ca.data!r}, test={ca.test!r}",
                                   "Usage: headstart compare DATA --test TEST -o FOLDER"))
    check_output_folder(ca.output, ca.overwrite, "compare")  # its own folder is resumed; others are refused
    options = load_config_file(ca.options) if ca.options else {}
    if not all(isinstance(v, dict) for v in options.values()):
        raise ConfigError(expected("{strategy: {option: value}} in --options", repr(options)[:80],
                                   "Nest options under the strategy name or '*'."))
    if "backbone" in vars(args):
        resolve_backbone(ca.backbone)  # a --backbone that cannot load stops here, not inside the first cell
    if kind_for_task(getattr(args, "task", None)) == GENERATION_KIND:
        return run_generation(args, ca, options)
    cols = parse_into(args, TrainingColumnArgs)
    train = read_labelled(ca.data, cols)
    test = read_labelled(ca.test, cols, task=train.task)
    names = [s.strip() for s in ca.strategies.split(",") if s.strip()]
    pool = None
    if ca.unlabeled:
        if not any(self_trains(n) for n in names):
            raise ConfigError(expected("a NAME+self-train strategy in --strategies with --unlabeled", ca.strategies
                                       or "every registered strategy", "Add e.g. probe+self-train, or drop --unlabeled."))
        found = read_pool(ca.unlabeled, cols.text_col, cols.label_col)
        pool = found.texts
        print(f"self-training pool: {len(pool):,} unlabelled rows of {ca.unlabeled}"
              + (f"; {len(found.labelled_texts)} row(s) with a label ignored" if found.labelled_texts else ""),
              flush=True)
    spec = CompareSpec(strategies=names, sizes=parse_sizes(ca.sizes), seeds=ca.seeds, backbone=ca.backbone,
                       options=options, budget_s=parse_budget(ca.budget), metric=ca.metric, final=ca.final,
                       unlabeled=pool,
                       baseline_sizes=parse_sizes(ca.baseline_sizes, "--baseline-sizes") if ca.baseline_sizes else None)
    run_and_print(train, test, spec, ca, overlap_notes(train.texts, test.texts, ca, "rows"))
    return 0


def run_generation(args: argparse.Namespace, ca: CompareArgs, options: dict) -> int:
    """`compare --task translate|summarize`: the grid over pairs (generation.compare)."""
    task = args.task
    for flag, given in (("--unlabeled", ca.unlabeled), ("--final", "final" in vars(args) and ca.final)):
        if given:
            raise ConfigError(expected(f"no {flag} with --task {task}", f"{flag} given",
                                       "Drop it: self-training and the final calibrated model are for classification;"
                                       " fit the recommended strategy with `headstart fit --task ...`."))
    metrics = ("bleu", "chrf", "rouge1", "rouge2", "rougeL")
    if ca.metric not in ("auto", *metrics):
        raise ConfigError(expected(f"--metric auto or one of {', '.join(metrics)}", repr(ca.metric), "Fix --metric."))
    src_col, tgt_col = generation.columns(args, task)
    train, test = read_pairs(ca.data, src_col, tgt_col), read_pairs(ca.test, src_col, tgt_col)
    backbone = ca.backbone if "backbone" in vars(args) else DEFAULT_GENERATION_BACKBONE
    spec = CompareSpec(strategies=[s.strip() for s in ca.strategies.split(",") if s.strip()],
                       sizes=parse_sizes(ca.sizes if "sizes" in vars(args) else GENERATION_SIZES, unit="pairs"),
                       baseline_sizes=(parse_sizes(ca.baseline_sizes, "--baseline-sizes", "pairs")
                                       if ca.baseline_sizes else None),
                       seeds=ca.seeds, backbone=backbone,
                       options=options, budget_s=parse_budget(ca.budget), metric=ca.metric, final=False, task=task)
    results = run_and_print(train, test, spec, ca, overlap_notes(train.sources, test.sources, ca, "pairs"))
    rec = results.get("recommendation")
    if rec:
        print(f"\nto keep the recommended model: headstart fit {ca.data} --task {task} --strategy {rec['strategy']} "
              f"-o runs/{task}-{rec['strategy']} (on the first {rec['size']} pairs of the shuffled file, as its cells)")
    return 0


def run_and_print(train, test, spec: CompareSpec, ca: CompareArgs, notes: list[str]) -> dict:
    """The grid's run shared by every task: notes first, --overwrite, the cells, then the answers."""
    for note in notes + grid_notes(spec):
        print(f"note: {note}", flush=True)
    if ca.overwrite:
        discard_comparison(ca.output)
    results = run_comparison(train, test, spec, ca.output, log=lambda m: print(m, flush=True))
    print()
    print(format_results(results))
    print(f"\nwrote {ca.output}/results.json and results.csv; `headstart report {ca.output}` renders the report")
    return results


def overlap_notes(train_texts, test_texts, ca: CompareArgs, unit: str) -> list[str]:
    """Test rows whose text is also in the training file score what the model memorised, not what it learned."""
    seen = set(train_texts)
    shared = sum(1 for t in test_texts if t in seen)
    if not shared:
        return []
    return [f"{shared:,} of the {len(test_texts):,} test {unit} have a text that is also in {ca.data}: their scores "
            "are optimistic (a cell may have trained on them); remove them from one of the files for a clean test"]


def grid_notes(spec) -> list[str]:
    """What a small grid cannot answer, said before it runs rather than shown as zeros after."""
    notes = []
    if spec.unlabeled is None and any(self_trains(n) for n in spec.strategies):
        notes.append("+self-train without --unlabeled: each cell's pool is the training rows not sampled into it "
                     "(their labels unused); size 'all' leaves none, so those cells fit without self-training")
    if spec.seeds == 1:
        notes.append("--seeds 1: one sample per cell, so the spread is unknown (no std, no paired-test p-values) and "
                     "the recommendation rests on single scores; --seeds 3 or more measures the spread")
    if len(spec.sizes) < MIN_FORECAST_SIZES:
        notes.append(f"{len(spec.sizes)} size(s): no forecast, which needs {MIN_FORECAST_SIZES} or more "
                     "(e.g. --sizes 8,32,all)")
    return notes


def discard_comparison(folder: str) -> None:
    """Remove what `compare` wrote in `folder` (and only that), for --overwrite."""
    path = Path(folder)
    if not path.is_dir() or folder_kind(path) != "compare":
        return
    for name in (CELLS_FILE, RESULTS_JSON, RESULTS_CSV, FINAL_JSON, "report.html", "model_card.md"):
        (path / name).unlink(missing_ok=True)
    if (path / "model").is_dir() and folder_kind(path / "model") == "model":
        shutil.rmtree(path / "model")


COMMAND = ("compare", "learning curves of strategies x sizes x seeds on one test set: transfer gain, forecast, "
           "recommendation (resumable, time budget)", add_arguments, run)
