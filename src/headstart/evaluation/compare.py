"""The comparison grid: strategies x labelled-set sizes (per class) x seeds, every cell trained on a
stratified sample drawn with its seed and scored on one test set.

* Cells run cheap-first (estimated from the strategy's cost class and the sample size) under a time budget;
  a cell that the measured speed of finished cells says will not fit in what is left is skipped, and
  the run stops cleanly once the budget is spent, listing what it skipped.
* Every finished cell is appended to `cells.jsonl` in the output folder (rewritten atomically), so an
  interrupted run resumes without redoing finished cells. A cell's key includes a hash of the data,
  test set, backbone and the strategy's options: changing any of them reruns the affected cells.
* Probe-like strategies share embeddings through the on-disk embedding cache.
* A strategy name with the suffix `+self-train` (`contrastive+self-train`) is that strategy self-trained on
  unlabelled rows (`headstart.unlabelled.self_train`): the pool given to `compare --unlabeled`, or, without
  one, the training file's rows not sampled into the cell (their labels unused). Its cells are keyed by the
  full name, so both curves resume side by side; `spec.options["probe+self-train"]` may hold self_train_*
  options.

This module plans the grid, keys and stores cells and analyses them; `headstart.grid`, a floor above the
estimator, runs the cells and fits the final model.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..backbones import DEFAULT_BACKBONE
from ..config import build_config
from ..data.examples import Examples
from ..data.pipeline import summarize
from ..errors import ConfigError, DataError, expected
from ..io import atomic_write_text, read_json, write_json
from ..strategies import get_strategy, strategy_names
from ..tasks import label_task
from .curves import forecasts, learning_curves, paired_comparisons, recommend, size_order, transfer_gain

CELLS_FILE = "cells.jsonl"
RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
FINAL_JSON = "final.json"
_CELL_OVERHEAD = 50  # examples' worth of fixed cost per cell (model load, evaluation), for cost estimates
SELF_TRAIN_SUFFIX = "+self-train"


def base_strategy(name: str) -> str:
    """The registered strategy behind a grid name ('probe+self-train' -> 'probe')."""
    return name.removesuffix(SELF_TRAIN_SUFFIX)


def self_trains(name: str) -> bool:
    return name.endswith(SELF_TRAIN_SUFFIX)


@dataclass
class CompareSpec:
    """What to compare. `options` maps a strategy name (or '*' for every strategy that has the field)
    to that strategy's options, e.g. {"finetune": {"epochs": 2}, "*": {"device": "cuda"}}."""

    strategies: list[str] = field(default_factory=list)
    sizes: list[str] = field(default_factory=lambda: ["8", "16", "32", "64", "256", "all"])
    seeds: int = 5
    backbone: str = DEFAULT_BACKBONE
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    budget_s: float = math.inf
    metric: str = "auto"
    final: bool = True
    unlabeled: list[str] | None = None  # pool texts of the +self-train strategies (None: the unsampled rows)
    baseline_sizes: list[str] | None = None  # sizes of the from-scratch strategies (None: `sizes`)
    task: str = ""  # the generation task when the data are pairs (classification takes it from the examples)

    def sizes_of(self, strategy: str) -> list[str]:
        """The sizes one strategy runs at: from-scratch baselines, cheap per example, may get larger ones."""
        if self.baseline_sizes and not get_strategy(base_strategy(strategy), self.task or None).pretrained:
            return self.baseline_sizes
        return self.sizes


def parse_sizes(text: str, flag: str = "--sizes", unit: str = "per class") -> list[str]:
    """'8,16,all' -> ['8', '16', 'all'] (positive integers, `unit` each, or 'all'), deduplicated and sorted."""
    sizes = []
    for token in (t.strip().lower() for t in str(text).split(",") if t.strip()):
        if token != "all" and not (token.isdigit() and int(token) > 0):
            raise ConfigError(expected(f"{flag} as positive integers ({unit}) or 'all', e.g. 8,16,64,all",
                                       repr(token), f"Fix {flag}."))
        sizes.append(token if token == "all" else str(int(token)))
    if not sizes:
        raise ConfigError(expected("at least one size", repr(text), f"Pass e.g. {flag} 8,64,all."))
    return sorted(set(sizes), key=size_order)


