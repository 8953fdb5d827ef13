"""Plain-text rendering of a comparison's answers (what `headstart compare` prints)."""

from __future__ import annotations

from typing import Any

from ..strategies import registered
from ..tables import table
from .curves import MIN_FORECAST_SIZES, size_order


def _fmt_p(p: float | None) -> str:
    return "-" if p is None else f"{p:.3f}"


def spread_caption(curves: dict[str, Any]) -> str:
    """What the table's cells are: 'mean ± std over seeds', or, with one seed throughout, plain scores."""
    seeds = {p["seeds"] for points in curves.values() for p in points}
    if seeds == {1}:
        return "one score per size, spread unknown (1 seed)"
    if 1 in seeds:
        return "mean ± std over seeds; '(1 seed)': spread unknown"
    return "mean ± std over seeds"


def _point_text(p: dict[str, Any], one_seed_throughout: bool) -> str:
    if p.get("std") is not None and p["seeds"] > 1:  # results.json files before 0.1 stored 0.0 for one seed
        return f"{p['mean']:.4f} ± {p['std']:.4f}"
    return f"{p['mean']:.4f}" if one_seed_throughout else f"{p['mean']:.4f} (1 seed)"


def curve_table(results: dict[str, Any], curves: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One row per strategy, one column per size: 'mean ± std', or the plain score where one seed ran."""
    curves = results["curves"] if curves is None else curves
    sizes = sorted({p["size"] for points in curves.values() for p in points}, key=size_order)
    one_seed = {p["seeds"] for points in curves.values() for p in points} == {1}
    rows = []
    for name, points in curves.items():
        by_size = {p["size"]: p for p in points}
        row: dict[str, Any] = {"strategy": name + (" (scratch)" if name in results["baselines"] else "")}
        row.update({f"n={s}": _point_text(by_size[s], one_seed) if s in by_size else "-" for s in sizes})
        row.update(fit_s=round(points[-1]["fit_seconds"], 2), trainable=points[-1]["trainable_parameters"])
        rows.append(row)
    return rows


def format_results(results: dict[str, Any]) -> str:
    """Learning curves, paired tests, transfer gain, forecasts, recommendation and what was skipped."""
    metric = results["metric"]
    unit = results.get("unit", "per class")
    sizes_are = "training pairs" if unit == "pairs" else "examples per class"
    out = [f"learning curves ({metric}, {spread_caption(results['curves'])}; sizes are {sizes_are}; "
           f"fit_s and trainable at the largest size)", table(curve_table(results))]
    for other, curves in (results.get("other_metrics") or {}).items():
        out += ["", f"{other} ({spread_caption(curves)})", table(curve_table(results, curves))]
    paired = [{"size": r["size"], "a": r["a"], "b": r["b"], "seeds": r["n"], "mean a-b": round(r["mean_diff"], 4),
               "wins a:b": f"{r['wins_a']}:{r['wins_b']}", "t-test p": _fmt_p(r["t_p"]),
               "wilcoxon p": _fmt_p(r["wilcoxon_p"])} for r in results["paired"]]
    if paired:
        out += ["", "paired comparison on the same seeds (same samples)", table(paired)]
    gains = results.get("transfer_gain") or []
    if gains:
        out += ["", f"transfer gain: {sizes_are} the best from-scratch baseline "
                    f"({', '.join(results['baselines'])}) needs to match each transfer strategy"]
        per = " pairs" if unit == "pairs" else "/class"
        out += [f"  {g['strategy']} at {g['size']} ({g['n_per_class']:,.0f}{per}, {g['score']:.4f}): {g['text']}"
                for g in gains]
    elif results["curves"] and not results["baselines"]:
        scratch = sorted({c.name for c in registered() if not c.pretrained and results["task"] in c.tasks})
        out += ["", f"transfer gain: no from-scratch baseline in the grid (add {' or '.join(scratch)})"]
    elif results["curves"] and set(results["curves"]) <= set(results["baselines"]):
        out += ["", "transfer gain: only from-scratch baselines finished; no transfer strategy to compare"]
    out += bootstrap_lines(results) + forecast_lines(results)
    rec = results.get("recommendation")
    if rec:
        out += ["", f"recommendation: {rec['strategy']} — {rec['reason']}"]
        if rec.get("basis"):
            out.append(f"  (rests on: {rec['basis']}, at size {rec['size']}, on one test set)")
        if rec.get("not_at_size"):
            out.append(f"  (no result at size {rec['size']} for: {', '.join(rec['not_at_size'])})")
    final = results.get("final")
    if final:
        cal = final["calibration"]
        out.append(f"final model: {final['model']} ({final['strategy']}@{final['size']}), test {metric} "
                   f"{final['metrics'].get(metric, float('nan')):.4f}, temperature {cal['temperature']:.3f}, "
                   f"ECE {cal['ece_before']:.4f} -> {cal['ece_after']:.4f}")
    if results.get("skipped"):
        out.append(f"skipped {len(results['skipped'])} cell(s) for the budget: "
                   + ", ".join(s["cell"] for s in results["skipped"][:12]))
    return "\n".join(out)


def forecast_lines(results: dict[str, Any]) -> list[str]:
    """The forecast table, or why there is none (fewer than three sizes), and a note on exact fits."""
    rows, exact = [], []
    for name, f in (results.get("forecast") or {}).items():
        if f:
            rmse = f.get("rmse")
            if rmse is None:
                exact.append(name)
            rows.append({"strategy": name, "fit": f["form"], "at n_max": round(f["at_n_max"], 4),
                         "n_max": f"{f['n_max']:,.0f}", "doubling labels": f"{f['doubling_gain']:+.4f}",
                         "rmse": "-" if rmse is None else round(rmse, 4)})
    if not rows:
        if not results["curves"]:
            return []
        most = max(len(points) for points in results["curves"].values())
        return ["", f"forecast: none; a curve needs results at {MIN_FORECAST_SIZES} or more sizes "
                    f"(the most any strategy has here is {most})"]
    out = ["", "forecast: fitted curve per strategy and the expected gain from doubling the labels", table(rows)]
    without = [name for name, f in (results.get("forecast") or {}).items() if not f]
    if without:
        out.append(f"  no forecast for {', '.join(without)}: fewer than {MIN_FORECAST_SIZES} sizes finished")
    if exact:
        out.append(f"  rmse '-': {', '.join(exact)}: no more points than the curve has parameters, so a "
                   "residual would check nothing (more seeds or sizes would)")
    return out


def bootstrap_lines(results: dict[str, Any]) -> list[str]:
    """Generation grids: each transfer cell against zero-shot and from-scratch on the same test rows."""
    rows = [{"size": r["size"], "seed": r["seed"], "a": r["a"], "b": r["b"], "a - b": f"{r['diff']:+.2f}",
             "95% interval": f"[{r['low']:+.2f}, {r['high']:+.2f}]",
             "excludes 0": "yes" if r["excludes_zero"] else "no"}
            for r in results.get("bootstrap") or []]
    if not rows:
        return []
    return ["", f"paired bootstrap on the test rows ({results['metric']}, {results['bootstrap'][0]['samples']} "
                "resamples; sacrebleu's for BLEU/chrF)", table(rows)]
