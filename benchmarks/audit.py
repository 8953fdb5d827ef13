"""Benchmark of `headstart audit` and `headstart bias` on the shared data sets.

(a) sst2 train with 10% of labels flipped at random (seeded): precision of the label-error ranking among its
    top 10% and recall of the flipped rows within cleanlab's flagged set (targets: >= 0.6 and >= 0.5), for the
    default predictor and for each of --methods (default: finetune);
(b) a probe trained on sms_spam, audited with counterfactual identity-term swaps of identity_madlibs texts
    (flip rate), and a toxicity probe trained on a seeded half of identity_madlibs, evaluated on the other half:
    false-positive rate gap per identity term;
(c) wall time of the full audit of sst2 train (6,920 rows) with a cold embedding cache (target < 3 minutes on
    2 cores), and again warm.

    python benchmarks/audit.py --data-dir /work/shared/data [--out bench-audit]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path


def flip_labels(frame, fraction: float, seed: int):
    rng = random.Random(seed)
    classes = sorted(frame.label.unique())
    flipped = sorted(rng.sample(range(len(frame)), int(round(len(frame) * fraction))))
    frame = frame.copy()
    for i in flipped:
        frame.iat[i, frame.columns.get_loc("label")] = rng.choice([c for c in classes if c != frame.label.iat[i]])
    return frame, flipped


def _ranking_quality(audit: dict, flipped: list[int], rows: int) -> dict:
    import numpy as np

    check = {c["name"]: c for c in audit["checks"]}["label_errors"]
    scores = np.asarray(check["quality_scores"])
    top = np.argsort(scores, kind="stable")[: rows // 10]
    flagged = [r["row"] for r in check["ranked"]]
    flipped_set = set(flipped)
    return {
        "method": audit["label_error_method"], "oof_accuracy": check["oof_accuracy"],
        "precision_top10pct": len(flipped_set & set(top.tolist())) / len(top),
        "flagged": len(flagged), "precision_flagged": len(flipped_set & set(flagged)) / max(len(flagged), 1),
        "recall_flagged": len(flipped_set & set(flagged)) / len(flipped),
        "label_error_seconds": round(audit["seconds"]["label_errors"], 1),
    }


def label_error_benchmark(data_dir: Path, work: Path, methods: list[str]) -> dict:
    """The default audit timed cold then warm, then each further --label-method on the warm cache."""
    import pandas as pd

    from headstart.audit import AuditConfig, audit_data

    frame = pd.read_csv(data_dir / "sst2" / "train.csv", keep_default_na=False)
    noisy, flipped = flip_labels(frame, 0.10, seed=0)
    path = work / "sst2_train_flipped.csv"
    noisy.to_csv(path, index=False)
    timings = {}
    for run in ("cold", "warm"):  # "cold" is only cold with a fresh cache (the default)
        start = time.perf_counter()
        audit = audit_data(str(path), config=AuditConfig(), progress=False)
        timings[run] = time.perf_counter() - start
        if run == "cold":
            stages = audit["seconds"]
    out = {"rows": len(frame), "flipped": len(flipped),
           "audit_seconds_cold": round(timings["cold"], 1), "audit_seconds_warm": round(timings["warm"], 1),
           "cold_stages": stages,
           "other_findings": {c["name"]: c["count"] for c in audit["checks"] if c["name"] != "label_errors"},
           "by_method": {"auto": _ranking_quality(audit, flipped, len(frame))}}
    for method in methods:
        start = time.perf_counter()
        audit = audit_data(str(path), config=AuditConfig(label_method=method), progress=False)
        out["by_method"][method] = {**_ranking_quality(audit, flipped, len(frame)),
                                    "audit_seconds_warm": round(time.perf_counter() - start, 1)}
        print(method, json.dumps(out["by_method"][method]), flush=True)
    return out


def bias_benchmark(data_dir: Path, max_texts: int) -> dict:
    import pandas as pd

    from headstart import TextClassifier
    from headstart.audit.bias import run_bias
    from headstart.audit.terms import load_terms
    from headstart.data import read_examples
    from headstart.data.split import stratified_split

    terms = load_terms()
    out = {}
    start = time.perf_counter()
    spam = read_examples(data_dir / "sms_spam" / "train.csv")
    spam_clf = TextClassifier(strategy="probe", progress=False).fit(spam)
    madlibs = pd.read_csv(data_dir / "identity_madlibs" / "test.csv", keep_default_na=False)
    report = run_bias(spam_clf, madlibs.text.tolist(), None, terms, None, "spam", "identity_madlibs (texts only)",
                      max_texts=max_texts, max_per_text=5)
    spam_test = pd.read_csv(data_dir / "sms_spam" / "test.csv", keep_default_na=False)
    on_sms = run_bias(spam_clf, spam_test.text.tolist(), spam_test.label.tolist(), terms, None, "spam",
                      "sms_spam test", max_texts=max_texts, max_per_text=5)
    out["spam_probe"] = {
        "madlibs_counterfactuals": {k: report["counterfactual"][k] for k in
                                    ("texts_with_terms", "variants", "flip_rate", "mean_abs_shift", "max_abs_shift",
                                     "by_category")},
        "sms_test_counterfactuals": {k: on_sms["counterfactual"][k] for k in
                                     ("texts_with_terms", "variants", "flip_rate", "mean_abs_shift", "max_abs_shift")},
        "sms_test_accuracy": on_sms["slices"]["overall"]["accuracy"], "verdict": report["verdict"],
        "seconds": round(time.perf_counter() - start, 1)}

    start = time.perf_counter()
    examples = read_examples(data_dir / "identity_madlibs" / "test.csv")
    train, test = stratified_split(examples, 0.5, seed=0)
    tox = TextClassifier(strategy="probe", progress=False).fit(train)
    report = run_bias(tox, test.texts, test.labels, terms, None, "toxic", "identity_madlibs held-out half",
                      max_texts=max_texts, max_per_text=5)
    groups = report["slices"]["groups"]
    per_term = {g: {"n": r["n"], "fpr": round(r["false_positive_rate"], 4) if r["false_positive_rate"] is not None else None,
                    "fpr_gap": r.get("false_positive_rate_gap"), "n_negative": r["n_negative"]}
                for g, r in sorted(groups.items(), key=lambda kv: -(kv[1].get("false_positive_rate_gap") or 0))}
    out["toxicity_probe"] = {"train_rows": len(train), "test_rows": len(test),
                             "overall": report["slices"]["overall"], "largest_gaps": report["slices"]["largest_gaps"],
                             "fpr_per_term": per_term,
                             "counterfactual": {k: report["counterfactual"][k] for k in
                                                ("variants", "flip_rate", "mean_abs_shift", "by_category")},
                             "verdict": report["verdict"], "seconds": round(time.perf_counter() - start, 1)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--out", default="bench-audit", help="folder for results.json")
    parser.add_argument("--max-texts", type=int, default=300, help="texts per counterfactual test (bounds time)")
    parser.add_argument("--skip-bias", action="store_true")
    parser.add_argument("--methods", default="finetune",
                        help="further --label-method values measured after the default one (comma-separated, or '')")
    parser.add_argument("--cache", default="", help="reuse this embedding cache (default: a fresh one, i.e. cold)")
    args = parser.parse_args()
    data_dir = Path(args.data_dir)
    work = Path(tempfile.mkdtemp(prefix="hs-bench-audit-"))
    # a fresh embedding cache makes the first sst2 audit a true cold-cache run
    os.environ["HEADSTART_CACHE"] = args.cache or str(work / "cache")
    import torch

    results = {"machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                           "load_average_at_start": os.getloadavg()}}
    results["label_errors_sst2"] = label_error_benchmark(data_dir, work, [m for m in args.methods.split(",") if m])
    print(json.dumps(results, indent=2), flush=True)
    if not args.skip_bias:
        results["bias"] = bias_benchmark(data_dir, args.max_texts)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(results, indent=2, default=str))
    le = results["label_errors_sst2"]
    print(json.dumps(results, indent=2, default=str))
    print(f"\nsst2 train audit (6,920 rows, 2 cores): {le['audit_seconds_cold']} s with a cold embedding cache "
          f"(target < 180 s), {le['audit_seconds_warm']} s warm")
    for method, q in le["by_method"].items():
        print(f"label errors, --label-method {method}: precision@top10% {q['precision_top10pct']:.3f} (target >= 0.6), "
              f"recall in flagged set {q['recall_flagged']:.3f} (target >= 0.5), label-error stage "
              f"{q['label_error_seconds']} s  [{q['method']}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
