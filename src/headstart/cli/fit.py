"""`headstart fit`: adapt a backbone to a labelled data file and save the model."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any

from ..backbones import DEFAULT_BACKBONE, pickle_allowed
from ..classifier import TextClassifier
from ..config import Options, build_config, load_config_file, opt
from ..data.examples import Examples
from ..errors import ConfigError, HeadstartError, expected
from ..estimators import kind_for_task
from ..io import check_output_folder
from ..model_folder import GENERATION_KIND
from ..strategies import get_strategy, strategy_names
from ..strategies.finetune import Finetune
from ..tables import table
from ..tasks import CLASSIFICATION, GENERATION_TASK_NAMES
from ..training.distributed import is_main_process
from ..unlabelled.pool import read_pool
from ..unlabelled.self_train import SelfTrainConfig
from . import generation
from .args import add_dataclass_args, collect, parse_into
from .common import TrainingColumnArgs, PreprocessArgs, read_labelled


@dataclass
class FitArgs(Options):
    data: str = opt(None, "training data: .csv, .tsv, .jsonl or .parquet", positional=True)
    output: str = opt("runs/model", "folder to write the model to (replaced atomically)", aliases=("-o",))
    overwrite: bool = opt(False, "replace an existing headstart model folder at --output")
    strategy: str = opt(CLASSIFICATION.default_strategy, "how to transfer; see the list below")
    backbone: str = opt(DEFAULT_BACKBONE, "pre-trained model: a name from `headstart models`, a folder or a hub id")
    valid: str = opt("", "validation file (default: a stratified split of the training data)")
    seed: int = opt(0, "random seed: same seed, same model on the same machine", min=0)
    config: str = opt("", "JSON file with settings ({'strategy':..., 'backbone':..., 'options': {...}}); flags win")
    quiet: bool = opt(False, "no progress bars")
    augment: int = opt(0, "generate up to N new examples per scarce class (instruct LM + text edits, filtered by "
                          "class centroid); 0: off", min=0)
    augment_output: str = opt("", "also write the generated rows to this CSV (they always go to the model folder)")
    augment_lm: str = opt("SmolLM2-135M-Instruct", "language model that paraphrases for --augment ('none': edits only)")
    allow_pickle: bool = opt(False, "accept a backbone with pickled weights (*.bin); pickles can run code, "
                                    "so only for sources you trust (default: safetensors only)")


@dataclass
class SelfTrainArgs(Options):
    """`fit --unlabeled pool.csv --self-train`: the CLI face of `SelfTrainConfig` (ranges checked there)."""

    unlabeled: str = opt("", "file of unlabelled rows (same --text-col; rows whose --label-col is filled are "
                             "ignored) to learn from with --self-train")
    self_train: bool = opt(False, "pseudo-label the --unlabeled rows in rounds, each kept only if a held-out "
                                  "check (validation split, else cross-validation) does not get worse")
    rounds: int = opt(3, "rounds of self-training", min=1, max=10)
    self_train_method: str = opt("auto", "rounds (the model's calibrated predictions), propagate (label spreading "
                                         "over embeddings) or cluster (class prototypes refined over the pool's "
                                         "embeddings); auto: cluster for contrastive, else rounds")
    self_train_per_class: int = opt(0, "pool rows added per predicted class and round (0: 4 x the smallest "
                                       "labelled class; cluster: 1/rounds of the class's pool rows)", min=0)
    self_train_weight: float = opt(0.5, "weight of a pseudo-labelled row relative to a real one", gt=0, max=1)
    self_train_pool_limit: int = opt(0, "use at most this many pool rows, a seeded sample (0: all)", min=0)
    self_train_min_confidence: float = opt(0.0, "skip pool rows whose calibrated confidence is below this",
                                           min=0, lt=1)
    self_train_neighbours: int = opt(10, "neighbours per row of the label-spreading graph (propagate)", min=1)
    self_train_folds: int = opt(5, "folds of the cross-validated check when there is no validation split", min=2)
    self_train_encoder: bool = opt(False, "after the rounds, fit contrastive's encoder again on the labelled rows + "
                                          "the first round's pseudo-labelled rows (about one more fit over them); "
                                          "checked on --valid, kept unchecked without it")

    def options(self) -> dict[str, Any]:
        """The TextClassifier options (validated by SelfTrainConfig: ConfigError, exit 2, also for self-training
        options given without --self-train)."""
        values = {"self_train": self.self_train, "self_train_rounds": self.rounds}  # the others are named as there
        values.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                       if f.name.startswith("self_train_")})
        build_config(SelfTrainConfig, values)
        return values if self.self_train else {}


def _flag_value(argv: list[str], flag: str) -> str | None:
    for i, token in enumerate(argv):
        if token == flag and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith(f"{flag}="):
            return token.split("=", 1)[1]
    return None



def chosen_strategy(argv: list[str]) -> str:
    """The strategy a command line asks for: --strategy, else the --config file's, else the default."""
    name = _flag_value(argv, "--strategy")
    if name is None and _flag_value(argv, "--config"):
        try:
            name = load_config_file(_flag_value(argv, "--config") or "").get("strategy")
        except HeadstartError:
            pass  # `run` reads the file again and reports the problem with exit code 2
    return str(name) if name is not None else FitArgs.strategy


