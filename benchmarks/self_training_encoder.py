"""Issue 20 part 2, exploration: pseudo-labels that re-train the encoder, at 8 labelled rows per class.

benchmarks/self_training.py measured self-training that refits only contrastive's head over its tuned encoder:
+2.5 points on sst2, +0.6 on emotion, -3.1 on trec. This asks what the pool buys when the encoder itself is
re-tuned on the labelled rows plus the pool rows the first model is most sure of (the way SetFit's authors
suggest using unlabelled data), without the library's held-out check (an upper bound on what a check could keep).

Per data set and seed (the samples of benchmarks/self_training.py: 8 per class, seeded, the rest of the
training file as the pool, a seeded `--pool-limit` sample of it, full test sets):
1. contrastive is fitted on the labelled rows and scored (`without`);
2. it scores the pool; per predicted class the `--per-class` most confident rows are pseudo-labelled, each
   weighted `--weight` x its confidence (a real row weighs 1);
3. contrastive is fitted again from the pre-trained backbone on labelled + pseudo-labelled rows and scored
   (`with`). `--budget equal` keeps the triplet count of step 1 (the pseudo rows add variety, not steps: the
   refit costs about what the first fit did); `--budget per-row` draws the usual 20 per row (cost grows with rows).

    python benchmarks/self_training_encoder.py --data-dir ../shared/data --seeds 2   # about 25 min on 2 cores
    python benchmarks/self_training_encoder.py --data-dir ../shared/data --seeds 5 --select cluster  # ~17 min a seed

`--select cluster` takes the pseudo-labels of the library's `cluster` method instead (class prototypes refined
over the pool's tuned embeddings), the most confident `--share` (a third) of each predicted class's rows: the
rows the library's first `cluster` round adds, here re-tuning the encoder too.

One JSON row per (data set, seed, settings) is appended to benchmarks/results/self-training-encoder-cpu.jsonl
and reused when the script runs again with the same settings (resumable); the table prints mean without / with.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import resource
import shlex
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from headstart import TextClassifier  # noqa: E402
from headstart.data.examples import from_lists  # noqa: E402
from headstart.data.split import sample_per_class  # noqa: E402
from headstart.grid import without_cross_validation  # noqa: E402
from headstart.strategies import get_strategy  # noqa: E402
from headstart.targets import Target  # noqa: E402
from headstart.unlabelled.prototypes import cluster_labels  # noqa: E402
from headstart.unlabelled.selection import select_balanced  # noqa: E402
from headstart.unlabelled.self_train import pool_texts  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from self_training import read  # noqa: E402
from sidebyside import RESULTS_DIR  # noqa: E402

RESULTS = RESULTS_DIR / "self-training-encoder-cpu.jsonl"
STRATEGY = "contrastive"


def run_one(sample, pool: list[str], pool_truth: list[str], test_texts: list[str], test_labels: list[str],
            seed: int, settings: dict) -> dict:
    start = time.perf_counter()
    clf = TextClassifier(strategy=STRATEGY, seed=seed, progress=False,
                         **without_cross_validation(STRATEGY, {"device": "cpu"}))
    clf.fit(sample)
    fit_s = time.perf_counter() - start
    without = clf.score(test_texts, test_labels)
    base = clf.strategy_
    started = time.perf_counter()
    train = clf.encode(sample)
    if settings.get("select", "confident") == "cluster":  # the library's `cluster` labels, a share of each class
        proba = cluster_labels(base.embeddings(train.texts), train.y, base.embeddings(pool), len(train.classes))
        counts = np.bincount(proba.argmax(1), minlength=len(train.classes))
        chosen = select_balanced(proba, np.ceil(settings["share"] * counts).astype(int),
                                 np.zeros(len(pool), dtype=bool))
    else:
        proba = base.predict_proba(pool)
        chosen = select_balanced(proba, settings["per_class"], np.zeros(len(pool), dtype=bool))
    pseudo_y = proba[chosen].argmax(1)
    joined = Target(train.texts + [pool[i] for i in chosen], np.concatenate([train.y, pseudo_y]).astype(int),
                    train.task, train.classes,
                    np.concatenate([train.weights(), settings["weight"] * proba[chosen].max(1)]))
    config = base.config_
    if settings["budget"] == "equal":  # the triplets of the first fit, spread over more rows
        first = min(len(train.y) * config.triplets_per_example, config.max_triplets)
        config = dataclasses.replace(config, max_triplets=first)
    refit = get_strategy(STRATEGY)()
    refit.fit(clf.backbone_, joined, None, config, seed)
    clf.strategy_ = refit
    with_st = clf.score(test_texts, test_labels)
    # how right the pseudo-labels were: the pool's own labels, unused above, answer
    right = [str(train.classes[y]) == pool_truth[i] for i, y in zip(chosen, pseudo_y)]
    return {"accuracy_without": without, "accuracy_with": with_st, "fit_s": fit_s,
            "self_train_s": time.perf_counter() - started, "pseudo_rows": int(len(chosen)),
            "pseudo_label_accuracy": float(np.mean(right)) if right else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--datasets", default="sst2,trec,emotion")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--n", type=int, default=8, help="labelled rows per class")
    parser.add_argument("--per-class", type=int, default=16, help="pseudo-labelled pool rows per predicted class")
    parser.add_argument("--weight", type=float, default=0.5, help="weight of a pseudo-labelled row x its confidence")
    parser.add_argument("--budget", choices=("equal", "per-row"), default="equal")
    parser.add_argument("--select", choices=("confident", "cluster"), default="confident",
                        help="confident: the first model's --per-class most confident rows per class; cluster: the "
                             "library's `cluster` pseudo-labels, the most confident --share of each class's rows")
    parser.add_argument("--share", type=float, default=1 / 3, help="share of each class's rows with --select cluster")
    parser.add_argument("--pool-limit", type=int, default=4000)
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)
    settings = {"n": args.n, "per_class": args.per_class, "weight": args.weight, "budget": args.budget,
                "pool_limit": args.pool_limit,
                **({"select": "cluster", "share": args.share} if args.select == "cluster" else {}),
                "strategy": json.loads(json.dumps(dataclasses.asdict(get_strategy(STRATEGY).config_cls()),
                                                  default=str))}
    path = Path(args.results)
    stored = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    done = {(r["dataset"], r["seed"]): r for r in stored if r["settings"] == settings}
    import torch

    rows = []
    for seed in range(args.seeds):
        for name in [d for d in args.datasets.split(",") if d]:
            if (name, seed) in done:
                rows.append(done[(name, seed)])
                continue
            train_frame, test = read(Path(args.data_dir), name, "train"), read(Path(args.data_dir), name, "test")
            sample = sample_per_class(from_lists(train_frame.text.tolist(), train_frame.label.tolist()), args.n, seed)
            truth = {t: label for t, label in zip(train_frame.text, train_frame.label)}
            # the pool as self-training draws it: distinct texts that are not labelled ones, a seeded sample
            pool = pool_texts(train_frame.text.tolist(), sample.texts, args.pool_limit, seed)
            row = {"dataset": name, "seed": seed, "settings": settings, "pool_rows": len(pool),
                   **run_one(sample, pool, [truth[t] for t in pool], test.text.tolist(), test.label.tolist(), seed,
                             settings),
                   "test_rows": len(test), "torch_threads": torch.get_num_threads(),
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                   "load_avg": [round(x, 2) for x in os.getloadavg()],
                   "command": shlex.join([sys.executable, *sys.argv]),
                   "date": datetime.datetime.now().isoformat(timespec="seconds")}
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
            rows.append(row)
            print(f"{name} seed {seed}: {row['accuracy_without']:.4f} -> {row['accuracy_with']:.4f} "
                  f"(fit {row['fit_s']:.0f}s, self-train {row['self_train_s']:.0f}s)", flush=True)
    print("\ndataset  seeds  without  with     diff     pseudo-label accuracy")
    for name in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == name]
        a, b = (statistics.mean(r[k] for r in mine) for k in ("accuracy_without", "accuracy_with"))
        right = statistics.mean(r["pseudo_label_accuracy"] for r in mine)
        print(f"{name:<8} {len(mine):<6} {a:.4f}   {b:.4f}   {b - a:+.4f}  {right:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
