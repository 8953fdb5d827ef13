"""Transfer vs from-scratch vs zero-shot for generation, side by side in one run.

    python benchmarks/generation.py --data-dir /work/shared/data [--train-sizes 1000,10000] [--test-limit 500]
        [--strategy lora|full] [--max-seconds S] [--device cpu|cuda]

For each data set (multi30k_en_de: translate, aeslc: summarize) and training size:
- zero-shot: the instruct model prompted, no training;
- transfer: SmolLM2 fine-tuned (--strategy lora or full) on the first N pairs of a fixed shuffle;
- scratch: a small BART from random init with the same tokenizer, trained on the same pairs for the same
  wall-clock time as transfer (or --max-seconds).
Test: a fixed subset (seed 0) of test.jsonl. Prints BLEU, chrF, ROUGE-1/2/L, training seconds and generation
speed (tokens/second), then the transfer/scratch and transfer/zero-shot ratios of the main metric.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from headstart.generation import Seq2SeqModel, read_pairs  # noqa: E402
from headstart.generation.data import Pairs  # noqa: E402

DATASETS = {"multi30k_en_de": ("translate", "source", "target"), "aeslc": ("summarize", "document", "summary")}
MAIN = {"translate": "bleu", "summarize": "rougeL"}


def subset(pairs: Pairs, n: int, seed: int = 0) -> Pairs:
    order = np.random.default_rng(seed).permutation(len(pairs))[:n]
    return Pairs([pairs.sources[i] for i in order], [pairs.targets[i] for i in order], pairs.source)


def run_system(name: str, task: str, train: Pairs, valid: Pairs, test: Pairs, options: dict, strategy: str,
               backbone: str) -> dict:
    model = Seq2SeqModel(task=task, backbone=backbone, strategy=strategy, progress=False, **options)
    if strategy == "zero-shot":
        model.fit(train.sources[:1], train.targets[:1])
    else:
        model.fit(train, sources_valid=valid)
    metrics = model.evaluate(test)
    row = {"dataset": Path(train.source).parent.name, "train_size": 0 if strategy == "zero-shot" else len(train),
           "system": name, "train_seconds": round(model.fit_report_.get("train_seconds", 0.0), 1),
           "steps": model.fit_report_["steps"], **{k: round(v, 2) if isinstance(v, float) else v
                                                   for k, v in metrics.items()}}
    print(json.dumps(row), flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--datasets", default="multi30k_en_de,aeslc")
    p.add_argument("--train-sizes", default="1000,10000")
    p.add_argument("--test-limit", type=int, default=500)
    p.add_argument("--valid-size", type=int, default=100)
    p.add_argument("--strategy", default="lora", choices=["lora", "full"])
    p.add_argument("--backbone", default="SmolLM2-135M-Instruct")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.0, help="0: 1e-3 for lora, 5e-5 for full")
    p.add_argument("--scratch-lr", type=float, default=5e-4)
    p.add_argument("--max-seconds", type=float, default=0.0, help="scratch budget (0: transfer's training time)")
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--max-source-length", type=int, default=256, help="source tokens kept (aeslc emails are long)")
    p.add_argument("--generation-batch-size", type=int, default=32)
    p.add_argument("--device", default="auto")
    p.add_argument("--skip-zero-shot", action="store_true")
    p.add_argument("--out", default="", help="also write all rows as JSON here")
    p.add_argument("--results", default="", help="JSON-lines file: each system's row is appended when measured and "
                                                 "rows already in it are reused, not re-run (continue a long run)")
    args = p.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    common = {"device": args.device, "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
              "generation_batch_size": args.generation_batch_size, "max_source_length": args.max_source_length,
              "max_target_length": 64, "max_length": 384}
    rows = []
    started = time.perf_counter()
    previous = {}
    if args.results and Path(args.results).exists():
        for line in Path(args.results).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                previous[(row["dataset"], row["train_size"], row["system"])] = row
        print(f"{len(previous)} rows read from {args.results}; they are not re-run", flush=True)

    def measured(name: str, size: int, system: str, run) -> dict:
        row = previous.get((name, size, system))
        if row is None:
            row = run()
            if args.results:
                with open(args.results, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row) + "\n")
        rows.append(row)
        return row

    data = {}
    for name in args.datasets.split(","):
        task, src, tgt = DATASETS[name]
        folder = Path(args.data_dir) / name
        data[name] = (read_pairs(folder / "train.jsonl", src, tgt),
                      subset(read_pairs(folder / "dev.jsonl", src, tgt), args.valid_size),
                      subset(read_pairs(folder / "test.jsonl", src, tgt), args.test_limit))
        if not args.skip_zero_shot:
            measured(name, 0, "zero-shot", lambda: run_system("zero-shot", task, *data[name], common, "zero-shot",
                                                              args.backbone))
    # sizes outermost: a run cut short still has every data set at the small size
    for size in [int(s) for s in args.train_sizes.split(",")]:
        for name, (train_all, valid, test) in data.items():
            task = DATASETS[name][0]
            train = subset(train_all, size, seed=1)
            lr = args.lr or (1e-3 if args.strategy == "lora" else 5e-5)
            transfer = measured(name, len(train), f"transfer-{args.strategy}", lambda: run_system(
                f"transfer-{args.strategy}", task, train, valid, test, {**common, "epochs": args.epochs, "lr": lr},
                args.strategy, args.backbone))
            budget = args.max_seconds or max(1.0, transfer["train_seconds"])
            measured(name, len(train), "scratch", lambda: run_system(
                "scratch", task, train, valid, test, {**common, "epochs": 1000, "lr": args.scratch_lr,
                                                      "max_seconds": budget, "patience": 0, "warmup_ratio": 0.05},
                "scratch", args.backbone))
    print_table(rows)
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f}s")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


def print_table(rows: list[dict]) -> None:
    cols = ["dataset", "train_size", "system", "bleu", "chrf", "rouge1", "rouge2", "rougeL", "train_seconds", "steps",
            "tokens_per_second", "n"]
    print("\n" + "  ".join(f"{c:>14}" for c in cols))
    for r in rows:
        print("  ".join(f"{str(r.get(c, '')):>14}" for c in cols))
    print("\nratios of the main metric (BLEU for translate, ROUGE-L for summarize)")
    for r in rows:
        if r["system"].startswith("transfer"):
            task = DATASETS[r["dataset"]][0]
            key = MAIN[task]
            scratch = next(s for s in rows if s["dataset"] == r["dataset"] and s["train_size"] == r["train_size"]
                           and s["system"] == "scratch")
            zero = next((s for s in rows if s["dataset"] == r["dataset"] and s["system"] == "zero-shot"), None)
            line = f"  {r['dataset']} n={r['train_size']}: transfer {r[key]:.2f} vs scratch {scratch[key]:.2f}"
            if zero:
                line += f" vs zero-shot {zero[key]:.2f}"
            print(line)


if __name__ == "__main__":
    sys.exit(main())
