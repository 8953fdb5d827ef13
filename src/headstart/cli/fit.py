"""`headstart fit`: adapt a backbone to a labelled data file and save the model."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass
from typing import Any

from ..backbones import DEFAULT_BACKBONE, pickle_allowed
from ..config import load_config_file, opt
from ..errors import ConfigError, expected
from ..io import check_output_folder
from ..strategies import get_strategy, strategy_names
from ..generation import cli as generation
from ..training.distributed import is_main_process
from .args import add_dataclass_args, collect, parse_into
from .common import ColumnArgs, PreprocessArgs, read_labelled, table


@dataclass
class FitArgs:
    data: str = opt(None, "training data: .csv, .tsv, .jsonl or .parquet", positional=True)
    output: str = opt("runs/model", "folder to write the model to (replaced atomically)", aliases=("-o",))
    overwrite: bool = opt(False, "replace an existing headstart model folder at --output")
    strategy: str = opt("probe", "how to transfer; see the list below")
    backbone: str = opt(DEFAULT_BACKBONE, "pre-trained model: a name from `headstart models`, a folder or a hub id")
    valid: str = opt("", "validation file (default: a stratified split of the training data)")
    seed: int = opt(0, "random seed: same seed, same model on the same machine")
    config: str = opt("", "JSON file with settings ({'strategy':..., 'backbone':..., 'options': {...}}); flags win")
    quiet: bool = opt(False, "no progress bars")
    augment: int = opt(0, "generate up to N new examples per scarce class (instruct LM + text edits, filtered by "
                          "class centroid); 0: off")
    augment_output: str = opt("", "also write the generated rows to this CSV (they always go to the model folder)")
    augment_lm: str = opt("SmolLM2-135M-Instruct", "language model that paraphrases for --augment ('none': edits only)")
    allow_pickle: bool = opt(False, "accept a backbone with pickled weights (*.bin); pickles can run code, "
                                    "so only for sources you trust (default: safetensors only)")


def _strategy_from_argv(argv: list[str]) -> str | None:
    for i, token in enumerate(argv):
        if token == "--strategy" and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith("--strategy="):
            return token.split("=", 1)[1]
    return None


def add_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    add_dataclass_args(parser, FitArgs)
    if generation.wants_generation(argv):  # --task translate|summarize: pairs, not labels
        parser.add_argument("--task", choices=generation.TASKS, required=True, help="the generation task (then --strategy is one of full, lora, zero-shot, scratch "
                            "with default lora, and --backbone defaults to SmolLM2-135M-Instruct)")
        generation.add_fit_arguments(parser)
        return
    add_dataclass_args(parser, ColumnArgs, "columns")
    add_dataclass_args(parser, PreprocessArgs, "preprocessing")
    name = _strategy_from_argv(argv)
    if name in strategy_names():
        add_dataclass_args(parser, get_strategy(name).config_cls, f"options of --strategy {name}")
    parser.epilog = ("strategies: " + ", ".join(strategy_names()) +
                     ". `headstart fit --strategy NAME --help` lists that strategy's options; "
                     "`headstart fit --task translate|summarize --help` those of generation models.")


def run(args: argparse.Namespace) -> int:
    from ..classifier import TextClassifier

    base: dict[str, Any] = load_config_file(args.config) if getattr(args, "config", "") else {}
    fit_args = parse_into(args, FitArgs, {k: v for k, v in base.items() if k in {f.name for f in dataclasses.fields(FitArgs)}})
    check_output_folder(fit_args.output, fit_args.overwrite, "model")  # before anything trains
    if getattr(args, "task", None) in generation.TASKS:
        if not fit_args.data:
            raise ConfigError(expected("a training data file", "none", "Usage: headstart fit DATA --task ... -o FOLDER"))
        return generation.run_fit(args, fit_args, base)
    strategy_cls = get_strategy(fit_args.strategy)
    if not fit_args.data and getattr(strategy_cls, "needs_examples", True):
        raise ConfigError(expected("a training data file", "none", "Usage: headstart fit DATA -o FOLDER"))
    options = dict(base.get("options", {}))
    options.update(collect(args, strategy_cls.config_cls))
    cols = parse_into(args, ColumnArgs, base.get("columns", {}))
    pre = parse_into(args, PreprocessArgs)
    if fit_args.augment:
        options.update(augment=fit_args.augment, augment_output=fit_args.augment_output, augment_lm=fit_args.augment_lm)
    if fit_args.data:
        train = read_labelled(fit_args.data, cols, pre, quiet=fit_args.quiet)
    else:  # zero-shot from label names only (--labels)
        from ..data.examples import Examples

        train = Examples(texts=[], labels=[], source="--labels")
    valid = read_labelled(fit_args.valid, cols, pre, task=train.task, quiet=True) if fit_args.valid else None
    clf = TextClassifier(backbone=fit_args.backbone, strategy=fit_args.strategy, task=train.task, seed=fit_args.seed,
                         progress=not fit_args.quiet and sys.stderr.isatty() and is_main_process(), **options)
    main_process = is_main_process()  # under torchrun/accelerate launch only rank 0 prints and saves
    if main_process:
        print(f"fitting '{fit_args.strategy}' on {len(train):,} rows of {fit_args.data} "
              f"({train.task}, {len(train.classes()) or 'continuous'} classes)", flush=True)
    with pickle_allowed(fit_args.allow_pickle):
        clf.fit(train, X_valid=valid)
    if not main_process:
        return 0
    clf.save(fit_args.output)
    report = clf.fit_report_
    summary = {"strategy": fit_args.strategy, "backbone": clf.backbone_.name if clf.backbone_ else "-",
               "train_rows": clf.data_["n_train"], "valid_rows": clf.data_["n_valid"],
               "fit_seconds": round(report.fit_seconds, 1), "trainable_params": report.trainable_parameters}
    summary.update({f"valid_{k}": v for k, v in clf.metrics_.get("valid", {}).items() if k != "n"})
    print(table([summary]))
    for note in report.notes:
        print(f"note: {note}")
    print(f"saved to {fit_args.output}")
    return 0


COMMAND = ("fit", "adapt a pre-trained backbone to a labelled data file and save the model", add_arguments, run)
