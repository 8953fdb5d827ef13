"""The answers a comparison grid gives: learning curves with spread, paired tests between strategies,
transfer gain against the from-scratch baselines, a power-law forecast and a recommendation.

Everything here is plain maths on finished cells (dicts with `strategy`, `size`, `seed`,
`n_per_class`, `score`, `fit_seconds`, ...), so it is tested on synthetic curves.
"""

from __future__ import annotations

import math
import warnings
from itertools import combinations
from typing import Any, Sequence

import numpy as np


def size_order(size: str) -> float:
    """Grid sizes sort numerically, 'all' last."""
    return math.inf if size == "all" else float(size)


def learning_curves(cells: Sequence[dict[str, Any]], metric: str = "score") -> dict[str, list[dict[str, Any]]]:
    """Per strategy, one point per size: mean and std (ddof=1) of `metric` over seeds, the mean examples
    per class actually trained on, mean fit time and trainable parameters. With one seed the std is None:
    one sample says nothing about the spread, and 0.0 would claim there is none."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault((cell["strategy"], cell["size"]), []).append(cell)
    curves: dict[str, list[dict[str, Any]]] = {}
    for (strategy, size), members in groups.items():
        values = np.array([_metric(c, metric) for c in members], dtype=float)
        curves.setdefault(strategy, []).append({
            "size": size, "n_per_class": float(np.mean([c["n_per_class"] for c in members])),
            "n_train": float(np.mean([c["n_train"] for c in members])), "seeds": len(members),
            "mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else None,
            "min": float(values.min()), "max": float(values.max()),
            "fit_seconds": float(np.mean([c["fit_seconds"] for c in members])),
            "trainable_parameters": int(np.mean([c["trainable_parameters"] for c in members])),
        })
    for points in curves.values():
        points.sort(key=lambda p: size_order(p["size"]))
    return dict(sorted(curves.items()))


def _metric(cell: dict[str, Any], metric: str) -> float:
    return float(cell[metric] if metric in cell else cell["metrics"][metric])


def paired_comparisons(cells: Sequence[dict[str, Any]], metric: str = "score") -> list[dict[str, Any]]:
    """Every pair of strategies at every size, on the seeds both finished (same seed = same sample).

    Mean difference (a - b), the paired t-test p-value (n >= 2) and the Wilcoxon signed-rank p-value
    (n >= 5 and not all differences zero; with fewer pairs its smallest possible p is above 0.05).
    """
    from scipy.stats import ttest_rel, wilcoxon

    by_key = {(c["strategy"], c["size"], c["seed"]): _metric(c, metric) for c in cells}
    strategies = sorted({c["strategy"] for c in cells})
    sizes = sorted({c["size"] for c in cells}, key=size_order)
    rows = []
    for size in sizes:
        for a, b in combinations(strategies, 2):
            seeds = sorted(s for (st, sz, s) in by_key if st == a and sz == size and (b, size, s) in by_key)
            if not seeds:
                continue
            x = np.array([by_key[(a, size, s)] for s in seeds])
            y = np.array([by_key[(b, size, s)] for s in seeds])
            diff = x - y
            row: dict[str, Any] = {"size": size, "a": a, "b": b, "n": len(seeds), "mean_diff": float(diff.mean()),
                                   "std_diff": float(diff.std(ddof=1)) if len(seeds) > 1 else None,
                                   "wins_a": int((diff > 0).sum()), "wins_b": int((diff < 0).sum()),
                                   "t_p": None, "wilcoxon_p": None}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # identical differences (e.g. 'all' samples the same rows for every seed): no test is defined
                if len(seeds) >= 2 and np.ptp(diff) > 0:
                    row["t_p"] = float(ttest_rel(x, y).pvalue)
                if len(seeds) >= 5 and np.any(diff != 0):
                    row["wilcoxon_p"] = float(wilcoxon(x, y).pvalue)
            rows.append(row)
    return rows


def interpolate_needed(curve: Sequence[tuple[float, float]], target: float) -> tuple[str, float | None]:
    """Examples per class a curve needs to reach `target`, linear in log(n) between its points.

    `curve` is (n_per_class, mean score) sorted by n. Returns (relation, n): ('=', n) when reached
    between points, ('<=', n_min) when the smallest size already reaches it, ('>', n_max) when the
    curve never does ("more than all").
    """
    points = sorted((float(n), float(s)) for n, s in curve)
    if not points:
        return ">", None
    if points[0][1] >= target:
        return "<=", points[0][0]
    for (n0, s0), (n1, s1) in zip(points, points[1:]):
        if s1 >= target > s0:
            t = (target - s0) / (s1 - s0)
            return "=", float(math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0))))
    return ">", points[-1][0]


def baseline_envelope(curves: dict[str, list[dict[str, Any]]], baselines: Sequence[str]) -> list[tuple[float, float]]:
    """The best from-scratch baseline at each size: the pointwise maximum of their mean curves."""
    best: dict[str, tuple[float, float]] = {}
    for name in baselines:
        for p in curves.get(name, []):
            if p["size"] not in best or p["mean"] > best[p["size"]][1]:
                n = max(p["n_per_class"], best[p["size"]][0]) if p["size"] in best else p["n_per_class"]
                best[p["size"]] = (n, p["mean"])
    return sorted(best.values())


def transfer_gain(curves: dict[str, list[dict[str, Any]]], baselines: Sequence[str],
                  unit: str = "per class") -> list[dict[str, Any]]:
    """For each transfer strategy at each size N: how many examples (`unit`: per class, or pairs for generation)
    the best from-scratch baseline needs to match its mean score, and that as a multiple of N (none at N=0:
    a strategy that did not train, such as zero-shot)."""
    envelope = baseline_envelope(curves, baselines)
    reached_all = any(p["size"] == "all" for name in baselines for p in curves.get(name, []))
    rows = []
    if not envelope:
        return rows
    for name, points in curves.items():
        if name in baselines:
            continue
        for p in points:
            relation, needed = interpolate_needed(envelope, p["mean"])
            n = p["n_per_class"]
            ratio = needed / n if needed is not None and n else None
            times = f" ({ratio:.1f}x)" if ratio is not None else ""
            if relation == "=":
                text = f"scratch needs ~{needed:,.0f} {unit}{times}"
            elif relation == "<=":
                text = f"scratch matches it already at {needed:,.0f} {unit}" + (f" (<= {ratio:.1f}x)" if times else "")
            elif reached_all:
                text = f"scratch needs more than all ({needed:,.0f} {unit}" + (f", > {ratio:.1f}x)" if times else ")")
            else:
                text = (f"scratch needs more than the largest size tried ({needed:,.0f} {unit}"
                        + (f", > {ratio:.1f}x)" if times else ")"))
            rows.append({"strategy": name, "size": p["size"], "n_per_class": n, "score": p["mean"],
                         "relation": relation, "scratch_needs": needed, "ratio": ratio, "text": text})
    return rows


def _power_law(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - b * np.power(n, -c)


MIN_FORECAST_SIZES = 3


def fit_forecast(points: Sequence[tuple[float, float]], upper: float | None = 1.0) -> dict[str, Any] | None:
    """Fit score(n) = a - b * n^-c to per-seed points (n examples per class, score) and forecast the gain
    from doubling the largest n; score = p + q * ln n when the power law does not converge.

    Needs `MIN_FORECAST_SIZES` distinct sizes (None otherwise): any two-parameter curve passes exactly
    through two sizes, so such a "fit" forecasts nothing. `rmse` is None when there are no more points
    than parameters (one seed at three sizes): no residual is left to check the fit with.
    `upper` bounds the asymptote `a` (1.0 for accuracy-like metrics; None for unbounded ones).
    """
    from scipy.optimize import curve_fit

    n = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    distinct = np.unique(n)
    if len(distinct) < MIN_FORECAST_SIZES:
        return None
    n_max = float(distinct.max())
    a_hi = upper if upper is not None else max(1.0, y.max() * 2 + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = (min(y.max() + 0.01, a_hi), max(y.max() - y.min(), 1e-3), 0.5)
            params, _ = curve_fit(_power_law, n, y, p0=start, bounds=([-np.inf, 0.0, 0.0], [a_hi, np.inf, 3.0]),
                                  maxfev=20000)
        a, b, c = (float(v) for v in params)
        now, doubled = (float(_power_law(np.array([n]), a, b, c)[0]) for n in (n_max, 2 * n_max))
        return {"form": "a - b * n^-c", "params": {"a": a, "b": b, "c": c}, "n_max": n_max,
                "at_n_max": now, "at_2n_max": doubled, "doubling_gain": doubled - now, "points": len(y),
                "rmse": _rmse(_power_law(n, a, b, c) - y, 3)}
    except (RuntimeError, ValueError):
        pass  # no convergence: fall back to the log-linear fit below
    q, p = np.polyfit(np.log(n), y, 1)
    now = float(p + q * math.log(n_max))
    return {"form": "p + q * ln n", "params": {"p": float(p), "q": float(q)}, "n_max": n_max, "at_n_max": now,
            "at_2n_max": now + float(q) * math.log(2), "doubling_gain": float(q) * math.log(2), "points": len(y),
            "rmse": _rmse(p + q * np.log(n) - y, 2)}


def _rmse(residuals: np.ndarray, n_params: int) -> float | None:
    return float(np.sqrt(np.mean(residuals ** 2))) if len(residuals) > n_params else None


def forecasts(cells: Sequence[dict[str, Any]], upper: float | None = 1.0) -> dict[str, dict[str, Any] | None]:
    """One forecast per strategy from its per-seed points."""
    by_strategy: dict[str, list[tuple[float, float]]] = {}
    for c in cells:
        by_strategy.setdefault(c["strategy"], []).append((c["n_per_class"], c["score"]))
    return {name: fit_forecast(points, upper) for name, points in sorted(by_strategy.items())}


def recommend(curves: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    """At the largest size: the cheapest strategy (mean fit time) whose mean is within one standard
    deviation (over seeds) of the best mean there. When the best has a single seed its spread is unknown,
    so no strategy can be called "within" it: the best score is recommended, and `basis` says so."""
    sizes = [p["size"] for points in curves.values() for p in points]
    if not sizes:
        return None
    size = max(sizes, key=size_order)
    rows = [(name, p) for name, points in curves.items() for p in points if p["size"] == size]
    best_name, best = max(rows, key=lambda r: r[1]["mean"])
    spread = best["std"]
    floor = best["mean"] - (spread or 0.0)
    within = [(n, p) for n, p in rows if p["mean"] >= floor]
    name, point = min(within, key=lambda r: (r[1]["fit_seconds"], -r[1]["mean"]))
    missing = sorted(set(curves) - {n for n, _ in rows})
    if spread is None:
        basis = "one seed: spread unknown (1 seed)"
        reason = (f"'{name}' has the best score at size {size} ({point['mean']:.4f}); this rests on a single "
                  f"sample per strategy, spread unknown (1 seed), so a close second may be as good. With "
                  f"--seeds 3 or more the cheapest strategy within one std of the best is recommended")
    else:
        basis = f"mean ± std over {best['seeds']} seeds"
        best_text = f"{best['mean']:.4f} ± {spread:.4f} over {best['seeds']} seeds"
        if name == best_name:
            reason = (f"'{name}' has the best mean at size {size} ({best_text}) and no cheaper strategy is within "
                      f"one std of it")
        else:
            reason = (f"'{name}' is the cheapest ({point['fit_seconds']:.1f} s per fit) of the strategies whose mean "
                      f"at size {size} is within one std of the best ('{best_name}' {best_text}; "
                      f"'{name}' {point['mean']:.4f})")
    return {"strategy": name, "size": size, "mean": point["mean"], "std": point["std"], "seeds": point["seeds"],
            "fit_seconds": point["fit_seconds"], "best": best_name, "best_mean": best["mean"], "best_std": spread,
            "within": sorted(n for n, _ in within), "not_at_size": missing, "basis": basis, "reason": reason}
