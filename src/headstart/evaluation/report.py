"""`report.html`: one self-contained page from a comparison folder (inline CSS, plots as inline
base64 PNG drawn with matplotlib's Agg backend; nothing is fetched), plus `model_card.md`."""

from __future__ import annotations

import base64
import datetime
import html
import io
import os
import re
from pathlib import Path
from typing import Any, Sequence

from .. import __version__
from ..tables import format_value
from ..errors import ConfigError, expected
from ..io import atomic_write_text, read_json
from ..tasks import label_task
from .answers import curve_table, spread_caption
from .compare import FINAL_JSON, RESULTS_JSON, load_results
from .curves import MIN_FORECAST_SIZES

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;
background:#fff;padding:0 1em}h1{font-size:1.7em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f0f3f7}td:first-child,th:first-child{text-align:left}.plot{max-width:100%;height:auto}
.note{color:#555;font-size:.9em}.card{background:#fafafa;border:1px solid #ddd;padding:.2em 1.2em;border-radius:6px}
.rec{background:#eef7ee;border-left:5px solid #3a3;padding:.6em 1em}
.warn{background:#fff4d6;border-left:5px solid #e0a000;padding:.6em 1em}
td.text,th.text{text-align:left}td.text{max-width:40em}
"""
MAX_TEXT_CHARS = 300


def _png(fig) -> str:
    """The figure as an inline <img> (base64 PNG)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="plot" alt="plot" src="data:image/png;base64,{data}">'


def _figure(width: float, height: float):
    """A figure and its axes, drawn by matplotlib's Agg backend outside pyplot (no window, nothing to close)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def one_seed(results: dict[str, Any]) -> bool:
    """Whether any curve point rests on a single seed (no spread known)."""
    points = [p for curve in results["curves"].values() for p in curve]
    return results.get("seeds", 1) < 2 or any(p.get("seeds", 2) < 2 for p in points)


def majority_baseline(results: dict[str, Any]) -> tuple[str, float] | None:
    """The class most frequent in training and the score that always predicting it gets on the test set
    (accuracy or macro-F1 over the training classes), or None where that is not defined."""
    if results.get("generation") or not label_task(results["task"]).single_label or \
            results["metric"] not in ("accuracy", "macro_f1"):
        return None
    train, test = results["data"]["train"]["labels"], results["data"]["test"]["labels"]
    if not train or not sum(test.values()):
        return None
    label = max(train, key=lambda k: train[k])
    share = test.get(label, 0) / sum(test.values())
    if results["metric"] == "accuracy":
        return label, share
    return label, (2 * share / (1 + share) if share else 0.0) / len(train)  # F1 of that class, 0 for the others


def _size_ticks(results: dict[str, Any]) -> tuple[list[float], list[str]]:
    """The examples per class actually run, labelled as the grid names them ('100 (all)')."""
    ticks: dict[float, str] = {}
    for points in results["curves"].values():
        for p in points:
            n = float(p["n_per_class"])
            text = f"{n:.0f}" if n.is_integer() else f"{n:.1f}"
            ticks.setdefault(n, f"{text} (all)" if p["size"] == "all" else text)
    return sorted(ticks), [ticks[n] for n in sorted(ticks)]


def _fixed_ticks(axis, ticks: list[float], labels: list[str]) -> None:
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FixedFormatter(labels))
    axis.set_minor_locator(NullLocator())


def _plain_log_ticks(axis, unit: str) -> None:
    """Log-axis ticks as plain numbers with a unit ('0.2 s', '5 s'), not '2×10⁻¹'."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g} {unit}"))
    axis.set_minor_formatter(NullFormatter())


def _score_axes(ax, results: dict[str, Any], xlabel: str, title: str) -> None:
    """What both score plots share: the majority-class line, a log x axis (set before its ticks), the labels
    and the legend outside the axes so it covers no point."""
    majority = majority_baseline(results)
    if majority:
        ax.axhline(majority[1], color="grey", linestyle=":", label=f"always '{majority[0]}' ({majority[1]:.3f})")
    ax.set(xscale="log", xlabel=xlabel, ylabel=f"test {results['metric']}", title=title)
    ax.grid(alpha=0.3)
    if results["curves"]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)


