"""Issue 20 part 2, exploration: self-training variants over frozen embeddings, at 8 labelled rows per class.

What the unlabelled pool can buy a head on frozen all-MiniLM-L6-v2 embeddings, without the library's held-out
check (an upper bound on what the check could keep): more rounds, a weaker regularised head, and features
standardised with the pool's mean and spread. The samples are those of benchmarks/self_training.py (per class,
seeded, seeds 0-4); the pool is the rest of the training file (labels unused); full test sets.

    python benchmarks/self_training_variants.py --data-dir ../shared/data      # about 5 min on 2 cores

One JSON row per (data set, variant) with the per-seed accuracies is appended to
benchmarks/results/self-training-variants-cpu.jsonl; the table prints mean ± std and the gain over the probe's
head today (C=1, no pool).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sidebyside import RESULTS_DIR  # noqa: E402

RESULTS = RESULTS_DIR / "self-training-variants-cpu.jsonl"


@dataclass(frozen=True)
class Variant:
    c: float = 1.0
    rounds: int = 0  # 0: no self-training
    per_class: int = 32  # pool rows added per predicted class in the first round
    grow: float = 1.0  # per_class is multiplied by this every round
    standardise: bool = False  # features scaled by the pool's (and labelled rows') mean and std
    weight: float = 0.5  # a pseudo-labelled row weighs this x its confidence


VARIANTS = {
    "head C=1 (probe today)": Variant(),
    "head C=10": Variant(c=10),
    "3 rounds x 32, C=1": Variant(rounds=3),
    "5 rounds doubling, C=1": Variant(rounds=5, grow=2),
    "5 rounds doubling, C=10": Variant(c=10, rounds=5, grow=2),
    "standardised, C=1": Variant(standardise=True),
    "standardised + 3 rounds x 32, C=1": Variant(standardise=True, rounds=3),
}


def per_class_sample(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n rows of every class, seeded as headstart.data.split.sample_per_class draws them: `y` holds indices into
    the sorted class names, so index order is the name order the library draws classes in."""
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for c in sorted(set(y.tolist())):
        chosen.extend(rng.permutation(np.flatnonzero(y == c))[:n])
    return np.array(sorted(chosen))


def fit_variant(v: Variant, x_l: np.ndarray, y_l: np.ndarray, x_pool: np.ndarray, classes: int) -> Callable:
    """Fit the variant; returns a function from raw features to predicted classes."""
    from sklearn.linear_model import LogisticRegression

    mean, std = (np.vstack([x_l, x_pool]).mean(0), np.vstack([x_l, x_pool]).std(0) + 1e-6) if v.standardise else (0.0, 1.0)
    scale = lambda x: (x - mean) / std  # noqa: E731
    xl, xp = scale(x_l), scale(x_pool)
    model = LogisticRegression(C=v.c, max_iter=2000).fit(xl, y_l)
    taken = np.zeros(len(xp), dtype=bool)
    rows, labels, weights = [], [], []
    per_class = float(v.per_class)
    for _ in range(v.rounds):
        proba = model.predict_proba(xp)
        predicted, confidence = model.classes_[proba.argmax(1)], proba.max(1)
        new = []
        for c in model.classes_:
            candidates = np.flatnonzero((predicted == c) & ~taken)
            new.extend(candidates[np.argsort(-confidence[candidates], kind="stable")][:int(per_class)])
        if not new:
            break
        new = np.array(new)
        taken[new] = True
        rows.extend(new), labels.extend(predicted[new]), weights.extend(v.weight * confidence[new])
        model = LogisticRegression(C=v.c, max_iter=2000).fit(
            np.vstack([xl, xp[rows]]), np.concatenate([y_l, labels]),
            sample_weight=np.concatenate([np.ones(len(y_l)), weights]))
        per_class *= v.grow
    return lambda x: model.predict(scale(x))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--datasets", default="sst2,trec,emotion")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n", type=int, default=8, help="labelled rows per class")
    parser.add_argument("--backbone", default="all-MiniLM-L6-v2")
    parser.add_argument("--results", default=str(RESULTS), help="'' to keep no rows")
    args = parser.parse_args(argv)
    import pandas as pd

    from headstart.backbones import resolve_backbone
    from headstart.embeddings import embed

    ref = resolve_backbone(args.backbone)
    command = shlex.join([sys.executable, *sys.argv])
    for name in [d for d in args.datasets.split(",") if d]:
        frames = []
        for split in ("train", "test"):
            path = Path(args.data_dir) / name / f"{split}.csv"
            if not path.is_file():
                parser.error(f"expected {path} (text,label); pass --data-dir with the shared data sets")
            frames.append(pd.read_csv(path).dropna(subset=["text", "label"]).astype({"text": str, "label": str}))
        train, test = frames
        classes = sorted(set(train.label))
        index = {c: i for i, c in enumerate(classes)}
        test = test[test.label.isin(index)]
        x, x_test = embed(ref, train.text.tolist(), progress=False), embed(ref, test.text.tolist(), progress=False)
        y, y_test = train.label.map(index).to_numpy(), test.label.map(index).to_numpy()
        print(f"\n{name}: {len(y):,} training rows ({args.n} per class labelled, the rest the pool), "
              f"{len(y_test):,} test rows", flush=True)
        base = None
        for label, variant in VARIANTS.items():
            scores = []
            for seed in range(args.seeds):
                labelled = per_class_sample(y, args.n, seed)
                pool = np.setdiff1d(np.arange(len(y)), labelled)
                predict = fit_variant(variant, x[labelled], y[labelled], x[pool], len(classes))
                scores.append(float((predict(x_test) == y_test).mean()))
            mean = float(np.mean(scores))
            base = mean if base is None else base
            print(f"  {label:<36} {mean:.4f} ± {np.std(scores):.4f}  {100 * (mean - base):+.1f} points", flush=True)
            if args.results:
                row = {"benchmark": "self-training-variants", "command": command, "dataset": name, "n": args.n,
                       "variant": label, "settings": variant.__dict__, "seeds": args.seeds, "accuracy": scores,
                       "mean": mean, "date": datetime.datetime.now().isoformat(timespec="seconds")}
                Path(args.results).parent.mkdir(parents=True, exist_ok=True)
                with open(args.results, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
