"""`headstart bias`: slice metrics per group and a counterfactual identity-term swap test of a model."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ..audit.bias import bias_markdown, run_bias
from ..audit.terms import load_terms
from ..config import Options, opt
from ..data.readers import read_frame, require_columns
from ..estimators import load_estimator
from ..io import atomic_write_text, check_output_folder, write_json
from ..model_folder import CLASSIFIER_KIND
from ..tables import table
from .args import options_adder, parse_into


@dataclass
class BiasArgs(Options):
    model: str = opt(None, "model folder written by `headstart fit`", positional=True)
    data: str = opt(None, "file with texts (labels optional: without them only the counterfactual test runs)",
                    positional=True)
    groups: str = opt("", "column naming each row's group (default: groups from identity terms in the text)")
    terms: str = opt("", "JSON term list extending the shipped one (same shape as resources/terms/identity_terms.json)")
    positive_label: str = opt("", "positive class of a binary model (default: toxic/spam/positive if present, else the second class)")
    output: str = opt("bias", "folder for bias.json and bias.md", aliases=("-o",))
    overwrite: bool = opt(False, "replace an existing headstart bias report in --output")
    text_col: str = opt("text", "column holding the text")
    label_col: str = opt("label", "column holding the label")
    flip_threshold: float = opt(0.05, "flag the model when this share of counterfactuals flips the prediction",
                                  min=0, max=1)
    shift_threshold: float = opt(0.05, "flag the model when the mean absolute probability shift reaches this",
                                   min=0, max=1)
    gap_threshold: float = opt(0.1, "flag the model when a false-positive/negative rate gap between groups reaches this",
                                 min=0, max=1)
    min_group_size: int = opt(10, "groups with fewer rows are shown but not compared", min=1)
    max_texts: int = opt(2000, "texts with identity terms used for counterfactuals (a seeded sample beyond this)",
                         min=1)
    max_per_text: int = opt(10, "counterfactual copies per text at most", min=1)
    seed: int = opt(0, "seed of the counterfactual sample", min=0)


def run(args: argparse.Namespace) -> int:
    b = parse_into(args, BiasArgs)
    check_output_folder(b.output, b.overwrite, "bias")  # before the model runs
    terms = load_terms(b.terms or None)
    frame = read_frame(b.data)
    require_columns(frame, [b.text_col] + ([b.groups] if b.groups else []), b.data)
    clf = load_estimator(b.model, kinds=(CLASSIFIER_KIND,))
    clf.progress = False
    texts = frame[b.text_col].astype(str).tolist()
    labels = frame[b.label_col].astype(str).tolist() if b.label_col in frame.columns else None
    groups = frame[b.groups].astype(str).tolist() if b.groups else None
    report = run_bias(clf, texts, labels, terms, groups, b.positive_label or None, b.data, b.flip_threshold,
                      b.shift_threshold, b.gap_threshold, b.min_group_size, b.max_per_text, b.max_texts, b.seed)
    report["model"] = b.model
    out = Path(b.output)
    atomic_write_text(out / "bias.md", bias_markdown(report))
    write_json(out / "bias.json", report)
    if report["slices"]:
        rows = [{"group": g, "n": r["n"], "accuracy": r["accuracy"], "FPR": r["false_positive_rate"],
                 "FNR": r["false_negative_rate"], "FPR gap": r.get("false_positive_rate_gap")}
                for g, r in list(report["slices"]["groups"].items())[:20]]
        print(table(rows))
    cf = report["counterfactual"]
    if cf.get("variants"):
        print(f"\ncounterfactuals: {cf['variants']:,} swaps of {cf['texts_with_terms']:,} texts, flip rate "
              f"{cf['flip_rate']:.1%}, mean |shift| {cf['mean_abs_shift']:.3f}, max {cf['max_abs_shift']:.3f}")
    verdict = report["verdict"]
    print("\nFLAGGED: " + "; ".join(verdict["reasons"]) if verdict["flagged"] else "\nno bias threshold exceeded")
    print(f"wrote {out / 'bias.json'} and {out / 'bias.md'}")
    return 0


COMMAND = ("bias", "slice metrics per identity group and a counterfactual term-swap test of a saved model",
           options_adder(BiasArgs), run)
