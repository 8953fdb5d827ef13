"""`headstart demo`: the main job on the shipped default (real data, real pre-trained model)."""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..backbones import DEFAULT_BACKBONE
from ..classifier import TextClassifier
from ..config import Options, opt
from ..data import read_examples, sample_per_class
from ..grid import without_cross_validation
from ..io import check_output_folder
from ..resources import DEMO_TEST, DEMO_TRAIN
from ..strategies import Cost, get_strategy
from ..strategies.probe import Probe
from ..strategies.scratch_tfidf import ScratchTfidf
from ..tables import table
from .args import options_adder, parse_into


@dataclass
class DemoArgs(Options):
    strategies: str = opt("scratch-tfidf,probe,finetune", "comma-separated strategies to run side by side")
    train_rows: int = opt(2000, "training rows used from the shipped sample", min=1, max=2000)
    # one epoch keeps the demo near a minute on 2 quiet cores (about two beside another busy job); with 2 the
    # fine-tune gains about a point of accuracy and the demo no longer fits 180 s beside a competing job
    epochs: int = opt(1, "epochs for the trained strategies", min=1)
    few_per_class: int = opt(32, "also fit scratch-tfidf and probe on this many labelled sentences per class, "
                                 "where transfer matters most (0: skip; probe reuses its cached embeddings)", min=0)
    seed: int = opt(0, "random seed", min=0)
    output: str = opt("", "also save each model under this folder (one sub-folder per strategy)", aliases=("-o",))
    overwrite: bool = opt(False, "replace existing headstart model folders under --output")


BASELINE = ScratchTfidf.name  # the claim: transfer against tf-idf trained from scratch on the same rows
FEW_SHOT = (BASELINE, Probe.name)  # refitted on a few labels per class (probe reuses its cached embeddings)


@dataclass
class Fitted:
    """One strategy's result on the test sentences (`correct`: per sentence, for the paired interval)."""

    row: dict[str, Any]
    correct: np.ndarray


def fit_one(name: str, train, test, seed: int, epochs: int, output: str = "") -> Fitted:
    """Fit `name` on `train` and score it on `test` (accuracy and macro-F1 as `headstart evaluate` computes them)."""
    from sklearn.metrics import f1_score  # loaded when first needed (start-up time)

    strategy = get_strategy(name)
    fields = strategy.config_cls.__dataclass_fields__
    options: dict[str, Any] = {"epochs": epochs} if strategy.cost is Cost.GRADIENT and "epochs" in fields else {}
    start = time.perf_counter()
    # scored on its test sentences: a cross-validated estimate would go unread
    options = without_cross_validation(name, options)
    clf = TextClassifier(strategy=name, seed=seed, progress=True, **options).fit(train)
    fit_seconds = time.perf_counter() - start
    predicted = clf.predict(test.texts)
    correct = np.array([p == t for p, t in zip(predicted, test.labels)], dtype=float)
    row = {"strategy": name, "accuracy": float(correct.mean()),
           "macro_f1": float(f1_score(list(test.labels), list(predicted), average="macro")),
           "fit_seconds": round(fit_seconds, 1), "trainable_params": clf.fit_report_.trainable_parameters}
    if output:
        clf.save(output)
    return Fitted(row, correct)


def paired_gain(a: Fitted, b: Fitted) -> tuple[float, float, float]:
    """Accuracy of `a` minus `b` in points, with a 95% normal interval paired by test sentence."""
    diff = a.correct - b.correct
    half = 1.96 * float(diff.std(ddof=1)) / math.sqrt(len(diff)) if len(diff) > 1 else float("nan")
    gain = float(diff.mean())
    return 100 * gain, 100 * (gain - half), 100 * (gain + half)


def run_fits(train, test, strategies: list[str], seed: int, epochs: int, output: str = "",
             label: str = "") -> dict[str, Fitted]:
    """Fit each strategy in turn with a flushed line per stage (the output may go to a log)."""
    fitted = {}
    for name in strategies:
        tag = f"{name}{label}"
        print(f"\n[{tag}] fitting on {len(train):,} sentences ...", flush=True)
        fitted[name] = fit_one(name, train, test, seed, epochs, f"{output}/{name}" if output else "")
        print(f"[{tag}] accuracy {fitted[name].row['accuracy']:.4f} in {fitted[name].row['fit_seconds']:.1f}s",
              flush=True)
    return fitted


