"""`headstart demo`: the main job on the shipped default (real data, real pre-trained model)."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import opt
from ..io import check_output_folder
from ..resources import DEMO_TEST, DEMO_TRAIN
from .args import add_dataclass_args, parse_into
from .common import table


@dataclass
class DemoArgs:
    strategies: str = opt("scratch-tfidf,probe,finetune", "comma-separated strategies to run side by side")
    train_rows: int = opt(2000, "training rows used from the shipped sample (at most 2,000)")
    epochs: int = opt(2, "epochs for the trained strategies")
    seed: int = opt(0, "random seed")
    output: str = opt("", "also save each model under this folder (one sub-folder per strategy)", aliases=("-o",))
    overwrite: bool = opt(False, "replace existing headstart model folders under --output")


def add_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    add_dataclass_args(parser, DemoArgs)


def run(args: argparse.Namespace) -> int:
    from ..classifier import TextClassifier
    from ..data import read_examples, sample_per_class

    demo = parse_into(args, DemoArgs)
    names = [s.strip() for s in demo.strategies.split(",") if s.strip()]
    if demo.output:  # every sub-folder is checked before the first strategy trains
        for name in names:
            check_output_folder(Path(demo.output) / name, demo.overwrite, "model")
    train = read_examples(DEMO_TRAIN)
    if demo.train_rows < len(train):
        train = sample_per_class(train, demo.train_rows // 2, demo.seed)
    test = read_examples(DEMO_TEST)
    print(f"headstart demo: SST-2 sentiment, {len(train):,} training and {len(test):,} test sentences "
          f"(sample shipped with the package; see resources/demo/PROVENANCE.txt)", flush=True)
    rows = []
    for name in names:
        options = {"epochs": demo.epochs} if name in ("finetune", "scratch-init") else {}
        print(f"\n[{name}] fitting ...", flush=True)
        start = time.perf_counter()
        clf = TextClassifier(strategy=name, seed=demo.seed, progress=sys.stderr.isatty(), **options).fit(train)
        fit_seconds = time.perf_counter() - start
        metrics = clf.evaluate(test.texts, test.labels)
        rows.append({"strategy": name, "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
                     "fit_seconds": round(fit_seconds, 1), "trainable_params": clf.fit_report_.trainable_parameters})
        print(f"[{name}] accuracy {metrics['accuracy']:.4f} in {fit_seconds:.1f}s", flush=True)
        if demo.output:
            clf.save(f"{demo.output}/{name}")
    baseline = next((r["accuracy"] for r in rows if r["strategy"] == "scratch-tfidf"), None)
    for r in rows:
        r["vs_scratch_tfidf"] = f"{(r['accuracy'] - baseline) * 100:+.1f} pts" if baseline is not None else "-"
    print("\n" + table(rows))
    return 0


COMMAND = ("demo", "fine-tune and probe the default backbone on a shipped SST-2 sample, against scratch-tfidf",
           add_arguments, run)
