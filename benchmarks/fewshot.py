"""Few-shot, one-shot and zero-shot benchmark: headstart's strategies side by side with the setfit library.

For every data set and N labelled examples per class, over several seeds: mean ± std test accuracy and
fit time of contrastive, prototype, probe and setfit (same all-MiniLM-L6-v2 folder, setfit's default
settings), zero-shot (both variants, once per data set, no labelled data) and the majority class.
Ratios against setfit are printed (accuracy difference, fit-time ratio). Optionally banking77 (77
classes) N=8: contrastive vs probe.

    python benchmarks/fewshot.py --data-dir /work/shared/data --datasets sst2,trec --shots 8 --seeds 2 \
        --test-limit 300 --banking77-seeds 1
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")

import pandas as pd  # noqa: E402

from headstart import TextClassifier  # noqa: E402
from headstart.backbones import resolve_backbone  # noqa: E402
from headstart.data.examples import from_lists  # noqa: E402
from headstart.data.split import sample_per_class  # noqa: E402
from headstart.grid import without_cross_validation  # noqa: E402
from headstart.strategies import get_strategy  # noqa: E402

# Label descriptions for data sets whose label names are codes (what a user would pass with --label-descriptions).
DESCRIPTIONS = {"trec": {"ABBR": "abbreviation", "DESC": "description or definition", "ENTY": "entity or thing",
                         "HUM": "person or people", "LOC": "location or place", "NUM": "number, date or quantity"}}
FEWSHOT_METHODS = ("contrastive", "prototype", "probe", "setfit")


def read(data_dir: Path, name: str, split: str) -> pd.DataFrame:
    frame = pd.read_csv(data_dir / name / f"{split}.csv")
    return frame.dropna(subset=["text", "label"]).astype({"text": str, "label": str})


def fit_setfit(path: str, texts: list[str], labels: list[str], seed: int, device: str):
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    model = SetFitModel.from_pretrained(path, device=device)
    import tempfile

    # default settings; no loggers, checkpoints in a temporary folder rather than ./checkpoints
    args = TrainingArguments(seed=seed, report_to="none", output_dir=tempfile.mkdtemp(prefix="setfit-"))
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": texts, "label": labels}))
    trainer.train()
    return model


def run_fewshot(method: str, train, test: pd.DataFrame, seed: int, backbone: str, device: str) -> tuple[float, float]:
    start = time.perf_counter()
    if method == "setfit":
        model = fit_setfit(backbone, train.texts, train.labels, seed, device)
        fit_s = time.perf_counter() - start
        predicted = [str(p) for p in model.predict(test.text.tolist())]
    else:
        options = without_cross_validation(method, {"device": device})  # scored on the test set
        clf = TextClassifier(backbone=backbone, strategy=method, seed=seed, progress=False, **options)
        clf.fit(train)
        fit_s = time.perf_counter() - start
        predicted = clf.predict(test.text.tolist())
    accuracy = float((pd.Series(predicted, index=test.index) == test.label).mean())
    return accuracy, fit_s


def run_zero_shot(variant: str, name: str, classes: list[str], test: pd.DataFrame, backbone: str, device: str,
                  tmp: Path) -> tuple[float, float]:
    options: dict = {"variant": variant, "labels": classes, "device": device}
    if name in DESCRIPTIONS:
        path = tmp / f"{name}-descriptions.json"
        path.write_text(json.dumps(DESCRIPTIONS[name]))
        options["label_descriptions"] = str(path)
    start = time.perf_counter()
    clf = TextClassifier(backbone=backbone, strategy="zero-shot", progress=False, **options).fit([], None)
    fit_s = time.perf_counter() - start
    return clf.score(test.text.tolist(), test.label.tolist()), fit_s


def settings_of(method: str) -> dict:
    """The settings a measurement was made with: the strategy's default config (or the setfit version). A row
    is reused only while they match, so changing a strategy's defaults re-measures it."""
    if method == "setfit":
        import setfit

        return {"setfit": setfit.__version__}
    strategy, _, variant = method.partition(":")
    config = dataclasses.asdict(get_strategy(strategy).config_cls())
    if variant:
        config["variant"] = variant
    return json.loads(json.dumps(config, default=str))


def read_results(path: str, test_limit: int) -> dict[str, dict]:
    """Rows of an earlier run with the same test subset, by (dataset, n, method, seed)."""
    if not Path(path).exists():
        return {}
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    # a later row with the same key (re-measured after a settings change) replaces the earlier one
    return {f"{r['dataset']}|{r['n']}|{r['method']}|{r['seed']}": r for r in rows
            if r.get("test_limit", 0) == test_limit and r["method"] != "majority"}