def _vs_scratch(fitted: dict[str, Fitted]) -> list[dict[str, Any]]:
    baseline = fitted.get(BASELINE)
    rows = []
    for result in fitted.values():
        gain = paired_gain(result, baseline)[0] if baseline is not None else None
        rows.append({**result.row, "vs_scratch_tfidf": f"{gain:+.1f} pts" if gain is not None else "-"})
    return rows


def transfer_sentence(fitted: dict[str, Fitted], n_train: int, n_test: int, what: str) -> str:
    """The checkable claim: the best pre-trained strategy against tf-idf from scratch on the same rows."""
    baseline = fitted.get(BASELINE)
    transfer = [f for name, f in fitted.items() if get_strategy(name).pretrained]
    if baseline is None or not transfer:
        return ""
    best = max(transfer, key=lambda f: f.row["accuracy"])
    gain, low, high = paired_gain(best, baseline)
    verdict = "beats" if low > 0 else ("loses to" if high < 0 else "is not clearly different from")
    return (f"{what}: {best.row['strategy']} (pre-trained {DEFAULT_BACKBONE}) scores {best.row['accuracy']:.3f} "
            f"accuracy on the {n_test:,} held-out test sentences against {baseline.row['accuracy']:.3f} for tf-idf "
            f"trained from scratch on the same {n_train:,} sentences: {gain:+.1f} points (95% interval "
            f"{low:+.1f} to {high:+.1f}, paired by sentence), so transfer {verdict} training from scratch.")


def run(args: argparse.Namespace) -> int:
    demo = parse_into(args, DemoArgs)
    demo_started = time.perf_counter()
    names = [s.strip() for s in demo.strategies.split(",") if s.strip()]
    if demo.output:  # every sub-folder is checked before the first strategy trains
        for name in names:
            check_output_folder(Path(demo.output) / name, demo.overwrite, "model")
            if name in FEW_SHOT and demo.few_per_class > 0:
                check_output_folder(Path(demo.output) / f"few-{demo.few_per_class}" / name, demo.overwrite, "model")
    train = read_examples(DEMO_TRAIN)
    if demo.train_rows < len(train):
        train = sample_per_class(train, demo.train_rows // 2, demo.seed)
    test = read_examples(DEMO_TEST)
    print(f"headstart demo: SST-2 sentiment, {len(train):,} training and {len(test):,} test sentences "
          f"(sample shipped with the package; see resources/demo/PROVENANCE.txt)", flush=True)
    fitted = run_fits(train, test, names, demo.seed, demo.epochs, demo.output)
    print("\n" + table(_vs_scratch(fitted)), flush=True)
    claims = [transfer_sentence(fitted, len(train), len(test), f"All {len(train):,} labels")]
    few_names = [s for s in FEW_SHOT if s in names]
    if demo.few_per_class > 0 and len(few_names) == 2 and demo.few_per_class * 2 < len(train):
        few = sample_per_class(train, demo.few_per_class, demo.seed)
        label = f" @ {demo.few_per_class}/class"
        few_fitted = run_fits(few, test, few_names, demo.seed, demo.epochs,
                              f"{demo.output}/few-{demo.few_per_class}" if demo.output else "", label)
        print(f"\nwith {demo.few_per_class} labelled sentences per class ({len(few):,} in all):\n"
              + table(_vs_scratch(few_fitted)), flush=True)
        claims.append(transfer_sentence(few_fitted, len(few), len(test),
                                        f"{demo.few_per_class} labels per class"))
    print("", *[c for c in claims if c], sep="\n", flush=True)
    check = (f"headstart evaluate {demo.output}/<strategy> {DEMO_TEST}" if demo.output else
             f"headstart demo -o runs/demo, then headstart evaluate runs/demo/<strategy> {DEMO_TEST}")
    print(f"Check it yourself: {check}\n(demo took {time.perf_counter() - demo_started:.0f} s)", flush=True)
    return 0


COMMAND = ("demo", "fine-tune and probe the default backbone on a shipped SST-2 sample, against scratch-tfidf",
           options_adder(DemoArgs), run)
