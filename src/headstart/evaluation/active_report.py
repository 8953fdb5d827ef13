"""Active-learning curves (labels against accuracy, one line per query strategy, random dashed) as one
self-contained HTML page, from either file that records them:

* the rows of `benchmarks/active.py` (`benchmark: "active"`, one simulated curve per row): one plot per data set
  and learner, the mean over seeds with its spread;
* a `label-next-history.jsonl` (one line per `headstart label-next` call): the labelled rows of each model
  queried against its recorded held-out accuracy, one line per query strategy.
"""

from __future__ import annotations

import html
import json
import statistics
from pathlib import Path
from typing import Any, Sequence

from ..errors import DataError, expected
from ..io import atomic_write_text
from .report import CSS, _figure, _png, html_table

Point = tuple[float, float, float, int]  # labels, mean accuracy, std over seeds, seeds
RANDOM_NAMES = ("random", "RandomSampling")


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The JSON lines of `path`; a file that is not JSON lines is a DataError naming the line."""
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(expected("a readable JSON-lines file", f"{path}: {exc}", "Check the path.")) from None
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise DataError(expected("one JSON object per line", f"line {number} of {path} is not JSON",
                                         "Pass benchmarks/results/active-*.jsonl or a label-next history.")) from None
    return rows


def active_curves(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, list[Point]]]:
    """{plot title: {strategy: points sorted by labels}} from benchmark rows or label-next history lines."""
    plots: dict[str, dict[str, dict[float, list[float]]]] = {}
    for row in rows:
        if row.get("benchmark") == "active":
            title = f"{row['dataset']} ({row['learner']})"
            name = f"{row['library']}:{row['strategy']}"
            for point in row["curve"]:
                plots.setdefault(title, {}).setdefault(name, {}).setdefault(float(point["labels"]), []).append(
                    float(point["accuracy"]))
        elif "query" in row and "labelled_rows" in row:  # a label-next history line
            if row.get("accuracy") is None or row.get("labelled_rows") is None:
                continue  # a cold start (no model yet) or a model without a held-out estimate
            title = f"label-next history ({row.get('accuracy_source') or 'held-out'} accuracy of each model queried)"
            plots.setdefault(title, {}).setdefault(row["query"], {}).setdefault(
                float(row["labelled_rows"]), []).append(float(row["accuracy"]))
    return {title: {name: [(n, statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0, len(v))
                           for n, v in sorted(points.items())] for name, points in sorted(strategies.items())}
            for title, strategies in plots.items()}


def is_random(name: str) -> bool:
    return name.rpartition(":")[2] in RANDOM_NAMES


def active_figure(title: str, curves: dict[str, list[Point]]):
    """One plot: labels (x) against accuracy (y), a line per strategy, random sampling dashed."""
    fig, ax = _figure(7.5, 4.4)
    for name, points in curves.items():
        xs, ys, sd = [p[0] for p in points], [p[1] for p in points], [p[2] for p in points]
        line, = ax.plot(xs, ys, "--" if is_random(name) else "-", marker="." if len(xs) < 20 else None, label=name,
                        linewidth=2.2 if is_random(name) else 1.4)
        if any(sd):
            ax.fill_between(xs, [y - s for y, s in zip(ys, sd)], [y + s for y, s in zip(ys, sd)],
                            color=line.get_color(), alpha=0.08)
    ax.set(xlabel="labelled rows", ylabel="accuracy", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig


def summary_rows(curves: dict[str, list[Point]]) -> list[dict[str, Any]]:
    """Per strategy: seeds, first and last point, and the labels it needs to reach random's last accuracy."""
    reference = next((points for name, points in curves.items() if name.endswith(":random") or name == "random"),
                     None)
    target = reference[-1][1] if reference else None
    rows = []
    for name, points in curves.items():
        reached = next((p[0] for p in points if target is not None and p[1] >= target), None)
        rows.append({"strategy": name, "seeds": max(p[3] for p in points), "first labels": points[0][0],
                     "first accuracy": round(points[0][1], 4), "last labels": points[-1][0],
                     "last accuracy": round(points[-1][1], 4),
                     "labels to reach random's last": reached if reached is not None else "not reached"})
    return rows


def render_active_report(path: str | Path, output: str | Path | None = None) -> Path:
    """Write the curves of `path` to `output` (default: beside it, NAME.html) and return where."""
    path = Path(path)
    curves = active_curves(read_rows(path))
    if not curves:
        raise DataError(expected("active-learning rows (benchmarks/active.py) or label-next history lines with an "
                                 "accuracy", f"none in {path}",
                                 "Pass benchmarks/results/active-*.jsonl, or the label-next-history.jsonl of "
                                 "label-next runs made with fitted models."))
    out = Path(output) if output else path.with_suffix(".html")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>active learning: {html.escape(path.name)}"
             f"</title><style>{CSS}</style></head><body><h1>Active learning</h1>",
             f"<p class='note'>from {html.escape(str(path))}; each line is a query strategy, random sampling "
             "dashed; shaded: ± one standard deviation over seeds</p>"]
    for title, strategies in curves.items():
        parts += [f"<section><h2>{html.escape(title)}</h2>", _png(active_figure(title, strategies)),
                  html_table(summary_rows(strategies)), "</section>"]
    parts.append("</body></html>")
    atomic_write_text(out, "\n".join(parts))
    return out