class _OtherStrategysOption(argparse.Action):
    """An option that only other strategies have: refused with their names instead of argparse's
    bare 'unrecognized arguments'."""

    def __init__(self, option_strings: list[str], dest: str, strategy: str = "", owners: tuple[str, ...] = (),
                 **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.strategy, self.owners = strategy, owners

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        suggested = Finetune.name if Finetune.name in self.owners else self.owners[0]
        parser.error(expected(f"options of --strategy {self.strategy} (see `headstart fit --strategy "
                              f"{self.strategy} --help`)",
                              f"{option_string}, which is an option of {', '.join(self.owners)}",
                              f"Add --strategy {suggested} (or another of them) to use it, or drop it."))


def _refuse_other_strategies_options(parser: argparse.ArgumentParser, strategy: str) -> None:
    owners: dict[str, list[str]] = {}
    switches: set[str] = set()  # boolean options take no value
    for name in strategy_names():
        for f in dataclasses.fields(get_strategy(name).config_cls):
            flag = f"--{f.name.replace('_', '-')}"
            options = (flag, f"--no-{flag[2:]}") if f.type in (bool, "bool") else (flag,)
            for option in options:
                owners.setdefault(option, []).append(name)
            switches.update(options[1:] and options)
    for option, names in sorted(owners.items()):
        if option not in parser._option_string_actions:  # noqa: SLF001 (argparse has no public lookup)
            parser.add_argument(option, action=_OtherStrategysOption, nargs=0 if option in switches else "?",
                                strategy=strategy, owners=tuple(names), dest=argparse.SUPPRESS,
                                help=argparse.SUPPRESS)


def add_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    add_dataclass_args(parser, FitArgs)
    if kind_for_task(_flag_value(argv, "--task")) == GENERATION_KIND:  # --task translate|summarize: pairs
        parser.add_argument("--task", choices=GENERATION_TASK_NAMES, required=True, help="the generation task (then --strategy is one of full, lora, zero-shot, scratch "
                            "with default lora, and --backbone defaults to SmolLM2-135M-Instruct)")
        generation.add_fit_arguments(parser)
        return
    add_dataclass_args(parser, TrainingColumnArgs, "columns")
    add_dataclass_args(parser, PreprocessArgs, "preprocessing")
    add_dataclass_args(parser, SelfTrainArgs, "self-training (learning from unlabelled rows)")
    name = chosen_strategy(argv)
    if name in strategy_names():
        default = " (the default)" if name == FitArgs.strategy else ""
        add_dataclass_args(parser, get_strategy(name).config_cls, f"options of --strategy {name}{default}")
        _refuse_other_strategies_options(parser, name)
    parser.epilog = ("strategies: " + ", ".join(strategy_names()) +
                     ". `headstart fit --strategy NAME --help` lists that strategy's options; "
                     "`headstart fit --task translate|summarize --help` those of generation models.")


def run(args: argparse.Namespace) -> int:
    base: dict[str, Any] = load_config_file(args.config) if getattr(args, "config", "") else {}
    fit_args = parse_into(args, FitArgs, {k: v for k, v in base.items() if k in {f.name for f in dataclasses.fields(FitArgs)}})
    check_output_folder(fit_args.output, fit_args.overwrite, "model")  # before anything trains
    if kind_for_task(getattr(args, "task", None)) == GENERATION_KIND:
        if not fit_args.data:
            raise ConfigError(expected("a training data file", "none", "Usage: headstart fit DATA --task ... -o FOLDER"))
        return generation.run_fit(args, fit_args, base)
    strategy_cls = get_strategy(fit_args.strategy)
    if not fit_args.data and strategy_cls.needs_examples:
        raise ConfigError(expected("a training data file", "none", "Usage: headstart fit DATA -o FOLDER"))
    options = {**base.get("options", {}), **collect(args, strategy_cls.config_cls)}
    build_config(strategy_cls.config_cls, options)  # out-of-range options stop before any data is read
    cols = parse_into(args, TrainingColumnArgs, base.get("columns", {}))
    pre = parse_into(args, PreprocessArgs)
    if fit_args.augment:
        options.update(augment=fit_args.augment, augment_output=fit_args.augment_output, augment_lm=fit_args.augment_lm)
    st = parse_into(args, SelfTrainArgs)
    options.update(st.options())
    if st.self_train and not st.unlabeled:
        raise ConfigError(expected("--unlabeled FILE with --self-train", "no --unlabeled",
                                   "Add --unlabeled pool.csv (rows nobody labelled), or drop --self-train."))
    if st.unlabeled and not st.self_train:
        raise ConfigError(expected("--self-train with --unlabeled", "--unlabeled alone",
                                   "Add --self-train to learn from the unlabelled rows, or drop --unlabeled."))
    if fit_args.data:
        train = read_labelled(fit_args.data, cols, pre, quiet=fit_args.quiet)
    else:  # zero-shot from label names only (--labels)
        train = Examples(texts=[], labels=[], source="--labels")
    valid = read_labelled(fit_args.valid, cols, pre, task=train.task, quiet=True) if fit_args.valid else None
    pool = read_pool(st.unlabeled, cols.text_col, cols.label_col) if st.unlabeled else None
    if pool is not None and is_main_process():
        print(f"self-training pool: {len(pool):,} unlabelled rows of {st.unlabeled}")
        if pool.labelled_texts:  # said once, in plain words: what happens to them
            print(f"note: {len(pool.labelled_texts)} row(s) of {st.unlabeled} carry a label in '{cols.label_col}': "
                  "ignored (neither trained on nor pseudo-labelled); move them to the training file to use them")
        for note in pool.notes:
            if "already carry a label" not in note:
                print(f"note: {st.unlabeled}: {note}")
    clf = TextClassifier(backbone=fit_args.backbone, strategy=fit_args.strategy, task=train.task, seed=fit_args.seed,
                         progress=not fit_args.quiet and is_main_process(), **options)
    main_process = is_main_process()  # under torchrun/accelerate launch only rank 0 prints and saves
    if main_process:
        print(f"fitting '{fit_args.strategy}' on {len(train):,} rows of {fit_args.data} "
              f"({train.task}, {len(train.classes()) or 'continuous'} classes)", flush=True)
    with pickle_allowed(fit_args.allow_pickle):
        clf.fit(train, X_valid=valid, X_unlabeled=pool.texts if pool is not None else None)
    if not main_process:
        return 0
    clf.save(fit_args.output)
    report = clf.fit_report_
    summary = {"strategy": fit_args.strategy, "backbone": clf.backbone_.name if clf.backbone_ else "-",
               "train_rows": clf.data_["n_train"], "valid_rows": clf.data_["n_valid"],
               "fit_seconds": round(report.fit_seconds, 1), "trainable_params": report.trainable_parameters}
    for split in ("valid", "cv"):
        summary.update({f"{split}_{k}": v for k, v in clf.metrics_.get(split, {}).items()
                        if k not in ("n", "note", "absent_classes")})
    valid = clf.metrics_.get("valid", {})
    print(table([summary]))
    for note in [*report.notes, *([f"validation: {valid['note']}"] if "note" in valid else [])]:
        print(f"note: {note}")
    print(f"saved to {fit_args.output}")
    return 0


COMMAND = ("fit", "adapt a pre-trained backbone to a labelled data file and save the model", add_arguments, run)