def parse_budget(text: str | float | None) -> float:
    """'30m', '2h', '90s', '45' (seconds), '' or 'none' (no limit) -> seconds."""
    if text is None or str(text).strip().lower() in ("", "none", "inf"):
        return math.inf
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(text).lower())
    if not match:
        raise ConfigError(expected("a budget like 90s, 30m or 2h", repr(text), "Fix --budget."))
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def resolve_strategies(names: Sequence[str], task: str) -> list[str]:
    """The requested strategies (checked against the registry), or every registered one for the task."""
    available = strategy_names(task)
    if not names:
        return available
    for name in names:
        cls = get_strategy(base_strategy(name))  # unknown names raise a ConfigError listing the registered ones
        if task not in cls.tasks:
            raise ConfigError(expected(f"strategies that support '{task}' ({', '.join(available)})", repr(name),
                                       "Drop it from --strategies."))
        if self_trains(name) and (not getattr(cls, "row_weights", False) or not cls.needs_examples
                                  or not label_task(task).single_label):
            raise ConfigError(expected(f"a strategy that can self-train (weighted rows, classification) before "
                                       f"'{SELF_TRAIN_SUFFIX}'", repr(name), "Drop it from --strategies."))
    return list(dict.fromkeys(names))


def strategy_options(spec: CompareSpec, name: str) -> dict[str, Any]:
    """The options one strategy gets: '*' entries it has a field for, then its own entries (checked); a
    '+self-train' name gets its base strategy's, then its own that are not self_train_* options."""
    base = base_strategy(name)
    cls = get_strategy(base, spec.task or None)
    fields = {f.name for f in dataclasses.fields(cls.config_cls)}
    options = {k: v for k, v in spec.options.get("*", {}).items() if k in fields}
    options.update(spec.options.get(base, {}))
    if base != name:
        options.update({k: v for k, v in spec.options.get(name, {}).items() if not k.startswith("self_train")})
    build_config(cls.config_cls, options)  # unknown or ill-typed options fail before anything runs
    return options


def self_train_options(spec: CompareSpec, name: str) -> dict[str, Any]:
    """The self-training options of a '+self-train' name (checked when its cells fit); {} for other names."""
    if not self_trains(name):
        return {}
    return {"self_train": True, **{k: v for k, v in spec.options.get(name, {}).items() if k.startswith("self_train")}}


def cell_options(spec: CompareSpec, name: str) -> dict[str, Any]:
    """Everything a cell's result depends on besides data and seed (what its key hashes)."""
    options = {**strategy_options(spec, name), **self_train_options(spec, name)}
    if self_trains(name) and spec.unlabeled is not None:
        options["pool"] = hashlib.sha256("\n".join(spec.unlabeled).encode()).hexdigest()[:12]
    return options


def sample_size(train: Examples, size: str) -> int:
    """Rows a per-class sample of `size` will have (classes smaller than `size` give all they have)."""
    if size == "all":
        return len(train)
    counts = Counter(str(key) for key in label_task(train.task).strata(train.labels or []))
    return sum(min(int(size), c) for c in counts.values())


