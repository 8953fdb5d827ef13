"""Self-training benchmark (issue 20 part 2): what the unlabelled rows buy at 8 labelled rows per class.

For sst2, trec and emotion: 8 labelled rows per class (seeded sample, seeds 0-4, the sampling of
benchmarks/fewshot.py), the rest of the training file as the unlabelled pool (its labels unused), the full
test set. Per strategy (probe, contrastive) and seed, the strategy is fitted once on the labelled rows and
scored (without), then self-trained from that fitted model with `headstart.unlabelled.self_train.self_train`
and scored again (with): the same two steps `TextClassifier(self_train=True).fit(..., X_unlabeled=pool)`
runs (tests/unlabelled/test_self_train.py checks they give the same model). One JSON row per (data set,
strategy, method, seed) is appended to benchmarks/results/self-training-cpu.jsonl; rows already there (same
settings) are not run again. The table prints mean accuracy ± std without and with, the difference, the time
self-training costs, and SetFit's mean at 8 per class from benchmarks/results/fewshot-cpu.jsonl.

    python benchmarks/self_training.py --strategies probe --methods rounds,propagate
    python benchmarks/self_training.py --strategies contrastive --pool-limit 4000
"""

from __future__ import annotations

import argparse
import dataclasses
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

import pandas as pd  # noqa: E402

from headstart import TextClassifier  # noqa: E402
from headstart.data.examples import from_lists  # noqa: E402
from headstart.data.split import sample_per_class  # noqa: E402
from headstart.grid import without_cross_validation  # noqa: E402
from headstart.strategies import get_strategy  # noqa: E402
from headstart.unlabelled.self_train import SelfTrainConfig, resolve_method, self_train  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sidebyside import RESULTS_DIR  # noqa: E402  (benchmarks/ is on sys.path when this script runs)

RESULTS = RESULTS_DIR / "self-training-cpu.jsonl"
FEWSHOT = RESULTS_DIR / "fewshot-cpu.jsonl"


def read(data_dir: Path, name: str, split: str) -> pd.DataFrame:
    frame = pd.read_csv(data_dir / name / f"{split}.csv")
    return frame.dropna(subset=["text", "label"]).astype({"text": str, "label": str})


def settings_of(strategy: str, options: SelfTrainConfig, pool_limit: int, valid_rows: int = 0) -> dict:
    """Everything a row's numbers depend on besides data set and seed: a row is reused only while they match."""
    cls = get_strategy(strategy)
    config = dataclasses.asdict(cls.config_cls())
    # the method `auto` stood for when the row was made (it changed: rows of the old meaning are not reused)
    method = resolve_method(cls, options.self_train_method)
    self_training = dataclasses.asdict(options)
    if not options.self_train_encoder:  # added later: rows made before it ran without the step, so they match
        del self_training["self_train_encoder"]
    return json.loads(json.dumps({"strategy": config, "self_train": self_training,
                                  "pool_limit": pool_limit, "method_run": method,
                                  **({"valid_rows": valid_rows} if valid_rows else {})}, default=str))


def key(row: dict) -> str:
    return f"{row['dataset']}|{row['n']}|{row['strategy']}|{label(row)}|{row['seed']}"


def label(row: dict) -> str:
    """The method column: what `auto` ran, and '+encoder' when the encoder step was on."""
    method = row["method"]
    if method == "auto":  # rows made before `method_run` was recorded ran `rounds`
        method = f"auto={(row.get('settings') or {}).get('method_run', 'rounds')}"
    valid_rows = (row.get("settings") or {}).get("valid_rows")
    return method + ("+encoder" if row.get("encoder") else "") + (f"+valid{valid_rows}" if valid_rows else "")


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_one(strategy: str, options: SelfTrainConfig, sample, pool: list[str], test: pd.DataFrame, seed: int,
            pool_limit: int, valid=None) -> dict:
    """Fit without, score; self-train from that model (its check on `valid` when given), score again."""
    start = time.perf_counter()
    clf = TextClassifier(strategy=strategy, seed=seed, progress=False,
                         **without_cross_validation(strategy, {"device": "cpu"}))
    clf.fit(sample)
    fit_s = time.perf_counter() - start
    without = clf.score(test.text.tolist(), test.label.tolist())

    def refit(target, fit_config=None):  # as TextClassifier._self_train's (the encoder step; rounds refit heads)
        fresh = get_strategy(strategy)()
        fresh.fit(clf.backbone_, target, None, fit_config or clf.config_, seed)
        return fresh

    valid_target = clf.encode(valid) if valid is not None else None
    model, report, _ = self_train(clf.strategy_, clf.encode(sample), valid_target, pool, options, seed, refit)
    clf.strategy_ = model
    with_st = clf.score(test.text.tolist(), test.label.tolist())
    return {"accuracy_without": without, "accuracy_with": with_st, "fit_s": fit_s,
            "self_train_s": report.seconds, "kept_rounds": report.kept_rounds, "pool_rows": report.pool_rows,
            "per_class": report.per_class, "check": report.check, "check_baseline": report.baseline,
            "rounds": [dataclasses.asdict(r) for r in report.rounds],
            "encoder_step": dataclasses.asdict(report.encoder) if report.encoder else None,
            "settings": settings_of(strategy, options, pool_limit, len(valid) if valid is not None else 0)}


def summary(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}" if len(values) > 1 else f"{values[0]:.4f}"


