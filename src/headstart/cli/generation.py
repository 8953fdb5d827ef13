"""The generation side of `headstart fit / evaluate / predict` (`--task translate|summarize`).

`fit` calls into this module when the task is a generation task, `evaluate` and `predict` when
`load_estimator` returned a generation model; the command-line parts specific to pairs live here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..config import Options, build_config, opt
from ..data.readers import read_frame
from ..generation.config import DEFAULT_GENERATION_BACKBONE, GenerationConfig
from ..generation.data import read_pairs
from ..generation.model import Seq2SeqModel
from ..io import atomic_write_text
from ..strategies import get_strategy, strategy_names
from ..tables import table
from ..tasks import CLASSIFICATION, GENERATION_TASK_NAMES, generation_task
from .args import add_dataclass_args, collect


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


def add_fit_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_args(parser, PairColumns, "columns of the pairs")
    add_dataclass_args(parser, GenerationConfig, "options of generation models (--task translate|summarize)")
    parser.epilog = (f"generation strategies: {', '.join(strategy_names(GENERATION_TASK_NAMES[0]))}; the default "
                     f"generation backbone is {DEFAULT_GENERATION_BACKBONE}.")


# the option groups `evaluate` and `predict` add for generation models (see `options_adder`)
COLUMN_GROUPS = ((PairColumns, "columns of the pairs (generation models)"),
                 (DecodingArgs, "decoding (generation models)"))


def columns(args: argparse.Namespace, task: str) -> tuple[str, str]:
    src, tgt = generation_task(task).columns
    return getattr(args, "source_col", "") or src, getattr(args, "target_col", "") or tgt


def run_fit(args: argparse.Namespace, fit_args: Any, base: dict[str, Any]) -> int:
    """Fit a Seq2SeqModel from the fit command's arguments and save it."""
    task = args.task
    # an unchanged --strategy is the classification default: a generation task has its own
    strategy = fit_args.strategy
    if strategy == CLASSIFICATION.default_strategy:
        strategy = generation_task(task).default_strategy
    get_strategy(strategy, task)  # an unknown name stops before any data is read
    backbone = fit_args.backbone if "backbone" in vars(args) or "backbone" in base else DEFAULT_GENERATION_BACKBONE
    options = {**base.get("options", {}), **collect(args, GenerationConfig)}
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


def evaluate_pairs(args: argparse.Namespace, model: Seq2SeqModel, model_dir: str, data: str, as_json: bool,
                   output: str) -> tuple[dict[str, Any], Callable[[dict[str, Any]], None]]:
    """Metrics on a file of pairs and how to print them; sample outputs are written next to their references."""
    model.progress = not as_json
    pairs = read_pairs(data, *columns(args, model.task))
    metrics = model.evaluate(pairs, return_outputs=True, **_decoding(args))
    outputs = metrics.pop("outputs")
    samples = Path(output).with_suffix(".samples.jsonl") if output else Path(model_dir) / "eval_samples.jsonl"
    lines = [json.dumps({"source": s, "reference": r, "output": o}, ensure_ascii=False)
             for s, r, o in zip(pairs.sources, pairs.targets or [], outputs)]
    atomic_write_text(samples, "\n".join(lines) + "\n")
    metrics["samples_file"] = str(samples)

    def show(metrics: dict[str, Any]) -> None:
        print(table([{k: v for k, v in metrics.items() if k != "samples_file"}]))
        print("\nsamples (output | reference)")
        for o, r in list(zip(outputs, pairs.targets or []))[:5]:
            print(f"  {o!r} | {r!r}")
        print(f"all outputs next to references: {samples}")

    return metrics, show


def run_predict(args: argparse.Namespace, model: Seq2SeqModel, pa: Any) -> int:
    """Generate for every row; the output keeps the input columns and adds `prediction`."""
    model.progress = not pa.quiet
    src_col = getattr(args, "source_col", "") or (
        pa.text_col if pa.text_col != CLASSIFICATION.columns[0] else generation_task(model.task).columns[0])
    pairs = read_pairs(pa.data, src_col, None, require_targets=False)
    out = Path(pa.output)
    outputs = model.predict(pairs, **_decoding(args))
    frame = read_frame(pa.data).reset_index(drop=True)
    frame["prediction"] = outputs
    text = frame.to_csv(index=False) if out.suffix == ".csv" else frame.to_json(
        orient="records", lines=True, force_ascii=False)
    atomic_write_text(out, text)
    print(f"wrote {len(outputs):,} generations to {out}")
    return 0


def _decoding(args: argparse.Namespace) -> dict[str, Any]:
    given = collect(args, DecodingArgs)
    return {k: v for k, v in dataclasses.asdict(build_config(DecodingArgs, given)).items() if k in given}
