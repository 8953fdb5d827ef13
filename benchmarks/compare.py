"""Issue 6 benchmark: learning curves of transfer strategies against from-scratch baselines on real
data, and the transfer gain (examples per class the best from-scratch baseline needs to match each
transfer strategy). Runs `headstart.evaluation.compare` per data set, so it resumes and honours a budget.

    python benchmarks/compare.py --data-dir ../shared/data                      # the full target run
    python benchmarks/compare.py --data-dir ../shared/data --datasets sst2 --sizes 8,64 --seeds 2 \
        --strategies probe,scratch-tfidf --test-limit 500                       # a small CPU check
    python benchmarks/compare.py --data-dir ../shared/data --device cuda --backbone PATH
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HEADSTART_CACHE", tempfile.mkdtemp(prefix="hs-bench-"))

import numpy as np  # noqa: E402

from headstart.data import read_examples  # noqa: E402
from headstart.evaluation.answers import format_results  # noqa: E402
from headstart.evaluation.compare import CompareSpec, parse_budget, parse_sizes  # noqa: E402
from headstart.grid import run_comparison  # noqa: E402


def limited(examples, limit: int, seed: int = 0):
    """A fixed random subset of `limit` rows (all rows when limit is 0)."""
    if not limit or limit >= len(examples):
        return examples
    index = np.sort(np.random.default_rng(seed).permutation(len(examples))[:limit])
    return examples.subset(index)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--datasets", default="trec,sst2",
                        help="comma list, run in this order (cheapest first: time one leaves unspent goes to the next)")
    parser.add_argument("--strategies", default=None,
                        help="comma list from the registry (default: probe,finetune,scratch-tfidf on CPU, which fits "
                             "30 minutes on 2 cores; scratch-init added on GPU)")
    parser.add_argument("--sizes", default="8,64,all", help="examples per class, comma list, 'all' = whole file")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", default="30m", help="total time budget for all data sets (e.g. 30m, 2h, none)")
    parser.add_argument("--backbone", default="all-MiniLM-L6-v2")
    parser.add_argument("--device", default="cpu", help="cpu or cuda, passed to every strategy with a device option")
    parser.add_argument("--options", default=None,
                        help="JSON file of per-strategy options ({'finetune': {...}}); default on CPU: "
                             "compare-cpu.json next to this script (one epoch, 64 tokens for the networks, so the "
                             "full grid fits 30 minutes on 2 cores), none on GPU")
    parser.add_argument("--train-limit", type=int, default=0, help="use this many training rows (0: all)")
    parser.add_argument("--test-limit", type=int, default=0, help="score on this many test rows (0: all)")
    parser.add_argument("--output", default="runs/bench-compare", help="one sub-folder per data set (resumable)")
    parser.add_argument("--no-final", action="store_true", default=None,
                        help="skip the calibrated final model (default on CPU: skipped, to fit the budget)")
    args = parser.parse_args(argv)
    if not Path(args.data_dir).exists():
        sys.exit(f"no data at {args.data_dir}: pass --data-dir pointing at the shared benchmark data")
    import torch

    from headstart.cli import _quiet_libraries

    _quiet_libraries()  # the same quiet as the CLI: no load reports or weight-loading bars between results
    on_cpu = args.device == "cpu"
    if args.strategies is None:
        args.strategies = "probe,finetune,scratch-tfidf" + ("" if on_cpu else ",scratch-init")
    if args.no_final is None:
        args.no_final = on_cpu
    if args.options is None and on_cpu:
        args.options = str(Path(__file__).with_name("compare-cpu.json"))
    options = json.loads(Path(args.options).read_text()) if args.options else {}
    options.setdefault("*", {}).setdefault("device", args.device)
    budget = parse_budget(args.budget)
    start = time.monotonic()
    print(f"# device={args.device} torch_threads={torch.get_num_threads()} backbone={args.backbone} "
          f"budget={args.budget} strategies={args.strategies} final={not args.no_final} options={json.dumps(options)}", flush=True)
    summary = []
    datasets = args.datasets.split(",")
    for position, name in enumerate(datasets):
        folder = Path(args.data_dir) / name
        train = limited(read_examples(str(folder / "train.csv")), args.train_limit)
        test = limited(read_examples(str(folder / "test.csv"), task=train.task), args.test_limit)
        # an equal share of what is left for each data set still to run (time one leaves unspent goes to the next),
        # so a slow first data set cannot starve the others
        left = (budget - (time.monotonic() - start)) / (len(datasets) - position) if not math.isinf(budget) else budget
        spec = CompareSpec(strategies=args.strategies.split(","), sizes=parse_sizes(args.sizes), seeds=args.seeds,
                           backbone=args.backbone, options=options, budget_s=max(left, 0.0),
                           final=not args.no_final)
        print(f"\n## {name}: {len(train):,} train rows, {len(test):,} test rows, {len(train.classes())} classes",
              flush=True)
        t0 = time.monotonic()
        results = run_comparison(train, test, spec, Path(args.output) / name, log=lambda m: print(m, flush=True))
        print(format_results(results), flush=True)
        for gain in results["transfer_gain"]:
            summary.append({"dataset": name, "strategy": gain["strategy"], "size": gain["size"],
                            "score": round(gain["score"], 4), "transfer_gain": gain["text"]})
        print(f"# {name} took {time.monotonic() - t0:.0f}s", flush=True)
    from headstart.tables import table

    print("\ntransfer gain (examples per class the best from-scratch baseline needs to match)")
    print(table(summary))
    print(f"# total {time.monotonic() - start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