def learning_curve_figure(results: dict[str, Any]):
    """The learning curves as a matplotlib figure: x ticks at the sizes run, the majority-class score as a
    line."""
    fig, ax = _figure(8, 4.8)
    for name, points in results["curves"].items():
        x = [p["n_per_class"] for p in points]
        y = [p["mean"] for p in points]
        err = [float(p.get("std") or 0.0) if p.get("seeds", 2) > 1 else 0.0 for p in points]  # 0: one seed
        style = "--" if name in results["baselines"] else "-"
        ax.errorbar(x, y, yerr=err if any(err) else None, fmt="o" + style, capsize=4, label=name)
        if any(err):
            ax.fill_between(x, [a - b for a, b in zip(y, err)], [a + b for a, b in zip(y, err)], alpha=0.12)
    _score_axes(ax, results, "labelled examples per class (log scale; ticks: the sizes run)",
                f"learning curves ({spread_caption(results['curves'])}; dashed: from scratch)")
    if results["curves"]:
        _fixed_ticks(ax.xaxis, *_size_ticks(results))
    return fig


def fit_time_figure(results: dict[str, Any]):
    """Score against mean fit time, one point per strategy and size: what each gain costs."""
    fig, ax = _figure(8, 4.8)
    for name, points in results["curves"].items():
        x = [max(p["fit_seconds"], 1e-3) for p in points]
        y = [p["mean"] for p in points]
        ax.plot(x, y, "o" + ("--" if name in results["baselines"] else "-"), label=name)
        for xi, yi, p in zip(x, y, points):
            ax.annotate(str(p["size"]), (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=8)
    _score_axes(ax, results, "mean fit time per cell (log scale)",
                "score against fit time (labels: examples per class)")
    _plain_log_ticks(ax.xaxis, "s")
    return fig


def confusion_plot(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    import numpy as np

    m = np.asarray(matrix)
    size = min(0.5 * len(labels) + 2.5, 14)
    fig, ax = _figure(size, size * 0.85)
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    if len(labels) <= 20:
        for i, j in np.ndindex(m.shape):
            ax.text(j, i, str(m[i, j]), ha="center", va="center",
                    color="white" if m[i, j] > m.max() / 2 else "black", fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix (test set)")
    return _png(fig)


def calibration_figure(calibration: dict[str, Any]):
    """Reliability diagram before and after temperature scaling; the legend sits below the axes."""
    fig, ax = _figure(5.5, 5)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    for key, label, marker in (("reliability_before", "before", "o"), ("reliability_after", "after temperature", "s")):
        bins = [b for b in calibration[key]["bins"] if b["count"]]
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker=marker,
                label=f"{label} (ECE {calibration[key]['ece']:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top-class probability)", ylabel="accuracy",
           title=f"reliability diagram, T = {calibration['temperature']:.3f}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=9)
    ax.grid(alpha=0.3)
    return fig


def html_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, text: Sequence[str] = ()) -> str:
    """Rows as an HTML table; numbers formatted by column kind as in the terminal; `text` columns left-aligned."""
    if not rows:
        return '<p class="note">(none)</p>'
    columns = list(columns or rows[0])
    # a column of words reads left-aligned; one of numbers right-aligned, so digits line up
    text = set(text) | {c for c in columns if any(isinstance(r.get(c), str) for r in rows)}
    left = {c: ' class="text"' if c in text else "" for c in columns}
    head = "".join(f"<th{left[c]}>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td{left[c]}>{html.escape(_cell(r.get(c), c))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any, column: str = "") -> str:
    return "-" if value is None else format_value(value, column)


def display_path(path: str | os.PathLike, folder: str | Path | None = None) -> str:
    """A path as the report shows it: relative inside the comparison folder, else only its last part when
    absolute (a shared report should not carry someone's temporary or home folders); names and hub ids as is."""
    text = str(path)
    if not os.path.isabs(text):
        return text
    if folder is not None:
        try:
            return Path(text).resolve().relative_to(Path(folder).resolve()).as_posix()
        except ValueError:
            pass
    return Path(text).name


def _pm(mean: float | None, std: float | None, seeds: int) -> str:
    if mean is None:
        return "-"
    return f"{mean:.4f}" + (f" ± {std:.4f}" if seeds > 1 and std is not None else " (one seed: spread unknown)")


def _md_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    columns = list(rows[0])
    return (["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            + ["| " + " | ".join(_cell(r[c], c) for c in columns) + " |" for r in rows])


def model_card(results: dict[str, Any], final: dict[str, Any] | None, folder: str | Path | None = None) -> str:
    """The model card as markdown: intended use, data, metrics, limitations. Counts are tables, not dicts."""
    rec, data = results.get("recommendation") or {}, results["data"]
    metric, seeds = results["metric"], results["seeds"]
    train, test = data["train"], data["test"]
    lines = [f"# Model card: {rec.get('strategy', 'no model')} on {display_path(train['source'])}", ""]
    lines += ["## Intended use",
              f"- {results['task']} of short texts into: {', '.join(train['labels']) or 'values'}.",
              "- Texts like the training data (same domain, language and length); a human should review "
              "low-confidence predictions (see the abstain threshold of `headstart predict`).",
              "- Not for decisions about people without an audit of errors per group.", ""]
    lines += ["## Data",
              f"- Training pool: {train['rows']:,} rows from `{display_path(train['source'])}` "
              f"(fingerprint {train['fingerprint']}), mean {train['mean_chars']} characters.",
              f"- Test set: {test['rows']:,} rows from `{display_path(test['source'])}` "
              f"(fingerprint {test['fingerprint']}).", ""]
    if train["labels"]:
        lines += ["Rows per label:", "", *_md_table([{"label": label, "train": n, "test": test["labels"].get(label, 0)}
                                                    for label, n in train["labels"].items()]), ""]
    lines += ["## Model", f"- Strategy `{rec.get('strategy')}` on backbone `{display_path(results['backbone'])}`, "
                          f"trained on {rec.get('size')} examples per class."]
    if rec:
        lines.append(f"- Why: {rec['reason']}.")
    lines.append("")
    lines += ["## Metrics", f"- Grid ({seeds} seed{'s' if seeds != 1 else ''}): {metric} "
                            f"{_pm(rec.get('mean'), rec.get('std'), seeds)} at size {rec.get('size')}."]
    if final:
        m, cal = final["metrics"], final["calibration"]
        lines.append(f"- Saved model (`{display_path(final['model'], folder)}`, seed {final['seed']}, "
                     f"{final['n_fit']} training rows): accuracy {m.get('accuracy', float('nan')):.4f}, "
                     f"macro-F1 {m.get('macro_f1', float('nan')):.4f} on {m.get('n')} test rows.")
        lines.append(f"- Calibration: temperature {cal['temperature']:.3f} fitted on {final['n_calibration']} held-out "
                     f"rows; test ECE {cal['ece_before']:.4f} before, {cal['ece_after']:.4f} after.")
    for g in results.get("transfer_gain", []):
        if g["strategy"] == rec.get("strategy"):
            lines.append(f"- Transfer gain at {g['size']}: {g['text']}.")
    if final and final["metrics"].get("per_class"):
        m = final["metrics"]
        lines += ["", "Per class (saved model, test set):", "",
                  *_md_table([{"class": c, **{k: v[k] for k in ("precision", "recall", "f1", "support")}}
                              for c, v in m["per_class"].items()])]
    lines += ["", "## Limitations",
              "- Scores come from one test set; the spread over seeds is shown, the test set's own sampling "
              "error is not." if seeds > 1 else
              "- Scores come from one test set and one seed per cell: neither how much they vary between samples "
              "and runs nor the test set's own sampling error is known."]
    lines += ["- Small labelled sets: classes with few examples have unreliable per-class scores.",
              "- The backbone's pre-training data carries its own biases, which a small labelled set cannot remove.",
              "- Performance on texts from other domains, languages or time periods is unknown."]
    if results.get("skipped"):
        lines.append(f"- The time budget skipped {len(results['skipped'])} grid cell(s); the comparison is incomplete.")
    return "\n".join(lines) + "\n"


def _markdown_to_html(text: str) -> str:
    """The small markdown subset model cards use: headings, bullet lists, pipe tables and `code`."""
    out, block = [], ""  # block: the open <ul> or <table>, if any
    for line in text.splitlines():
        kind = "ul" if line.startswith("- ") else "table" if line.startswith("|") else ""
        if block and kind != block:
            out.append("</tbody></table>" if block == "table" else "</ul>")
            block = ""
        if kind == "ul":
            if not block:
                out.append("<ul>")
            out.append("<li>" + re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(line[2:])) + "</li>")
        elif kind == "table":
            cells = [html.escape(c.strip()) for c in line.strip().strip("|").split("|")]
            if not block:
                out.append("<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in cells) + "</tr></thead><tbody>")
            elif set("".join(cells)) <= set("-: "):
                continue  # the header's separator row
            else:
                out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")) + 2, 6)
            out.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
        block = kind
    if block:
        out.append("</tbody></table>" if block == "table" else "</ul>")
    return "\n".join(out)


def _header(results: dict[str, Any], folder: Path) -> list[str]:
    stamp = datetime.datetime.fromtimestamp((folder / RESULTS_JSON).stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    source = html.escape(display_path(results["data"]["train"]["source"]))
    parts = [f'<header id="hs-header"><h1>headstart comparison: {source}</h1>',
             f'<p class="note">headstart {html.escape(__version__)}; results of {stamp}, report written {now}.<br>'
             f'task {results["task"]}, metric {results["metric"]}, backbone '
             f'{html.escape(display_path(results["backbone"]))}, {results["seeds"]} seed(s), '
             f'{len(results["cells"])} finished cells</p></header>']
    if one_seed(results):
        parts.append('<p class="warn" id="one-seed-warning"><b>One seed.</b> Some or all points rest on a single '
                     "seed: how much a score moves with another sample or run is unknown, so differences between "
                     "strategies below may be noise. Run compare with <code>--seeds 3</code> or more to see the "
                     "spread.</p>")
    return parts


def _final_vs_grid(results: dict[str, Any], final: dict[str, Any]) -> str:
    """Why the saved model's test score is not its grid cell's: it trained on fewer rows (calibration)."""
    metric = results["metric"]
    cell = next((c for c in results["cells"] if c["strategy"] == final["strategy"] and str(c["size"]) ==
                 str(final["size"]) and c["seed"] == final["seed"]), None)
    score = final["metrics"].get(metric)
    text = (f"The saved model scores {metric} {format_value(score, metric)} on the test set" if score is not None
            else "The saved model's test score")
    if cell is not None:
        text += (f"; its grid cell ({final['strategy']} at {final['size']}, seed {final['seed']}) scored "
                 f"{cell['score']:.4f} trained on {cell['n_train']:,} rows")
    if final.get("calibrated_on_training_rows"):
        text += (". The sample was too small to hold rows out, so the calibration temperature was fitted on the "
                 "training rows themselves, which also served as its validation rows: that is where the two runs "
                 "differ. Temperature scaling itself never changes a prediction.")
    else:
        text += (f". They differ because the saved model trained on {final['n_fit']:,} rows of that sample: "
                 f"{final['n_calibration']:,} were held out (stratified) to fit the calibration temperature and "
                 "served as its validation rows. Temperature scaling itself never changes a prediction.")
    return f'<p class="note" id="final-vs-grid">{html.escape(text)}</p>'


def _misclassified(final: dict[str, Any]) -> list[str]:
    rows = final.get("misclassified")
    parts = ["<h3>Misclassified test texts</h3>"]
    if rows is None:
        return parts + ['<p class="note" id="misclassified">Not recorded in this final.json (written by an older '
                        "headstart): run compare again to list them.</p>"]
    shown = [{**r, "text": r["text"] if len(r["text"]) <= MAX_TEXT_CHARS else r["text"][:MAX_TEXT_CHARS] + "…"}
             for r in rows]
    return parts + ['<div id="misclassified"><p class="note">The most confident errors, up to three per true '
                    "class (often label noise, or what the model has not learnt).</p>",
                    html_table(shown, ["true", "predicted", "confidence", "text"], text=("text",))
                    if shown else '<p class="note">none: every test text was classified correctly</p>', "</div>"]


def render_report(folder: str | Path) -> Path:
    """Write `report.html` and `model_card.md` into a comparison folder; returns the HTML path."""
    folder = Path(folder)
    results = load_results(folder)
    if results.get("generation"):
        raise ConfigError(expected("a classification comparison", f"a {results['task']} one in {folder}",
                                   "Use evaluation.generation_report.render_generation_report (or `headstart report`)."))
    final = results.get("final") or (read_json(folder / FINAL_JSON) if (folder / FINAL_JSON).exists() else None)
    card = model_card(results, final, folder)
    atomic_write_text(folder / "model_card.md", card)
    rec = results.get("recommendation")
    parts = _header(results, folder)
    if rec:
        parts.append(f'<p class="rec"><b>Recommendation: {html.escape(rec["strategy"])}</b> — '
                     f'{html.escape(rec["reason"])}</p>')
    spread = spread_caption(results["curves"])
    majority = majority_baseline(results)
    baseline = (f"; always predicting the most frequent training class ('{html.escape(majority[0])}') scores "
                f"{majority[1]:.4f} on the test set (dotted line)" if majority else "")
    parts += ['<section id="learning-curves"><h2>Learning curves</h2>', _png(learning_curve_figure(results)),
              "</section>", '<section id="fit-time"><h2>Score against fit time</h2>',
              _png(fit_time_figure(results)), "</section>",
              "<h2>Strategies</h2>", f'<p class="note">{html.escape(results["metric"])}, {html.escape(spread)}; '
              f"fit_s and trainable at the largest size{baseline}</p>", html_table(curve_table(results))]
    for other, curves in (results.get("other_metrics") or {}).items():
        parts += [f"<h3>{html.escape(other)} ({html.escape(spread_caption(curves))})</h3>",
                  html_table(curve_table(results, curves))]
    parts += ["<h3>Paired comparison (same seeds, same samples)</h3>", html_table(results.get("paired", []),
              ["size", "a", "b", "n", "mean_diff", "wins_a", "wins_b", "t_p", "wilcoxon_p"])]
    parts += ["<h3>Transfer gain</h3>", html_table(results.get("transfer_gain", []),
                                                   ["strategy", "size", "n_per_class", "score", "text"])]
    forecast = [{"strategy": k, "fit": v["form"], "at n_max": v["at_n_max"], "doubling gain": v["doubling_gain"],
                 "rmse": v["rmse"]} for k, v in (results.get("forecast") or {}).items() if v]
    parts += ["<h3>Forecast (doubling the labels)</h3>", html_table(forecast) if forecast else
              f'<p class="note">none: a curve needs results at {MIN_FORECAST_SIZES} or more sizes</p>']
    if results.get("skipped"):
        skipped = ", ".join(s["cell"] for s in results["skipped"])
        parts.append(f'<p class="note">Skipped for the budget: {html.escape(skipped)}</p>')
    if final:
        m = final["metrics"]
        parts += [f"<h2>Final model: {html.escape(final['strategy'])} at {html.escape(str(final['size']))}</h2>",
                  f'<p class="note">saved to <code>{html.escape(display_path(final["model"], folder))}/</code> '
                  f'in the comparison folder; accuracy '
                  f'{m["accuracy"]:.4f}, macro-F1 {m["macro_f1"]:.4f} on {m["n"]} test rows</p>',
                  _final_vs_grid(results, final),
                  confusion_plot(m["confusion_matrix"]["labels"], m["confusion_matrix"]["matrix"]),
                  "<h3>Per-class scores</h3>",
                  html_table([{"class": c, **v} for c, v in m["per_class"].items()],
                             ["class", "precision", "recall", "f1", "support"]),
                  *_misclassified(final),
                  "<h3>Calibration</h3>", _png(calibration_figure(final["calibration"]))]
    else:
        parts.append('<p class="note">No final model (compare ran with --no-final, or found no cells): '
                     'no confusion matrix or calibration.</p>')
    data = results["data"]
    parts += ["<h2>Data</h2>", html_table([{"set": k, **{f: v for f, v in data[k].items() if f != "labels"},
                                            "source": display_path(data[k]["source"]),
                                            "classes": len(data[k]["labels"])} for k in ("train", "test")]),
              html_table([{"label": label, "train": n, "test": data["test"]["labels"].get(label, 0)}
                          for label, n in data["train"]["labels"].items()])]
    parts += ['<section id="model-card"><h2>Model card</h2>', f'<div class="card">{_markdown_to_html(card)}</div>',
              "</section>"]
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>headstart report</title>"
            f"<style>{CSS}</style></head><body>" + "\n".join(parts) + "</body></html>\n")
    path = folder / "report.html"
    atomic_write_text(path, page)
    return path