def setup_hash(train: Examples, test: Examples, backbone: str, strategy: str, options: dict[str, Any]) -> str:
    text = json.dumps([train.fingerprint(), test.fingerprint(), backbone, strategy, options], sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cell_key(strategy: str, size: str, seed: int, setup: str) -> str:
    return f"{strategy}|{size}|{seed}|{setup}"


def read_cells(folder: Path) -> list[dict[str, Any]]:
    """Finished cells of earlier runs; a damaged line (should never happen: writes are atomic) is ignored."""
    path = folder / CELLS_FILE
    if not path.exists():
        return []
    cells = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            cells.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return cells


def append_cell(folder: Path, cell: dict[str, Any]) -> None:
    """Add one finished cell: the whole file is rewritten through a rename, so a kill leaves the old one."""
    path = folder / CELLS_FILE
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    atomic_write_text(path, old + json.dumps(cell, sort_keys=True) + "\n")


@dataclass
class Cell:
    strategy: str
    size: str
    seed: int
    setup: str
    estimated_rows: int

    @property
    def key(self) -> str:
        return cell_key(self.strategy, self.size, self.seed, self.setup)

    @property
    def label(self) -> str:
        return f"{self.strategy}@{self.size}/seed{self.seed}"


def plan(train: Examples, test: Examples, spec: CompareSpec, strategies: list[str]) -> list[Cell]:
    """Every cell of the grid, cheapest first (kind weight x rows), then by seed."""
    setups = {name: setup_hash(train, test, spec.backbone, name, cell_options(spec, name))
              for name in strategies}
    cells = [Cell(name, size, seed, setups[name], sample_size(train, size))
             for name in strategies for size in spec.sizes_of(name) for seed in range(spec.seeds)]
    return sorted(cells, key=lambda c: (get_strategy(base_strategy(c.strategy)).cost.value
                                        * (c.estimated_rows + _CELL_OVERHEAD),
                                        size_order(c.size), c.seed, c.strategy))


def training_work(config: Any, rows: int) -> float:
    """Examples a fit processes: epochs x rows for strategies that train; with epochs unset, stretched by
    `min_steps` on small samples (16 rows get 100 steps, not 3), which makes small cells cost more than their
    rows say."""
    if not hasattr(config, "epochs"):
        return float(rows)
    valid = getattr(config, "valid_fraction", 0.0)
    fitted = rows - int(round(rows * valid)) if valid > 0 and rows >= 20 else rows
    from ..training.loop import effective_epochs

    stretched = effective_epochs(fitted, config.epochs, getattr(config, "batch_size", 32),
                                 getattr(config, "min_steps", 0), getattr(config, "auto_epochs", 1))
    return float(stretched * fitted)


def predicted_seconds(cell: Cell, finished: Sequence[dict[str, Any]],
                      work: Callable[[int], float] = float) -> float | None:
    """Seconds `cell` should take, from finished cells of its strategy (fastest seed per size, since the
    first cell also pays one-off costs such as loading the model or embedding the test set): extrapolated
    linearly in `work` (rows -> units of training work, see `training_work`) from the two largest sizes, or
    proportionally when only one size finished."""
    by_work: dict[float, float] = {}
    for c in finished:
        if c["strategy"] == cell.strategy and c.get("seconds") is not None:
            units = work(int(c["n_train"]))
            by_work[units] = min(by_work.get(units, math.inf), float(c["seconds"]))
    if not by_work:
        return None
    target = work(cell.estimated_rows)
    sizes = sorted(by_work)
    if len(sizes) == 1:
        return by_work[sizes[0]] * (target + _CELL_OVERHEAD) / (sizes[0] + _CELL_OVERHEAD)
    (n1, t1), (n2, t2) = (sizes[-2], by_work[sizes[-2]]), (sizes[-1], by_work[sizes[-1]])
    slope = max(0.0, (t2 - t1) / (n2 - n1))
    return t2 + slope * max(0.0, target - n2)


def analyse(cells: list[dict[str, Any]], train: Examples, test: Examples, spec: CompareSpec, strategies: list[str],
            metric: str, skipped: list[dict[str, Any]]) -> dict[str, Any]:
    """Curves, paired tests, transfer gain, forecasts and the recommendation from finished cells."""
    curves = learning_curves(cells)
    baselines = [s for s in strategies if not get_strategy(base_strategy(s)).pretrained]  # the from-scratch ones
    upper = None if metric == "r2" else 1.0
    return {
        "task": train.task, "metric": metric, "strategies": strategies, "baselines": baselines,
        "sizes": spec.sizes, "baseline_sizes": spec.baseline_sizes, "seeds": spec.seeds, "backbone": spec.backbone,
        "options": spec.options,
        "budget_s": None if math.isinf(spec.budget_s) else spec.budget_s,
        "data": {"train": {**summarize(train), "source": train.source, "fingerprint": train.fingerprint()},
                 "test": {**summarize(test), "source": test.source, "fingerprint": test.fingerprint()}},
        "cells": cells, "curves": curves, "paired": paired_comparisons(cells),
        "other_metrics": {m: learning_curves(cells, m) for m in label_task(train.task).metrics
                          if m != metric and all(m in c["metrics"] for c in cells)},
        "transfer_gain": transfer_gain(curves, baselines) if baselines else [],
        "forecast": forecasts(cells, upper), "recommendation": recommend(curves), "skipped": skipped,
    }


CSV_COLUMNS = ["strategy", "size", "seed", "n_train", "n_per_class", "score", "accuracy", "macro_f1",
               "fit_seconds", "trainable_parameters"]


def write_results(folder: Path, results: dict[str, Any]) -> None:
    """results.json (everything) and results.csv (one row per finished cell), each written atomically."""
    write_json(folder / RESULTS_JSON, results)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(c["metrics"] | {k: v for k, v in c.items() if k != "metrics"} for c in results["cells"])
    atomic_write_text(folder / RESULTS_CSV, buffer.getvalue())


def load_results(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / RESULTS_JSON
    if not path.exists():
        raise DataError(expected(f"a comparison folder with {RESULTS_JSON}", f"none at {path}",
                                 "Run `headstart compare ... -o FOLDER` first."))
    return read_json(path)


def run_cells(cells: list[Cell], folder: Path, budget_s: float, run: Callable[[Cell], dict[str, Any]],
              guess: Callable[[Cell, list[dict[str, Any]]], float | None], describe: Callable[[dict[str, Any]], str],
              log: Callable[[str], None], clock: Callable[[], float],
              on_cell: Callable[[dict[str, Any]], None] | None = None) -> tuple[list[dict[str, Any]], list[dict]]:
    """What every grid does with its planned cells: reuse the finished ones stored in `folder`, run the others in
    order while `budget_s` lasts (skipping a cell `guess` says will not fit), append each result atomically, and
    keep what finished on an interrupt. Returns (finished cells, sorted; skipped cells with the reason)."""
    wanted = {c.key for c in cells}
    stored = read_cells(folder)
    done = {c["key"]: c for c in stored if c.get("key") in wanted}
    if len(stored) > len(done):
        log(f"note: {len(stored) - len(done)} stored cell(s) belong to another setup or grid and are not used")
    pending = [c for c in cells if c.key not in done]
    log(f"{len(cells)} cells: {len(done)} already finished, {len(pending)} to run"
        + ("" if math.isinf(budget_s) else f", budget {budget_s:.0f}s"))
    start, skipped = clock(), []
    try:
        for i, cell in enumerate(pending):  # in order, until the budget is spent
            elapsed = clock() - start
            if elapsed >= budget_s:
                skipped.extend({"cell": c.label, "reason": "budget spent"} for c in pending[i:])
                break
            needs = guess(cell, list(done.values()))
            if needs is not None and elapsed + needs > budget_s:
                skipped.append({"cell": cell.label, "reason": f"needs ~{needs:.0f}s, {budget_s - elapsed:.0f}s left"})
                continue
            result = run(cell)
            append_cell(folder, result)
            done[cell.key] = result
            log(f"[{len(done)}/{len(cells)}] {cell.label}: {describe(result)}")
            if on_cell is not None:
                on_cell(result)
    except KeyboardInterrupt:
        log(f"interrupted: {len(done)} finished cell(s) are kept in {folder / CELLS_FILE}; rerun the same command "
            "to resume")
        raise
    if skipped:
        # a cell guessed too long for what is left is skipped before the budget is spent: say which, and why
        log(f"budget of {budget_s:.0f}s: skipped {len(skipped)} cell(s): "
            + ", ".join(f"{s['cell']} ({s['reason']})" for s in skipped[:12]) + (" ..." if len(skipped) > 12 else "")
            + ". Rerun with a larger --budget to finish them; finished cells are kept.")
    return sorted(done.values(), key=lambda c: (c["strategy"], size_order(c["size"]), c["seed"])), skipped
