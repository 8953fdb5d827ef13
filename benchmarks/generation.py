"""Issue 19 part 3: does generation transfer work, measured on the 2-core CPU. Runs `headstart compare`'s
generation grid (headstart.generation.compare) per data set, on fixed test subsets (300 rows, seed 0):

* multi30k_en_de (translate, BLEU): lora and full fine-tuning of SmolLM2-135M-Instruct at 250, 1,000 and 3,000
  pairs; zero-shot prompting; a small transformer from scratch at 250, 1,000, 3,000, 10,000 and all 29,000 pairs
  (250 too, so that transfer meets from-scratch on the same pairs at every transfer size);
* aeslc (summarize, ROUGE-L): lora at 250 and 1,000 pairs (sources cut to 192 tokens); zero-shot; from scratch
  at 250, 1,000 and all 14,436 pairs.

Every cell is one fit on the first N pairs of a seeded shuffle of train.jsonl and one greedy generation pass over
the test subset. Resumable across sessions: the grid's cells (with their outputs, for the bootstrap) are kept in
benchmarks/results/generation-<device>/<dataset>/cells.jsonl, and each finished cell is also appended as one row,
with the settings it ran under and the machine's state, to benchmarks/results/generation-<device>.jsonl.

    python benchmarks/generation.py --data-dir ../shared/data                       # all of it (many hours on 2 cores)
    python benchmarks/generation.py --datasets multi30k_en_de --budget 2h            # what fits, cheapest first
    python benchmarks/generation.py --strategies zero-shot,lora,scratch              # leave full fine-tuning for later
    python benchmarks/generation.py --device cuda                                    # the GPU rows (generation-gpu)

At the end it prints, per data set, the curves, the paired-bootstrap intervals (transfer vs zero-shot and vs
from-scratch at the same size) and the transfer gain, and checks the issue's targets against them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sidebyside  # noqa: E402
from headstart.evaluation.answers import format_results  # noqa: E402
from headstart.evaluation.compare import CompareSpec  # noqa: E402
from headstart.evaluation.generation_report import render_generation_report  # noqa: E402
from headstart.generation.compare import sample_pairs  # noqa: E402
from headstart.generation.data import read_pairs  # noqa: E402
from headstart.grid import run_comparison  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PLAN = {
    "multi30k_en_de": {"task": "translate", "columns": ("source", "target"),
                       "strategies": ["zero-shot", "lora", "full", "scratch"], "sizes": ["250", "1000", "3000"],
                       "baseline_sizes": ["250", "1000", "3000", "10000", "all"],
                       "options": {"*": {"max_new_tokens": 48, "max_target_length": 64, "max_source_length": 96}}},
    "aeslc": {"task": "summarize", "columns": ("document", "summary"), "strategies": ["zero-shot", "lora", "scratch"],
              "sizes": ["250", "1000"], "baseline_sizes": ["250", "1000", "all"],
              "options": {"*": {"max_new_tokens": 32, "max_target_length": 32, "max_source_length": 192}}},
}
# per strategy, shared by both data sets: the learning rates the docs recommend, early stopping on the 10% of each
# sample held out (valid_fraction), and more epochs for the from-scratch model, which starts from nothing
STRATEGY_OPTIONS = {"lora": {"lr": 1e-3, "epochs": 3, "batch_size": 8},
                    "full": {"lr": 5e-5, "epochs": 3, "batch_size": 8},
                    "scratch": {"lr": 5e-4, "epochs": 30, "batch_size": 32, "patience": 3, "warmup_ratio": 0.05,
                                "evals_per_epoch": 1}}
TRANSFER_GAIN_TARGET = 10.0  # multi30k at 1,000 pairs: from scratch needs >= 10x the pairs


def spec_for(name: str, args: argparse.Namespace) -> CompareSpec:
    plan = PLAN[name]
    options = {"*": {**plan["options"]["*"], "device": args.device, "generation_batch_size": 16},
               **STRATEGY_OPTIONS}
    wanted = [s for s in plan["strategies"] if not args.strategies or s in args.strategies.split(",")]
    limit = float(args.max_size) if args.max_size else float("inf")
    sizes = [s for s in plan["sizes"] if s != "all" and float(s) <= limit]
    baseline_sizes = [s for s in plan["baseline_sizes"] if s != "all" and float(s) <= limit or limit == float("inf")]
    return CompareSpec(strategies=wanted, sizes=sizes, baseline_sizes=baseline_sizes, seeds=args.seeds,
                       backbone=args.backbone, options=options, budget_s=args.budget_s, task=plan["task"], final=False)


def row_for(cell: dict, name: str, spec: CompareSpec, args: argparse.Namespace, snapshot) -> dict:
    """One results-file row: the cell without its outputs, with the settings and the machine's state."""
    other = sidebyside.other_cores(snapshot, sidebyside.cpu_snapshot())  # seconds and tokens/s are slower if > 0.1
    return {"benchmark": f"generation-{args.device}", "command": " ".join(map(shlex.quote, sys.argv)),
            "date": datetime.datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
            "dataset": name, "task": spec.task, "backbone": spec.backbone, "test_rows": args.test_limit,
            "options": {"*": spec.options["*"], cell["strategy"]: spec.options.get(cell["strategy"], {})},
            "other_cores": sidebyside.cores(other), "loaded": sidebyside.is_loaded(other, os.getloadavg()),
            "torch_threads": _torch_threads(),
            "peak_rss_mb_so_far": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            **{k: v for k, v in cell.items() if k != "outputs"}}


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def check_targets(name: str, results: dict) -> list[str]:
    """The issue's targets, each said as met, not met or not measured yet."""
    lines = []
    boot = results.get("bootstrap") or []
    for rival in ("zero-shot", "scratch"):
        rows = [r for r in boot if r["b"] == rival]
        if not rows:
            lines.append(f"  transfer vs {rival}: not measured yet")
            continue
        losing = [f"{r['a']}@{r['size']}" for r in rows if not (r["low"] > 0)]
        lines.append(f"  transfer beats {rival} with a 95% interval above 0: "
                     + ("met" if not losing else "NOT met for " + ", ".join(losing)) + f" ({len(rows)} pair(s))")
    for gain in results.get("transfer_gain") or []:
        if gain["n_per_class"] and gain["size"] == "1000":
            ok = gain["ratio"] is not None and gain["relation"] in ("=", ">") and gain["ratio"] >= TRANSFER_GAIN_TARGET
            lines.append(f"  transfer gain {gain['strategy']}@1000: {gain['text']}"
                         + (f" (target >= {TRANSFER_GAIN_TARGET:.0f}x: {'met' if ok else 'NOT met'})"
                            if name == "multi30k_en_de" else ""))
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--datasets", default="multi30k_en_de,aeslc")
    p.add_argument("--strategies", default="", help="comma list to run now (default: every one the plan has)")
    p.add_argument("--max-size", type=int, default=0, help="run only the sizes up to this many pairs now (0: all); "
                                                           "the rest stay for a later run")
    p.add_argument("--test-limit", type=int, default=300)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--backbone", default="SmolLM2-135M-Instruct")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--budget", default="", help="time budget of this run, e.g. 2h (cells that will not fit are left "
                                                "for the next run)")
    p.add_argument("--results", default="", help="rows file (default: benchmarks/results/generation-DEVICE.jsonl)")
    args = p.parse_args(argv)
    from headstart.evaluation.compare import parse_budget

    args.budget_s = parse_budget(args.budget)
    rows_file = Path(args.results or RESULTS / f"generation-{args.device}.jsonl")
    started = time.monotonic()
    for name in args.datasets.split(","):
        plan = PLAN[name]
        folder = Path(args.data_dir) / name
        train = read_pairs(folder / "train.jsonl", *plan["columns"])
        test = sample_pairs(read_pairs(folder / "test.jsonl", *plan["columns"]), str(args.test_limit), 0)
        spec = spec_for(name, args)
        if args.budget:
            spec.budget_s = max(0.0, args.budget_s - (time.monotonic() - started))
        snapshot = sidebyside.cpu_snapshot()

        def on_cell(cell: dict, name=name, spec=spec) -> None:
            nonlocal snapshot
            with open(rows_file, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row_for(cell, name, spec, args, snapshot)) + "\n")
            snapshot = sidebyside.cpu_snapshot()

        grid_folder = RESULTS / f"generation-{args.device}" / name
        print(f"\n== {name}: {len(train):,} training pairs, {len(test)} test rows; grid in {grid_folder}", flush=True)
        results = run_comparison(train, test, spec, grid_folder, log=lambda m: print(m, flush=True), on_cell=on_cell)
        print(format_results(results))
        print("\n".join([f"targets ({name}):", *check_targets(name, results)]), flush=True)
        if results["cells"]:
            render_generation_report(grid_folder, results)
    print(f"\ntotal {time.monotonic() - started:.0f}s; rows in {rows_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