def setfit_means() -> dict[str, float]:
    rows = [r for r in read_rows(FEWSHOT) if r["method"] == "setfit" and r["n"] == 8 and r.get("test_limit", 0) == 0]
    return {name: statistics.mean(r["accuracy"] for r in rows if r["dataset"] == name)
            for name in {r["dataset"] for r in rows}}


def print_table(rows: list[dict]) -> None:
    setfit = setfit_means()
    print("\ndataset  strategy+method           seeds  without          with             diff     "
          "self-train s   setfit@8")
    frame = pd.DataFrame(rows)
    frame["method"] = [label(r) for r in rows]
    for (name, strategy, method), g in frame.groupby(["dataset", "strategy", "method"], sort=False):
        diff = g.accuracy_with - g.accuracy_without
        print(f"{name:<8} {strategy + '+' + method:<25} {len(g):<6} {summary(g.accuracy_without.tolist()):<16} "
              f"{summary(g.accuracy_with.tolist()):<16} {diff.mean():+.4f}  {g.self_train_s.mean():8.1f}      "
              f"{setfit.get(name, float('nan')):.4f}")
    # the target: mean gain over the data sets >= 3 points, no set worse by more than 1 point
    for (strategy, method), g in frame.groupby(["strategy", "method"], sort=False):
        per_set = (g.accuracy_with - g.accuracy_without).groupby(g.dataset, sort=False).mean()
        print(f"{strategy}+{method}: mean gain over {len(per_set)} data set(s) {100 * per_set.mean():+.2f} points, "
              f"worst set {per_set.idxmin()} {100 * per_set.min():+.2f}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--datasets", default="sst2,trec,emotion")
    parser.add_argument("--strategies", default="probe,contrastive")
    parser.add_argument("--methods", default="auto", help="self-training methods (auto, rounds, propagate, cluster)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n", type=int, default=8, help="labelled rows per class")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pool-limit", type=int, default=0, help="pool rows used per fit, a seeded sample (0: all)")
    parser.add_argument("--encoder", action="store_true", help="self_train_encoder: re-tune the encoder too")
    parser.add_argument("--valid-rows", type=int, default=0,
                        help="a validation split of this many rows drawn (seeded) from the pool, with their labels, "
                             "for the held-out check (0: none, the check cross-validates the labelled rows)")
    parser.add_argument("--seed-list", default="", help="run only these seeds (comma-separated), not 0..--seeds-1")
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--table-only", action="store_true", help="print the table of the rows already there")
    args = parser.parse_args(argv)
    path = Path(args.results)
    stored = {key(r): r for r in read_rows(path)}
    if args.table_only:
        print_table(list(stored.values()))
        return 0
    import torch

    data_dir = Path(args.data_dir)
    frames = {name: (read(data_dir, name, "train"), read(data_dir, name, "test"))
              for name in args.datasets.split(",") if name}
    command = shlex.join([sys.executable, *sys.argv])
    wanted = []
    seeds = [int(x) for x in args.seed_list.split(",") if x] or list(range(args.seeds))
    for seed in seeds:  # seeds outside: a partial run has every data set
        for name, (train_frame, test) in frames.items():
            full = from_lists(train_frame.text.tolist(), train_frame.label.tolist())
            sample = sample_per_class(full, args.n, seed)
            labelled = set(sample.texts)
            pool = [t for t in train_frame.text.tolist() if t not in labelled]
            valid = None
            if args.valid_rows:  # labelled rows a user set aside for the check: out of the pool
                rest = train_frame[~train_frame.text.isin(labelled)]
                drawn = rest.sample(n=args.valid_rows, random_state=seed)
                valid = from_lists(drawn.text.tolist(), drawn.label.tolist())
                pool = [t for t in pool if t not in set(drawn.text)]
            for strategy in args.strategies.split(","):
                for method in args.methods.split(","):
                    options = SelfTrainConfig(self_train=True, self_train_method=method,
                                              self_train_rounds=args.rounds, self_train_pool_limit=args.pool_limit,
                                              self_train_encoder=args.encoder)
                    row = {"dataset": name, "n": args.n, "strategy": strategy, "method": method, "seed": seed,
                           **({"encoder": True} if args.encoder else {}),
                           "settings": settings_of(strategy, options, args.pool_limit, args.valid_rows)}
                    previous = stored.get(key(row))
                    if previous is not None and previous.get("settings") == row["settings"]:
                        wanted.append(previous)
                        continue
                    load_before = os.getloadavg()
                    row.update(run_one(strategy, options, sample, pool, test, seed, args.pool_limit, valid))
                    row.update(test_rows=len(test), labelled_rows=len(sample), command=command,
                               torch_threads=torch.get_num_threads(), load_before=[round(x, 2) for x in load_before],
                               load_after=[round(x, 2) for x in os.getloadavg()],
                               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                               date=time.strftime("%Y-%m-%dT%H:%M:%S"))
                    with open(path, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps(row) + "\n")
                    stored[key(row)] = row
                    wanted.append(row)
                    print(f"{name} {strategy}+{method} seed {seed}: {row['accuracy_without']:.4f} -> "
                          f"{row['accuracy_with']:.4f} (kept {row['kept_rounds']} round(s), fit {row['fit_s']:.1f}s, "
                          f"self-train {row['self_train_s']:.1f}s)", flush=True)
    print_table(wanted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
