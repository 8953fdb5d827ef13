"""The comparison grid for generation (`headstart compare --task translate|summarize`): strategies x training
sizes in pairs x seeds, every cell trained on the first N pairs of a seeded shuffle (so a seed's 250 pairs are
among its 1,000) and scored on one test set by the task's main metric (BLEU, ROUGE-L), the others kept.

It shares classification's machinery (`evaluation.compare`): cells keyed by a hash of the data and options and
appended atomically to cells.jsonl (an interrupted run resumes), the time budget with cells that will not fit
skipped, learning curves, paired comparisons over seeds, transfer gain ("1,000 pairs with transfer = M pairs
from scratch") and the recommendation. What differs:

* sizes count pairs; from-scratch strategies may run at larger sizes (`CompareSpec.baseline_sizes`), since they
  are cheap per pair and the gain can only be read off where their curve reaches transfer's score;
* a strategy that does not train (zero-shot) runs once (size 0, seed 0): greedy decoding does not depend on the
  seed or on pairs it never sees;
* each cell keeps its test outputs, so transfer can be compared with zero-shot and from-scratch at the same size
  and seed by a paired bootstrap (sacrebleu's resampling), and the report shows outputs beside references.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError, DataError, expected
from ..evaluation.compare import (Cell, CompareSpec, predicted_seconds, run_cells, setup_hash, strategy_options,
                                  write_results)
from ..evaluation.curves import forecasts, learning_curves, paired_comparisons, recommend, size_order, transfer_gain
from ..strategies import get_strategy, strategy_names
from ..tasks import generation_task
from .data import Pairs
from .metrics import paired_bootstrap
from .model import Seq2SeqModel
from .prompts import resolve_template

NO_TRAINING = "0"  # the size of a strategy that does not train
SAMPLE_OUTPUTS = 5  # test rows the report shows with every strategy's output
_CELL_OVERHEAD = 200  # pairs' worth of fixed cost per cell (model load, generating for the test set)


def sample_pairs(train: Pairs, size: str, seed: int) -> Pairs:
    """The first `size` pairs of a shuffle drawn with `seed` (all pairs for 'all'): nested across sizes."""
    if size == "all":
        return train
    order = np.random.default_rng(seed).permutation(len(train))[:int(size)]
    return Pairs([train.sources[i] for i in order], [train.targets[i] for i in order] if train.targets else None,
                 train.source)


def pair_count(train: Pairs, size: str) -> int:
    return len(train) if size == "all" else min(int(size), len(train))


def resolve_generation_strategies(names: list[str], task: str) -> list[str]:
    """The requested generation strategies (checked), or every registered one for the task."""
    available = strategy_names(task)
    for name in names:
        get_strategy(name, task)  # a ConfigError naming the task's strategies otherwise
    return list(dict.fromkeys(names)) or available


def plan_generation(train: Pairs, test: Pairs, spec: CompareSpec, strategies: list[str]) -> list[Cell]:
    """Every cell, cheapest first (the strategy's cost class x pairs)."""
    cells = []
    for name in strategies:
        options = strategy_options(spec, name)  # unknown or ill-typed options fail here, before any cell runs
        if options.get("prompt_template"):
            resolve_template(spec.task, options["prompt_template"], chat=False)  # must hold {source}
        setup = setup_hash(train, test, spec.backbone, name, options)
        if not get_strategy(name, spec.task).trains:
            cells.append(Cell(name, NO_TRAINING, 0, setup, 0))
            continue
        cells += [Cell(name, size, seed, setup, pair_count(train, size))
                  for size in spec.sizes_of(name) for seed in range(spec.seeds)]
    cost = {name: get_strategy(name, spec.task).cost.value for name in strategies}
    return sorted(cells, key=lambda c: (cost[c.strategy] * (c.estimated_rows + _CELL_OVERHEAD), size_order(c.size),
                                        c.seed, c.strategy))


def run_generation_cell(cell: Cell, train: Pairs, test: Pairs, spec: CompareSpec, metric: str,
                        clock: Callable[[], float]) -> dict[str, Any]:
    """Fit one strategy on one seeded sample of pairs, generate for the test set and score it."""
    strategy = get_strategy(cell.strategy, spec.task)
    trains = strategy.trains
    sample = sample_pairs(train, cell.size, cell.seed) if trains else sample_pairs(train, "1", 0)
    start = clock()
    model = Seq2SeqModel(task=spec.task, backbone=spec.backbone, strategy=cell.strategy, seed=cell.seed,
                         progress=False, **strategy_options(spec, cell.strategy))
    model.fit(sample)
    fit_seconds = clock() - start
    metrics = model.evaluate(test, return_outputs=True)
    outputs = metrics.pop("outputs")
    report = model.fit_report_
    n_train = len(sample) if trains else 0
    return {"key": cell.key, "strategy": cell.strategy, "size": cell.size, "seed": cell.seed, "setup": cell.setup,
            "n_train": n_train, "n_per_class": n_train, "sample": sample.fingerprint() if trains else "",
            "transfer": strategy.pretrained, "metrics": metrics, "score": float(metrics[metric]),
            "fit_seconds": float(fit_seconds), "train_seconds": float(report.get("train_seconds", 0.0)),
            "steps": int(report.get("steps", 0)), "train_tokens": int(report.get("train_tokens", 0)),
            "train_tokens_per_second": float(report.get("train_tokens_per_second", 0.0)),
            "stopped_early": bool(report.get("stopped_early")), "out_of_time": bool(report.get("out_of_time")),
            "trainable_parameters": int(report.get("trainable_parameters", 0)), "seconds": float(clock() - start),
            "outputs": outputs}


def run_generation_comparison(train: Pairs, test: Pairs, spec: CompareSpec, output: str | Path,
                              log: Callable[[str], None] = print, clock: Callable[[], float] = time.monotonic,
                              on_cell: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the generation grid in `output`, write results.json / results.csv and return them."""
    task = generation_task(spec.task)
    if test.targets is None:
        raise DataError(expected("a test file with reference targets", f"none in {test.source}",
                                 "Name the target column (--target-col)."))
    metric = task.primary_metric if spec.metric == "auto" else spec.metric
    strategies = resolve_generation_strategies(spec.strategies, task.name)
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    cells = plan_generation(train, test, spec, strategies)
    beyond = sorted({c.size for c in cells if c.size not in ("all", NO_TRAINING) and int(c.size) > len(train)},
                    key=int)
    if beyond:
        log(f"note: size(s) {', '.join(beyond)} exceed the {len(train):,} pairs of {train.source}: those cells train "
            "on all of them")
    log(f"grid: {len(strategies)} strategies, sizes in pairs")

    def run(cell: Cell) -> dict[str, Any]:
        log(f"running {cell.label} ({cell.estimated_rows:,} pairs)")
        return run_generation_cell(cell, train, test, spec, metric, clock)

    finished, skipped = run_cells(
        cells, folder, spec.budget_s, run, predicted_seconds,
        lambda r: f"{metric}={r['score']:.2f} fit {r['fit_seconds']:.0f}s, {r['train_tokens_per_second']:.0f} "
                  "training tokens/s", log, clock, on_cell)
    results = analyse_generation(finished, train, test, spec, strategies, metric, skipped)
    write_results(folder, results)
    return results


def analyse_generation(cells: list[dict[str, Any]], train: Pairs, test: Pairs, spec: CompareSpec,
                       strategies: list[str], metric: str, skipped: list[dict[str, Any]]) -> dict[str, Any]:
    """Curves, paired tests over seeds, bootstrap intervals per cell pair, transfer gain in pairs, samples."""
    curves = learning_curves(cells)
    baselines = [s for s in strategies if not get_strategy(s, spec.task).pretrained]
    families = [m for m in ("bleu", "chrf", "rouge1", "rouge2", "rougeL") if m != metric]
    transfer_sizes = set(spec.sizes)  # the recommendation compares strategies where transfer ran
    untrained = {c["strategy"] for c in cells if c["n_train"] == 0}  # zero-shot: compared in `bootstrap`
    return {
        "task": spec.task, "generation": True, "unit": "pairs", "metric": metric, "strategies": strategies,
        "baselines": baselines, "sizes": spec.sizes, "baseline_sizes": spec.baseline_sizes, "seeds": spec.seeds,
        "backbone": spec.backbone, "options": spec.options,
        "budget_s": None if math.isinf(spec.budget_s) else spec.budget_s,
        "data": {name: {"pairs": len(p), "source": p.source, "fingerprint": p.fingerprint()}
                 for name, p in (("train", train), ("test", test))},
        "cells": [{k: v for k, v in c.items() if k != "outputs"} for c in cells],
        "curves": curves, "paired": paired_comparisons(cells),
        "other_metrics": {m: learning_curves(cells, m) for m in families if all(m in c["metrics"] for c in cells)},
        "transfer_gain": transfer_gain(curves, baselines, unit="pairs") if baselines else [],
        "bootstrap": bootstrap_comparisons(cells, test, metric),
        "samples": sample_outputs(cells, test),
        "forecast": forecasts([c for c in cells if c["n_train"] > 0], upper=100.0),
        "recommendation": recommend({name: [p for p in points if p["size"] in transfer_sizes]
                                     for name, points in curves.items() if name not in untrained}),
        "skipped": skipped,
    }


def bootstrap_comparisons(cells: list[dict[str, Any]], test: Pairs, metric: str) -> list[dict[str, Any]]:
    """Each transfer cell against zero-shot and against every from-scratch cell of its size and seed: the
    difference in `metric` with its paired-bootstrap 95% interval."""
    with_outputs = [c for c in cells if c.get("outputs") is not None]
    zero = [c for c in with_outputs if c["n_train"] == 0]
    rows = []
    for cell in with_outputs:
        if not cell["transfer"] or cell["n_train"] == 0:
            continue
        rivals = zero + [c for c in with_outputs if not c["transfer"] and c["size"] == cell["size"]
                         and c["seed"] == cell["seed"]]
        for rival in rivals:
            result = paired_bootstrap(metric, cell["outputs"], rival["outputs"], test.targets or [])
            rows.append({"size": cell["size"], "seed": cell["seed"], "a": cell["strategy"], "b": rival["strategy"],
                         "a_score": cell["score"], "b_score": rival["score"], **result,
                         "excludes_zero": result["low"] > 0 or result["high"] < 0})
    return rows


def sample_outputs(cells: list[dict[str, Any]], test: Pairs, n: int = SAMPLE_OUTPUTS) -> list[dict[str, Any]]:
    """The first `n` test rows with their reference and, per strategy, the output of its largest size (seed 0)."""
    best: dict[str, dict[str, Any]] = {}
    for c in cells:
        if c.get("outputs") is not None and c["seed"] == 0:
            if c["strategy"] not in best or size_order(c["size"]) > size_order(best[c["strategy"]]["size"]):
                best[c["strategy"]] = c
    return [{"source": test.sources[i], "reference": (test.targets or [""] * len(test))[i],
             "outputs": {f"{name}@{c['size']}": c["outputs"][i] for name, c in sorted(best.items())}}
            for i in range(min(n, len(test)))]