def summary(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--datasets", default="sst2,trec,emotion")
    parser.add_argument("--shots", default="1,8,64")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--test-limit", type=int, default=0, help="evaluate on this many test rows (0: all)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--backbone", default="", help="encoder folder (default: the installed all-MiniLM-L6-v2)")
    parser.add_argument("--methods", default=",".join(FEWSHOT_METHODS), help="few-shot methods to run")
    parser.add_argument("--zero-shot", default="embedding,lm", help="zero-shot variants to run ('' for none)")
    parser.add_argument("--banking77-seeds", type=int, default=-1, help="banking77 N=8 contrastive vs probe seeds "
                                                                          "(-1: --seeds, 0: skip)")
    parser.add_argument("--json", default="", help="also write every measurement to this JSON file")
    parser.add_argument("--results", default="", help="JSON-lines file: each measurement is appended as it is made "
                                                      "and measurements already in it are not repeated (resume a "
                                                      "long run across sessions)")
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir)
    backbone = args.backbone or str(resolve_backbone("all-MiniLM-L6-v2").path)
    tmp = Path(os.environ.get("HEADSTART_CACHE", "/tmp/headstart-bench"))
    tmp.mkdir(parents=True, exist_ok=True)
    methods = [m for m in args.methods.split(",") if m]
    if "setfit" in methods and importlib.util.find_spec("setfit") is None:
        sys.exit("benchmarks/fewshot.py compares against setfit, which is not installed: run `make bench` (or "
                 "`.venv/bin/pip install -e '.[bench]'`), or leave setfit out of --methods")
    rows: list[dict] = []
    print(f"backbone {backbone}; device {args.device}; seeds {args.seeds}; test limit {args.test_limit or 'all'}",
          flush=True)
    previous = read_results(args.results, args.test_limit) if args.results else {}
    if previous:
        print(f"{len(previous)} measurements read from {args.results}; they are not repeated", flush=True)

    def key(dataset, n, method, seed):
        return f"{dataset}|{n}|{method}|{seed}"

    def done(dataset, n, method, seed) -> bool:
        """Already measured with the same settings in an earlier run: reuse the row (it joins the table)."""
        row = previous.get(key(dataset, n, method, seed))
        if row is not None and row.get("settings") == settings_of(method):
            rows.append(row)
            return True
        return False

    def record(**row):
        row["test_limit"] = args.test_limit
        if row["method"] != "majority":
            row["settings"] = settings_of(row["method"])
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.results:
            with open(args.results, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")

    def attempt(fn, *fn_args):
        """A failing method is reported (and left out of the table), not fatal to the whole run."""
        try:
            return fn(*fn_args)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports every failure and goes on
            print(f"FAILED {fn.__name__}{fn_args[:2]}: {type(exc).__name__}: {exc}", flush=True)
            return None

    for name in [d for d in args.datasets.split(",") if d]:
        train_frame, test = read(data_dir, name, "train"), read(data_dir, name, "test")
        if args.test_limit and len(test) > args.test_limit:
            test = test.sample(args.test_limit, random_state=0)
        classes = sorted(train_frame.label.unique())
        majority = train_frame.label.value_counts().idxmax()
        record(dataset=name, n=0, method="majority", seed=0, accuracy=float((test.label == majority).mean()), fit_s=0.0)
        for variant in [v for v in args.zero_shot.split(",") if v]:
            if done(name, 0, f"zero-shot:{variant}", 0):
                continue
            result = attempt(run_zero_shot, variant, name, classes, test, backbone, args.device, tmp)
            if result is None:
                continue
            acc, fit_s = result
            record(dataset=name, n=0, method=f"zero-shot:{variant}", seed=0, accuracy=acc, fit_s=fit_s)
        full = from_lists(train_frame.text.tolist(), train_frame.label.tolist())
        for n in [int(s) for s in args.shots.split(",") if s]:
            for seed in range(args.seeds):
                train = sample_per_class(full, n, seed)
                for method in methods:
                    if done(name, n, method, seed):
                        continue
                    result = attempt(run_fewshot, method, train, test, seed, backbone, args.device)
                    if result is None:
                        continue
                    acc, fit_s = result
                    record(dataset=name, n=n, method=method, seed=seed, accuracy=acc, fit_s=fit_s)
    banking_seeds = args.seeds if args.banking77_seeds < 0 else args.banking77_seeds
    if banking_seeds and (data_dir / "banking77").exists():
        train_frame, test = read(data_dir, "banking77", "train"), read(data_dir, "banking77", "test")
        if args.test_limit and len(test) > args.test_limit:
            test = test.sample(args.test_limit, random_state=0)
        full = from_lists(train_frame.text.tolist(), train_frame.label.tolist())
        for seed in range(banking_seeds):
            train = sample_per_class(full, 8, seed)
            for method in ("contrastive", "probe"):
                if done("banking77", 8, method, seed):
                    continue
                result = attempt(run_fewshot, method, train, test, seed, backbone, args.device)
                if result is None:
                    continue
                acc, fit_s = result
                record(dataset="banking77", n=8, method=method, seed=seed, accuracy=acc, fit_s=fit_s)
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


def print_table(rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    print("\ndataset    N   method               accuracy          fit_s             Δacc vs setfit  fit-time ratio")
    for (name, n), group in frame.groupby(["dataset", "n"], sort=False):
        ref = group[group.method == "setfit"]
        for method, g in group.groupby("method", sort=False):
            line = f"{name:<10} {n:<3} {method:<20} {summary(g.accuracy.tolist()):<17} {summary(g.fit_s.tolist()):<17}"
            if len(ref) and method != "setfit" and n > 0:
                diff = g.accuracy.mean() - ref.accuracy.mean()
                line += f" {diff:+.3f}          {g.fit_s.mean() / ref.fit_s.mean():.2f}x"
            print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
