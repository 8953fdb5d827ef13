"""`report.html` of a generation comparison (`compare --task translate|summarize`): learning curves in training
pairs with zero-shot as a level line, the paired-bootstrap intervals, the transfer gain in pairs and sample outputs
beside their references. Shares the page's style and helpers with the classification report (`report.py`)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ..io import atomic_write_text
from .answers import curve_table, spread_caption
from .report import CSS, MAX_TEXT_CHARS, _figure, _header, _png, display_path, fit_time_figure, html_table


def generation_curve_figure(results: dict[str, Any]):
    """Score against training pairs (log scale); strategies that did not train (zero-shot) as level lines."""
    fig, ax = _figure(8, 4.8)
    for name, points in results["curves"].items():
        trained = [p for p in points if p["n_train"] > 0]
        if not trained:
            ax.axhline(points[0]["mean"], color="grey", linestyle=":", label=f"{name} ({points[0]['mean']:.2f})")
            continue
        x, y = [p["n_train"] for p in trained], [p["mean"] for p in trained]
        err = [float(p.get("std") or 0.0) for p in trained]
        ax.errorbar(x, y, yerr=err if any(err) else None, capsize=4, label=name,
                    fmt="o" + ("--" if name in results["baselines"] else "-"))
    ax.set(xscale="log", xlabel="training pairs (log scale)", ylabel=f"test {results['metric']}",
           title=f"learning curves ({spread_caption(results['curves'])}; dashed: from scratch)")
    ax.grid(alpha=0.3)
    if results["curves"]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)
    return fig


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + "…"


def render_generation_report(folder: str | Path, results: dict[str, Any]) -> Path:
    """Write `report.html` into a generation comparison folder; returns its path."""
    folder = Path(folder)
    parts = _header(results, folder)
    rec = results.get("recommendation")
    if rec:
        parts.append(f'<p class="rec"><b>Recommendation: {html.escape(rec["strategy"])}</b> — '
                     f'{html.escape(rec["reason"])}. Keep it with <code>headstart fit DATA --task '
                     f'{html.escape(results["task"])} --strategy {html.escape(rec["strategy"])}</code>.</p>')
    spread = spread_caption(results["curves"])
    parts += ['<section id="learning-curves"><h2>Learning curves</h2>', _png(generation_curve_figure(results)),
              "</section>", '<section id="fit-time"><h2>Score against fit time</h2>', _png(fit_time_figure(results)),
              "</section>", "<h2>Strategies</h2>",
              f'<p class="note">{html.escape(results["metric"])} by training pairs, {html.escape(spread)}; '
              "fit_s and trainable at the largest size</p>", html_table(curve_table(results))]
    for other, curves in (results.get("other_metrics") or {}).items():
        parts += [f"<h3>{html.escape(other)}</h3>", html_table(curve_table(results, curves))]
    boot = [{"size": r["size"], "seed": r["seed"], "a": r["a"], "b": r["b"], "a score": r["a_score"],
             "b score": r["b_score"], "a - b": r["diff"], "95% low": r["low"], "95% high": r["high"],
             "excludes 0": "yes" if r["excludes_zero"] else "no"} for r in results.get("bootstrap", [])]
    parts += ['<section id="bootstrap"><h3>Paired bootstrap on the test rows</h3>',
              f'<p class="note">Each transfer cell against zero-shot and the from-scratch cell of its size and seed, '
              f'on the same test rows ({html.escape(results["metric"])}; resampled rows, sacrebleu\'s resampling for '
              "BLEU and chrF): the interval says whether the difference could be zero.</p>", html_table(boot),
              "</section>"]
    if results.get("paired"):
        parts += ["<h3>Paired comparison over seeds</h3>", html_table(results["paired"],
                  ["size", "a", "b", "n", "mean_diff", "wins_a", "wins_b", "t_p", "wilcoxon_p"])]
    parts += ["<h3>Transfer gain</h3>", '<p class="note">training pairs the best from-scratch baseline needs to '
              "match each transfer strategy</p>", html_table(results.get("transfer_gain", []),
                                                            ["strategy", "size", "n_per_class", "score", "text"])]
    samples = results.get("samples") or []
    rows = [{"source": _clip(s["source"]), "reference": _clip(s["reference"]),
             **{k: _clip(v) for k, v in s["outputs"].items()}} for s in samples]
    parts += ['<section id="samples"><h2>Sample outputs</h2><p class="note">The first test rows; each strategy at its '
              "largest size, seed 0.</p>", html_table(rows, text=list(rows[0]) if rows else ()), "</section>"]
    if results.get("skipped"):
        skipped = ", ".join(s["cell"] for s in results["skipped"])
        parts.append(f'<p class="note">Skipped for the budget: {html.escape(skipped)}</p>')
    data = results["data"]
    parts += ["<h2>Data</h2>", html_table([{"set": k, "pairs": data[k]["pairs"], "fingerprint": data[k]["fingerprint"],
                                            "source": display_path(data[k]["source"])} for k in ("train", "test")])]
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>headstart report</title>"
            f"<style>{CSS}</style></head><body>" + "\n".join(parts) + "</body></html>\n")
    path = folder / "report.html"
    atomic_write_text(path, page)
    return path
