"""Issue 3 benchmark: every registered strategy at several training sizes, plus domain-adaptive pre-training.

For each data set, training size (examples per class, or `all`) and seed, every strategy (taken from the
registry, optionally filtered) is fitted and scored on the test set. Printed per setting: accuracy mean ±
std over seeds, fit time, trainable parameters; then the lora-vs-finetune accuracy gap and trainable-
parameter ratio. The pre-training experiment continues masked-LM training on the unlabelled training
texts of one data set, reports held-out perplexity before and after, and compares downstream strategies
at a small size on the original vs the adapted backbone (same seeds, same samples).

    python benchmarks/strategies.py --data-dir ../shared/data [--backbone NAME_OR_PATH] [--device cuda]
        [--sizes 64,256,all] [--seeds 3] [--datasets sst2,trec] [--strategies finetune,lora,...]
        [--pretrain-dataset sst2] [--no-pretrain] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HEADSTART_CACHE", tempfile.mkdtemp(prefix="hs-bench-"))

from headstart import TextClassifier  # noqa: E402
from headstart.data import read_examples, sample_per_class  # noqa: E402
from headstart.grid import without_cross_validation  # noqa: E402
from headstart.strategies import get_strategy, strategy_names  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True, help="folder with <dataset>/{train,test}.csv")
    p.add_argument("--backbone", default="all-MiniLM-L6-v2", help="backbone name or folder")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--datasets", default="sst2,trec")
    p.add_argument("--sizes", default="64,256,all", help="examples per class, comma-separated; 'all' = full data")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--strategies", default="", help="comma-separated subset of the registry (default: all)")
    p.add_argument("--exclude", default="", help="comma-separated strategies to skip")
    p.add_argument("--options", default="{}", help='JSON per strategy, e.g. {"finetune": {"epochs": 4}}')
    p.add_argument("--max-length", type=int, default=128, help="tokens per text for the trained strategies")
    p.add_argument("--test-limit", type=int, default=0, help="score on the first N test rows only (0: all)")
    p.add_argument("--no-pretrain", action="store_true", help="skip the pre-training experiment")
    p.add_argument("--pretrain-dataset", default="sst2")
    p.add_argument("--pretrain-lines", type=int, default=0, help="unlabelled lines used (0: the whole train file)")
    p.add_argument("--pretrain-objective", default="lm", choices=["lm", "simcse"])
    p.add_argument("--pretrain-epochs", type=int, default=3)
    p.add_argument("--pretrain-max-steps", type=int, default=0, help="cap on pre-training steps (0: none)")
    p.add_argument("--pretrain-head-warmup", type=int, default=100,
                   help="steps training a missing MLM head alone before 'before' is measured")
    p.add_argument("--pretrain-size", default="64", help="examples per class for the downstream check (comma-separated)")
    p.add_argument("--adapted-backbone", default="", help="skip pre-training: compare downstream on this folder written "
                                                          "by an earlier `headstart pretrain` (or run of this script)")
    p.add_argument("--pretrain-strategies", default="probe,finetune")
    p.add_argument("--json", default="", help="also write all rows to this JSON file")
    return p.parse_args(argv)


def chosen_strategies(args) -> list[str]:
    names = [s.strip() for s in args.strategies.split(",") if s.strip()] or strategy_names()
    unknown = [n for n in names if n not in strategy_names()]
    if unknown:
        sys.exit(f"unknown strategies {unknown}; registered: {strategy_names()}")
    skip = {s.strip() for s in args.exclude.split(",") if s.strip()}
    return [n for n in names if n not in skip and "classification" in get_strategy(n).tasks]


def strategy_options(name: str, args, extra: dict) -> dict:
    import dataclasses

    fields = {f.name for f in dataclasses.fields(get_strategy(name).config_cls)}
    options = {k: v for k, v in {"device": args.device, "max_length": args.max_length}.items() if k in fields}
    options.update(extra.get(name, {}))
    return without_cross_validation(name, options)  # scored on the test set; fit times stay comparable


def run_one(name, backbone, train, test, seed, args, extra) -> dict:
    start = time.perf_counter()
    clf = TextClassifier(backbone=backbone, strategy=name, seed=seed, progress=False,
                         **strategy_options(name, args, extra)).fit(train)
    fit_s = time.perf_counter() - start
    report = clf.fit_report_
    return {"accuracy": clf.score(test.texts, test.labels), "fit_s": fit_s,
            "trainable": report.trainable_parameters, "total": report.total_parameters}


def summarise(rows: list[dict]) -> dict:
    accs = [r["accuracy"] for r in rows]
    return {"acc_mean": statistics.mean(accs), "acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "fit_s": statistics.mean(r["fit_s"] for r in rows), "trainable": rows[0]["trainable"],
            "total": rows[0]["total"], "runs": len(rows)}


def load_split(args, dataset: str):
    folder = Path(args.data_dir) / dataset
    train = read_examples(folder / "train.csv")
    test = read_examples(folder / "test.csv")
    if args.test_limit:
        test = test.subset(range(min(args.test_limit, len(test))))
    return train, test


def strategy_grid(args, extra) -> list[dict]:
    results = []
    names = chosen_strategies(args)
    for dataset in args.datasets.split(","):
        train_all, test = load_split(args, dataset)
        for size in args.sizes.split(","):
            n = None if size == "all" else int(size)
            for name in names:
                runs = []
                for seed in range(args.seeds):
                    train = sample_per_class(train_all, n, seed)
                    runs.append(run_one(name, args.backbone, train, test, seed, args, extra))
                row = {"dataset": dataset, "size": size, "strategy": name, "train_rows": len(train),
                       **summarise(runs), "accuracies": [r["accuracy"] for r in runs]}
                results.append(row)
                print(f"{dataset:6} {size:>4}/class  {name:18} acc {row['acc_mean'] * 100:6.2f} ± "
                      f"{row['acc_std'] * 100:4.2f}  fit {row['fit_s']:7.1f}s  trainable {row['trainable']:>11,}",
                      flush=True)
    return results


def print_gaps(results: list[dict]) -> None:
    by_key = {(r["dataset"], r["size"], r["strategy"]): r for r in results}
    print("\nlora vs finetune (accuracy points; trainable-parameter ratio)")
    for (dataset, size, name), row in by_key.items():
        if name != "lora" or (dataset, size, "finetune") not in by_key:
            continue
        ft = by_key[(dataset, size, "finetune")]
        gap = (row["acc_mean"] - ft["acc_mean"]) * 100
        ratio = row["trainable"] / max(1, ft["trainable"])
        verdict = "within 1.5 pts" if gap >= -1.5 else "more than 1.5 pts behind"
        print(f"  {dataset} {size}/class: lora {row['acc_mean'] * 100:.2f} vs finetune {ft['acc_mean'] * 100:.2f} "
              f"-> gap {gap:+.2f} pts ({verdict}); trainable {row['trainable']:,} / {ft['trainable']:,} "
              f"= {ratio * 100:.2f}%")


def pretrain_experiment(args, extra) -> dict:
    from headstart.backbones import resolve_backbone
    from headstart.cli.pretrain import summary_line
    from headstart.training.pretrain import PretrainConfig, continue_pretraining

    train_all, test = load_split(args, args.pretrain_dataset)
    lines = list(train_all.texts)[: args.pretrain_lines or None]
    if args.adapted_backbone:  # measure downstream only, on a backbone adapted earlier
        out = Path(args.adapted_backbone)
        saved = json.loads((out / "pretrain_report.json").read_text())
        report = SimpleNamespace(**{k: saved[k] for k in ("objective", "before", "after", "steps", "seconds", "notes")})
        print(f"\nadapted backbone {out} (from its pretrain_report.json):", flush=True)
    else:
        out = Path(tempfile.mkdtemp(prefix="hs-bench-pretrain-")) / f"{Path(args.backbone).name}-{args.pretrain_dataset}"
        config = PretrainConfig(objective=args.pretrain_objective, epochs=args.pretrain_epochs,
                                max_steps=args.pretrain_max_steps, device=args.device,
                                head_warmup_steps=args.pretrain_head_warmup, max_length=args.max_length)
        print(f"\npre-training {args.backbone} on {len(lines):,} unlabelled {args.pretrain_dataset} training texts ...",
              flush=True)
        report = continue_pretraining(resolve_backbone(args.backbone), lines, out, config, progress=False)
    print(f"  {report.objective}: held-out {summary_line(report)} ({report.steps} steps, {report.seconds:.0f}s)",
          flush=True)
    for note in report.notes:
        print(f"  note: {note}")
    rows = []
    for size in [int(s) for s in str(args.pretrain_size).split(",") if s]:
        for name in [s.strip() for s in args.pretrain_strategies.split(",") if s.strip()]:
            for label, backbone in (("original", args.backbone), ("adapted", str(out))):
                runs = [run_one(name, backbone, sample_per_class(train_all, size, seed), test, seed, args, extra)
                        for seed in range(args.seeds)]
                row = {"strategy": name, "backbone": label, "size": size, **summarise(runs),
                       "accuracies": [r["accuracy"] for r in runs]}
                rows.append(row)
                print(f"  {name:12} {label:9} {size}/class acc {row['acc_mean'] * 100:6.2f} ± "
                      f"{row['acc_std'] * 100:4.2f}", flush=True)
            print(f"  {name} {size}/class: {paired_difference(rows[-2]['accuracies'], rows[-1]['accuracies'])}",
                  flush=True)
    return {"objective": report.objective, "before": report.before, "after": report.after, "steps": report.steps,
            "seconds": report.seconds, "lines": len(lines), "downstream": rows, "backbone_folder": str(out)}


def paired_difference(original: list[float], adapted: list[float]) -> str:
    """Adapted minus original over the same seeds (same samples): mean, seeds improved, paired t-test."""
    diffs = [(a - o) * 100 for o, a in zip(original, adapted)]
    line = f"adapted - original = {statistics.mean(diffs):+.2f} pts, better on {sum(d > 0 for d in diffs)}/{len(diffs)} seeds"
    if len(diffs) > 2 and statistics.stdev(diffs) > 0:
        from scipy.stats import ttest_rel

        line += f", paired t-test p = {ttest_rel(adapted, original).pvalue:.2g}"
    return line


def main(argv=None) -> int:
    args = parse_args(argv)
    extra = json.loads(args.options)
    print(f"backbone {args.backbone}, device {args.device}, sizes {args.sizes}, seeds {args.seeds}, "
          f"strategies {', '.join(chosen_strategies(args))}", flush=True)
    results = strategy_grid(args, extra) if args.sizes else []
    print_gaps(results)
    pretrain = None if args.no_pretrain else pretrain_experiment(args, extra)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results, "pretrain": pretrain},
                                              indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
