"""The generation side of `headstart fit / evaluate / predict` (`--task translate|summarize`).

The classification commands call into this module when the task (fit) or the model folder's
headstart.json (evaluate, predict) says generation; everything generation-specific lives here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Options, build_config, opt
from ..errors import DataError, expected
from ..io import atomic_write_text, write_json
from ..strategies import get_strategy, strategy_names
from ..tasks import CLASSIFICATION, GENERATION_TASK_NAMES, generation_task, is_generation
from .config import DEFAULT_GENERATION_BACKBONE, GenerationConfig
from .data import read_pairs


@dataclass
class PairColumns(Options):
    source_col: str = opt("", "column holding the source text (default: source, or document for summarize)")
    target_col: str = opt("", "column holding the target text (default: target, or summary for summarize)")


# Decoding options `evaluate` and `predict` accept for generation models: GenerationConfig's own fields
# (help text and constraint included), so they are declared once.
DecodingArgs = dataclasses.make_dataclass(
    "DecodingArgs", [(f.name, f.type, dataclasses.field(default=f.default, metadata=f.metadata))
                     for f in dataclasses.fields(GenerationConfig) if f.name in ("num_beams", "max_new_tokens")],
    bases=(Options,), namespace={"__module__": __name__})


def wants_generation(argv: list[str]) -> bool:
    """True when the command line asks for a generation task (`--task translate|summarize`)."""
    for i, token in enumerate(argv):
        value = argv[i + 1] if token == "--task" and i + 1 < len(argv) else (
            token.split("=", 1)[1] if token.startswith("--task=") else None)
        if is_generation(value):
            return True
    return False


def add_fit_arguments(parser: argparse.ArgumentParser) -> None:
    from ..cli.args import add_dataclass_args

    add_dataclass_args(parser, PairColumns, "columns of the pairs")
    add_dataclass_args(parser, GenerationConfig, "options of generation models (--task translate|summarize)")
    parser.epilog = (f"generation strategies: {', '.join(strategy_names(GENERATION_TASK_NAMES[0]))}; the default "
                     f"generation backbone is "
                     f"{DEFAULT_GENERATION_BACKBONE}.")


def add_column_arguments(parser: argparse.ArgumentParser) -> None:
    from ..cli.args import add_dataclass_args

    add_dataclass_args(parser, PairColumns, "columns of the pairs (generation models)")
    add_dataclass_args(parser, DecodingArgs, "decoding (generation models)")


def check_decoding(args: argparse.Namespace) -> None:
    """Refuse out-of-range decoding options before any model is loaded."""
    from ..cli.args import parse_into

    parse_into(args, DecodingArgs)


def columns(args: argparse.Namespace, task: str) -> tuple[str, str]:
    src, tgt = generation_task(task).columns
    return getattr(args, "source_col", "") or src, getattr(args, "target_col", "") or tgt


def run_fit(args: argparse.Namespace, fit_args: Any, base: dict[str, Any]) -> int:
    """Fit a Seq2SeqModel from the fit command's arguments and save it."""
    from ..cli.args import collect
    from ..cli.common import table
    from .model import Seq2SeqModel

    task = args.task
    # an unchanged --strategy is the classification default: a generation task has its own
    strategy = fit_args.strategy
    if strategy == CLASSIFICATION.default_strategy:
        strategy = generation_task(task).default_strategy
    get_strategy(strategy, task)  # an unknown name stops before any data is read
    backbone = fit_args.backbone if "backbone" in vars(args) or "backbone" in base else DEFAULT_GENERATION_BACKBONE
    options = dict(base.get("options", {}))
    options.update(collect(args, GenerationConfig))
    build_config(GenerationConfig, options)  # out-of-range options stop before any data is read
    src_col, tgt_col = columns(args, task)
    train = read_pairs(fit_args.data, src_col, tgt_col)
    valid = read_pairs(fit_args.valid, src_col, tgt_col) if fit_args.valid else None
    model = Seq2SeqModel(task=task, backbone=backbone, strategy=strategy, seed=fit_args.seed,
                         progress=not fit_args.quiet, **options)
    print(f"fitting '{strategy}' ({task}) on {len(train):,} pairs of {fit_args.data}", flush=True)
    model.fit(train, sources_valid=valid)
    model.save(fit_args.output)
    report = model.fit_report_
    summary = {"task": task, "strategy": strategy, "backbone": model.backbone_.name,
               "architecture": model.backend_.architecture, "train_pairs": model.data_["n_train"],
               "valid_pairs": model.data_["n_valid"], "steps": report["steps"],
               "fit_seconds": round(report["fit_seconds"], 1), "trainable_params": report["trainable_parameters"]}
    if report["best"]:
        summary["best_valid_loss"] = report["best"]["valid_loss"]
    print(table([summary]))
    print(f"saved to {fit_args.output}")
    return 0


def run_evaluate(args: argparse.Namespace, model_dir: str, data: str, as_json: bool, output: str) -> int:
    """Metrics on a file of pairs; sample outputs are written next to their references."""
    from ..cli.common import table
    from .model import Seq2SeqModel

    model = Seq2SeqModel.load(model_dir)
    model.progress = not as_json
    pairs = read_pairs(data, *columns(args, model.task))
    metrics = model.evaluate(pairs, return_outputs=True, **_decoding(args))
    outputs = metrics.pop("outputs")
    samples = Path(output).with_suffix(".samples.jsonl") if output else Path(model_dir) / "eval_samples.jsonl"
    lines = [json.dumps({"source": s, "reference": r, "output": o}, ensure_ascii=False)
             for s, r, o in zip(pairs.sources, pairs.targets or [], outputs)]
    atomic_write_text(samples, "\n".join(lines) + "\n")
    metrics["samples_file"] = str(samples)
    if output:
        write_json(output, metrics)
    if as_json:
        print(json.dumps(metrics))
        return 0
    print(table([{k: v for k, v in metrics.items() if k != "samples_file"}]))
    print("\nsamples (output | reference)")
    for o, r in list(zip(outputs, pairs.targets or []))[:5]:
        print(f"  {o!r} | {r!r}")
    print(f"all outputs next to references: {samples}")
    return 0


def run_predict(args: argparse.Namespace, pa: Any) -> int:
    """Generate for every row; the output keeps the input columns and adds `prediction`."""
    import pandas as pd

    from .model import Seq2SeqModel

    model = Seq2SeqModel.load(pa.model)
    model.progress = not pa.quiet
    src_col = getattr(args, "source_col", "") or (
        pa.text_col if pa.text_col != CLASSIFICATION.columns[0] else generation_task(model.task).columns[0])
    pairs = read_pairs(pa.data, src_col, None, require_targets=False)
    out = Path(pa.output)
    if out.suffix not in (".csv", ".jsonl"):
        raise DataError(expected("an output ending in .csv or .jsonl", str(out), "Rename the -o file."))
    outputs = model.predict(pairs, **_decoding(args))
    from ..data.readers import read_frame

    frame = read_frame(pa.data).reset_index(drop=True)
    frame["prediction"] = outputs
    text = frame.to_csv(index=False) if out.suffix == ".csv" else frame.to_json(
        orient="records", lines=True, force_ascii=False)
    atomic_write_text(out, text)
    print(f"wrote {len(outputs):,} generations to {out}")
    return 0


def _decoding(args: argparse.Namespace) -> dict[str, Any]:
    from ..cli.args import collect

    given = collect(args, DecodingArgs)
    return {k: v for k, v in dataclasses.asdict(build_config(DecodingArgs, given)).items() if k in given}
