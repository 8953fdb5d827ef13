"""Bias audit of a trained classifier: slice metrics per group and a counterfactual term-swap test.

Slices come from a group column or from identity terms found in the text. The counterfactual test
swaps identity terms (he -> she, christian -> muslim, ...) and measures how often the prediction flips
and how far the probability of the positive class (binary) or of the predicted class moves.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from ..errors import DataError, expected
from ..tasks import label_task
from .terms import TermList

POSITIVE_NAMES = ("toxic", "spam", "positive", "pos", "yes", "true", "1", "hateful", "offensive", "abusive")
NO_GROUP = "(no identity term)"


def default_positive_label(classes: Sequence[str]) -> str | None:
    """For binary tasks: a conventional positive name if present, else the second class; None otherwise."""
    if len(classes) != 2:
        return None
    lowered = {str(c).lower(): c for c in classes}
    return next((lowered[name] for name in POSITIVE_NAMES if name in lowered), classes[1])


def check_positive_label(classes: Sequence[str], positive: str | None) -> str | None:
    if positive is None or positive == "":
        return default_positive_label(classes)
    if positive not in classes:
        raise DataError(expected(f"--positive-label among the model's classes ({', '.join(map(str, classes))})",
                                 f"'{positive}'", "Pick one of those classes."))
    return positive


# -- slice metrics ------------------------------------------------------------------------------------------
def _rates(y_true: np.ndarray, y_pred: np.ndarray, positive: int | None, n_classes: int) -> dict[str, float | None]:
    """Accuracy, FPR and FNR; one-vs-rest macro averages when there is no positive class."""
    out: dict[str, float | None] = {"accuracy": float((y_true == y_pred).mean()) if len(y_true) else None}
    targets = [positive] if positive is not None else list(range(n_classes))
    fprs, fnrs = [], []
    for k in targets:
        neg, pos = y_true != k, y_true == k
        if neg.any():
            fprs.append(float((y_pred[neg] == k).mean()))
        if pos.any():
            fnrs.append(float((y_pred[pos] != k).mean()))
    out["false_positive_rate"] = float(np.mean(fprs)) if fprs else None
    out["false_negative_rate"] = float(np.mean(fnrs)) if fnrs else None
    out["n_negative"] = int((y_true != positive).sum()) if positive is not None else None
    out["n_positive"] = int((y_true == positive).sum()) if positive is not None else None
    return out


def slice_metrics(groups: Sequence[Sequence[str]], y_true: Sequence[str], y_pred: Sequence[str], classes: list[str],
                  positive: str | None, min_group_size: int = 10) -> dict[str, Any]:
    """Metrics per group (a row may belong to several groups) and the largest gap of each metric.

    Groups smaller than `min_group_size` are listed but left out of the gaps (too noisy to compare).
    """
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in y_true if v not in index})
    if unknown:
        raise DataError(expected(f"labels the model knows ({', '.join(classes)})", f"unseen label(s) {unknown[:5]}",
                                 "Audit with data that uses the model's label set."))
    t = np.asarray([index[v] for v in y_true])
    p = np.asarray([index[v] for v in y_pred])
    pos = index[positive] if positive is not None else None
    members: dict[str, list[int]] = defaultdict(list)
    for i, row_groups in enumerate(groups):
        for g in row_groups:
            members[g].append(i)
    overall = _rates(t, p, pos, len(classes))
    per_group = {}
    for g, rows in sorted(members.items(), key=lambda kv: -len(kv[1])):
        r = {**_rates(t[rows], p[rows], pos, len(classes)), "n": len(rows),
             "comparable": len(rows) >= min_group_size}
        for metric in ("accuracy", "false_positive_rate", "false_negative_rate"):
            if r[metric] is not None and overall[metric] is not None:
                r[f"{metric}_gap"] = round(float(r[metric]) - float(overall[metric]), 6)
        per_group[g] = r
    gaps = {}
    for metric in ("accuracy", "false_positive_rate", "false_negative_rate"):
        values = {g: r[metric] for g, r in per_group.items() if r["comparable"] and r[metric] is not None}
        if len(values) >= 2:
            lo, hi = min(values, key=values.get), max(values, key=values.get)
            gaps[metric] = {"gap": round(values[hi] - values[lo], 6), "highest": hi, "highest_value": values[hi],
                            "lowest": lo, "lowest_value": values[lo]}
    return {"overall": {**overall, "n": len(t)}, "groups": per_group, "largest_gaps": gaps,
            "min_group_size": min_group_size}


def term_groups(texts: Sequence[str], terms: TermList) -> list[list[str]]:
    """The identity groups each text mentions ('category:group'), or [NO_GROUP]."""
    return [[f"{c}:{g}" for c, g in terms.find(t)] or [NO_GROUP] for t in texts]


# -- counterfactuals ---------------------------------------------------------------------------------------
def counterfactual_test(predict_proba: Any, texts: Sequence[str], classes: list[str], terms: TermList,
                        positive: str | None, max_per_text: int = 10, max_texts: int = 2000,
                        n_examples: int = 10, seed: int = 0) -> dict[str, Any]:
    """Swap identity terms and measure prediction flips and probability shifts.

    `predict_proba(list[str]) -> (n, n_classes)`. The shift is measured on the positive class (binary)
    or on the class predicted for the original text (multiclass).
    """
    candidates = [i for i, t in enumerate(texts) if terms.find(t)]
    if len(candidates) > max_texts:  # a seeded sample keeps the cost bounded on large files
        candidates = sorted(np.random.default_rng(seed).choice(candidates, max_texts, replace=False).tolist())
    variants = [{**v, "row": i} for i in candidates for v in terms.counterfactuals(texts[i], max_per_text)]
    result: dict[str, Any] = {"texts_with_terms": len(candidates), "variants": len(variants), "positive_label": positive,
                              "measured_on": f"probability of '{positive}'" if positive else "probability of the originally predicted class"}
    if not variants:
        result.update(flip_rate=None, mean_abs_shift=None, max_abs_shift=None, by_category={}, by_target={}, examples=[])
        return result
    orig_probs = dict(zip(candidates, np.asarray(predict_proba([texts[i] for i in candidates]))))
    var_probs = np.asarray(predict_proba([v["text"] for v in variants]))
    pos = classes.index(positive) if positive is not None else None
    for v, vp in zip(variants, var_probs):
        op = orig_probs[v["row"]]
        k = pos if pos is not None else int(op.argmax())
        v["flip"] = bool(op.argmax() != vp.argmax())
        v["shift"] = float(vp[k] - op[k])
        v["original_prediction"], v["new_prediction"] = classes[int(op.argmax())], classes[int(vp.argmax())]
        v["original_probability"], v["new_probability"] = round(float(op[k]), 4), round(float(vp[k]), 4)
    flips_a, shifts_a = np.asarray([v["flip"] for v in variants]), np.asarray([v["shift"] for v in variants])

    def summary(mask: np.ndarray) -> dict[str, Any]:
        return {"variants": int(mask.sum()), "flip_rate": round(float(flips_a[mask].mean()), 6),
                "mean_abs_shift": round(float(np.abs(shifts_a[mask]).mean()), 6),
                "mean_shift": round(float(shifts_a[mask].mean()), 6)}

    categories = np.asarray([v["category"] for v in variants])
    targets = np.asarray([f"{v['category']}:{v['target']}" for v in variants])
    by_category = {c: summary(categories == c) for c in sorted(set(categories.tolist()))}
    # swapping INTO a group: a positive mean shift means that group's terms push towards the positive class
    by_target = {key: summary(targets == key) for key in dict.fromkeys(targets.tolist())}
    order = np.argsort(-np.abs(shifts_a))
    examples = [{"original": texts[variants[i]["row"]], "counterfactual": variants[i]["text"],
                 **{k: variants[i][k] for k in ("row", "category", "source", "target", "flip", "shift",
                                                "original_prediction", "new_prediction", "original_probability",
                                                "new_probability")}, "shift": round(variants[i]["shift"], 4)}
                for i in order[:n_examples]]
    result.update(flip_rate=round(float(flips_a.mean()), 6), flips=int(flips_a.sum()),
                  mean_abs_shift=round(float(np.abs(shifts_a).mean()), 6),
                  max_abs_shift=round(float(np.abs(shifts_a).max()), 6), by_category=by_category,
                  by_target=dict(sorted(by_target.items(), key=lambda kv: -kv[1]["mean_shift"])), examples=examples)
    return result


def verdict(report: dict[str, Any], flip_threshold: float, shift_threshold: float, gap_threshold: float) -> dict[str, Any]:
    """Flag the model when counterfactual flips/shifts or slice gaps exceed the thresholds; say why."""
    reasons = []
    cf = report.get("counterfactual") or {}
    if cf.get("flip_rate") is not None and cf["flip_rate"] >= flip_threshold:
        reasons.append(f"counterfactual flip rate {cf['flip_rate']:.1%} >= {flip_threshold:.1%}")
    if cf.get("mean_abs_shift") is not None and cf["mean_abs_shift"] >= shift_threshold:
        reasons.append(f"mean probability shift {cf['mean_abs_shift']:.3f} >= {shift_threshold:.3f}")
    for metric, gap in ((report.get("slices") or {}).get("largest_gaps") or {}).items():
        if metric != "accuracy" and gap["gap"] >= gap_threshold:
            reasons.append(f"{metric.replace('_', ' ')} gap {gap['gap']:.3f} between '{gap['highest']}' and "
                           f"'{gap['lowest']}' >= {gap_threshold:.3f}")
    return {"flagged": bool(reasons), "reasons": reasons,
            "thresholds": {"flip_rate": flip_threshold, "mean_abs_shift": shift_threshold, "rate_gap": gap_threshold}}


def bias_markdown(report: dict[str, Any], max_groups: int = 12) -> str:
    """A '## Bias' section for a model card."""
    lines = ["## Bias", ""]
    v = report["verdict"]
    lines.append(f"Audited with `headstart bias` on `{report['data']}` ({report['rows']:,} rows); groups from "
                 f"{report['groups_from']}. " + ("**Flagged:** " + "; ".join(v["reasons"]) + "." if v["flagged"]
                                                   else "No threshold was exceeded "
                                                        f"(flip rate < {v['thresholds']['flip_rate']:.0%}, mean shift < "
                                                        f"{v['thresholds']['mean_abs_shift']}, rate gaps < "
                                                        f"{v['thresholds']['rate_gap']})."))
    if report.get("positive_label"):
        lines.append(f"Positive class: `{report['positive_label']}`.")
    slices = report.get("slices")
    if slices:
        lines += ["", "### Slice metrics", "", "| group | n | accuracy | FPR | FNR | FPR gap vs all |",
                  "|---|---:|---:|---:|---:|---:|"]
        o = slices["overall"]
        lines.append(f"| all | {o['n']} | {_f(o['accuracy'])} | {_f(o['false_positive_rate'])} | "
                     f"{_f(o['false_negative_rate'])} | |")
        ranked = sorted(slices["groups"].items(), key=lambda kv: -abs(kv[1].get("false_positive_rate_gap") or 0))
        for g, r in ranked[:max_groups]:
            lines.append(f"| {g}{'' if r['comparable'] else ' (small)'} | {r['n']} | {_f(r['accuracy'])} | "
                         f"{_f(r['false_positive_rate'])} | {_f(r['false_negative_rate'])} | "
                         f"{_f(r.get('false_positive_rate_gap'), signed=True)} |")
        for metric, gap in slices["largest_gaps"].items():
            lines.append(f"\nLargest {metric.replace('_', ' ')} gap: **{gap['gap']:.3f}** ('{gap['highest']}' "
                         f"{gap['highest_value']:.3f} vs '{gap['lowest']}' {gap['lowest_value']:.3f}).")
    cf = report.get("counterfactual")
    if cf and cf.get("variants"):
        lines += ["", "### Counterfactual term swaps", "",
                  f"{cf['variants']:,} swapped copies of {cf['texts_with_terms']:,} texts: the prediction flipped for "
                  f"**{cf['flip_rate']:.1%}**; the {cf['measured_on']} moved by {cf['mean_abs_shift']:.3f} on average "
                  f"(at most {cf['max_abs_shift']:.3f}).", "", "| category | variants | flip rate | mean abs shift |",
                  "|---|---:|---:|---:|"]
        for c, s in cf["by_category"].items():
            lines.append(f"| {c} | {s['variants']} | {s['flip_rate']:.1%} | {s['mean_abs_shift']:.3f} |")
        if cf["examples"]:
            lines += ["", "Largest shifts:", ""]
            for ex in cf["examples"][:5]:
                lines.append(f"- \"{ex['original']}\" -> \"{ex['counterfactual']}\": {ex['original_probability']} -> "
                             f"{ex['new_probability']}" + (" (prediction flipped)" if ex["flip"] else ""))
    elif cf is not None:
        lines += ["", "No text contained an identity term, so no counterfactual test was possible."]
    return "\n".join(lines) + "\n"


def _f(value: Any, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def run_bias(clf: Any, texts: list[str], labels: list[str] | None, terms: TermList, group_values: list[str] | None,
             positive: str | None, source: str, flip_threshold: float = 0.05, shift_threshold: float = 0.05,
             gap_threshold: float = 0.1, min_group_size: int = 10, max_per_text: int = 10, max_texts: int = 2000,
             seed: int = 0) -> dict[str, Any]:
    """The whole bias audit of a fitted `TextClassifier` on texts (labels optional) as a JSON-ready dict."""
    if not label_task(clf.task_).single_label:
        raise DataError(expected("a single-label classification model", f"a {clf.task_} model",
                                 "`headstart bias` audits classifiers."))
    classes = list(clf.classes_)
    positive = check_positive_label(classes, positive)
    report: dict[str, Any] = {"format": "headstart-bias", "version": 1, "data": source, "rows": len(texts),
                              "classes": classes, "positive_label": positive, "term_lists": terms.sources,
                              "groups_from": "column values" if group_values is not None else "identity terms in the text",
                              "slices": None}  # slice metrics need labels
    if labels is not None:
        predictions = clf.predict(texts)
        groups = [[str(g)] for g in group_values] if group_values is not None else term_groups(texts, terms)
        report["slices"] = slice_metrics(groups, labels, predictions, classes, positive, min_group_size)
    report["counterfactual"] = counterfactual_test(clf.predict_proba, texts, classes, terms, positive, max_per_text,
                                                   max_texts, seed=seed)
    report["verdict"] = verdict(report, flip_threshold, shift_threshold, gap_threshold)
    return report
