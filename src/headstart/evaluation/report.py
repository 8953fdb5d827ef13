"""`report.html`: one self-contained page from a comparison folder (inline CSS, plots as inline
base64 PNG drawn with matplotlib's Agg backend; nothing is fetched), plus `model_card.md`."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any, Sequence

from ..io import atomic_write_text, read_json
from .answers import curve_table, spread_caption
from .compare import FINAL_JSON, load_results
from .curves import MIN_FORECAST_SIZES

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;
background:#fff;padding:0 1em}h1{font-size:1.7em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f0f3f7}td:first-child,th:first-child{text-align:left}.plot{max-width:100%;height:auto}
.note{color:#555;font-size:.9em}.card{background:#fafafa;border:1px solid #ddd;padding:.2em 1.2em;border-radius:6px}
.rec{background:#eef7ee;border-left:5px solid #3a3;padding:.6em 1em}
"""


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="plot" alt="plot" src="data:image/png;base64,{data}">'


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def learning_curve_plot(results: dict[str, Any]) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for name, points in results["curves"].items():
        x = [p["n_per_class"] for p in points]
        y = [p["mean"] for p in points]
        err = [p["std"] or 0.0 for p in points]  # one seed: no bar (the title says the spread is unknown)
        style = "--" if name in results["baselines"] else "-"
        ax.errorbar(x, y, yerr=err, fmt="o" + style, capsize=4, label=name)
        ax.fill_between(x, [a - b for a, b in zip(y, err)], [a + b for a, b in zip(y, err)], alpha=0.12)
    ax.set_xscale("log")
    ax.set_xlabel("labelled examples per class (log scale)")
    ax.set_ylabel(f"test {results['metric']}")
    ax.set_title(f"learning curves ({spread_caption(results['curves'])}; dashed: from scratch)")
    ax.grid(alpha=0.3)
    if results["curves"]:
        ax.legend()
    return _png(fig)


def confusion_plot(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    import numpy as np

    plt = _pyplot()
    m = np.asarray(matrix)
    size = min(0.5 * len(labels) + 2.5, 14)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    if len(labels) <= 20:
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, str(m[i, j]), ha="center", va="center",
                        color="white" if m[i, j] > m.max() / 2 else "black", fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix (test set)")
    return _png(fig)


def calibration_plot(calibration: dict[str, Any]) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    for key, label, marker in (("reliability_before", "before", "o"), ("reliability_after", "after temperature", "s")):
        bins = [b for b in calibration[key]["bins"] if b["count"]]
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker=marker,
                label=f"{label} (ECE {calibration[key]['ece']:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top-class probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"reliability diagram, T = {calibration['temperature']:.3f}")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _png(fig)


def html_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return '<p class="note">(none)</p>'
    columns = list(columns or rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def _short_source(results: dict[str, Any]) -> str:
    path = Path(results["data"]["train"]["source"])
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def model_card(results: dict[str, Any], final: dict[str, Any] | None) -> str:
    """The model card as markdown: intended use, data, metrics, limitations."""
    rec, data = results.get("recommendation") or {}, results["data"]
    metric = results["metric"]
    lines = [f"# Model card: {rec.get('strategy', 'no model')} on {_short_source(results)}", ""]
    lines += ["## Intended use",
              f"- {results['task']} of short texts into: {', '.join(data['train']['labels']) or 'values'}.",
              "- Texts like the training data (same domain, language and length); a human should review "
              "low-confidence predictions (see the abstain threshold of `headstart predict`).",
              "- Not for decisions about people without an audit of errors per group.", ""]
    lines += ["## Data",
              f"- Training pool: {data['train']['rows']:,} rows from `{data['train']['source']}` "
              f"(fingerprint {data['train']['fingerprint']}), mean {data['train']['mean_chars']} characters.",
              f"- Test set: {data['test']['rows']:,} rows from `{data['test']['source']}` "
              f"(fingerprint {data['test']['fingerprint']}).",
              f"- Label counts (train): {data['train']['labels']}", ""]
    lines += ["## Model", f"- Strategy `{rec.get('strategy')}` on backbone `{results['backbone']}`, "
                          f"trained on {rec.get('size')} examples per class."]
    if rec:
        lines.append(f"- Why: {rec['reason']}.")
    lines.append("")
    spread = (f" ± {rec['std']:.4f}" if rec.get("std") is not None and rec.get("seeds", 2) > 1
              else ", spread unknown (1 seed)")
    lines += ["## Metrics", f"- Grid ({results['seeds']} seeds): {metric} {rec.get('mean', float('nan')):.4f}"
                            f"{spread} at size {rec.get('size')}."]
    if final:
        m, cal = final["metrics"], final["calibration"]
        lines.append(f"- Saved model (`{final['model']}`, seed {final['seed']}, {final['n_fit']} training rows): "
                     f"accuracy {m.get('accuracy', float('nan')):.4f}, macro-F1 {m.get('macro_f1', float('nan')):.4f} "
                     f"on {m.get('n')} test rows.")
        lines.append(f"- Calibration: temperature {cal['temperature']:.3f} fitted on {final['n_calibration']} held-out "
                     f"rows; test ECE {cal['ece_before']:.4f} before, {cal['ece_after']:.4f} after.")
    for g in results.get("transfer_gain", []):
        if g["strategy"] == rec.get("strategy"):
            lines.append(f"- Transfer gain at {g['size']}: {g['text']}.")
    lines += ["", "## Limitations",
              "- Scores come from one test set; the spread over seeds is shown, the test set's own sampling "
              "error is not.",
              "- Small labelled sets: classes with few examples have unreliable per-class scores.",
              "- The backbone's pre-training data carries its own biases, which a small labelled set cannot remove.",
              "- Performance on texts from other domains, languages or time periods is unknown."]
    if results.get("skipped"):
        lines.append(f"- The time budget skipped {len(results['skipped'])} grid cell(s); the comparison is incomplete.")
    return "\n".join(lines) + "\n"


def _markdown_to_html(text: str) -> str:
    """The small markdown subset model cards use: headings and bullet lists."""
    out, in_list = [], False
    for line in text.splitlines():
        if line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{html.escape(line[2:])}</li>")
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")) + 2, 6)
            out.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    if in_list:
        out.append("</ul>")
    return "\n".join(out)


def render_report(folder: str | Path) -> Path:
    """Write `report.html` and `model_card.md` into a comparison folder; returns the HTML path."""
    folder = Path(folder)
    results = load_results(folder)
    final = results.get("final") or (read_json(folder / FINAL_JSON) if (folder / FINAL_JSON).exists() else None)
    card = model_card(results, final)
    atomic_write_text(folder / "model_card.md", card)
    rec = results.get("recommendation")
    parts = [f"<h1>headstart comparison: {html.escape(_short_source(results))}</h1>",
             f'<p class="note">task {results["task"]}, metric {results["metric"]}, backbone '
             f'{html.escape(results["backbone"])}, {results["seeds"]} seeds, '
             f'{len(results["cells"])} finished cells</p>']
    if rec:
        parts.append(f'<p class="rec"><b>Recommendation: {html.escape(rec["strategy"])}</b> — '
                     f'{html.escape(rec["reason"])}</p>')
    parts += ["<h2>Learning curves</h2>", learning_curve_plot(results),
              "<h2>Strategies</h2>", f'<p class="note">{html.escape(results["metric"])}, '
              f'{html.escape(spread_caption(results["curves"]))}; fit_s and trainable at the largest size</p>',
              html_table(curve_table(results))]
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
                  f'<p class="note">saved to {html.escape(final["model"])}; accuracy {m["accuracy"]:.4f}, '
                  f'macro-F1 {m["macro_f1"]:.4f} on {m["n"]} test rows</p>',
                  confusion_plot(m["confusion_matrix"]["labels"], m["confusion_matrix"]["matrix"]),
                  "<h3>Per-class scores</h3>",
                  html_table([{"class": c, **v} for c, v in m["per_class"].items()],
                             ["class", "precision", "recall", "f1", "support"]),
                  "<h3>Calibration</h3>", calibration_plot(final["calibration"])]
    else:
        parts.append('<p class="note">No final model (compare ran with --no-final, or found no cells): '
                     'no confusion matrix or calibration.</p>')
    data = results["data"]
    parts += ["<h2>Data</h2>", html_table([{"set": k, **{f: v for f, v in data[k].items() if f != "labels"},
                                            "classes": len(data[k]["labels"])} for k in ("train", "test")]),
              html_table([{"label": label, "train": n, "test": data["test"]["labels"].get(label, 0)}
                          for label, n in data["train"]["labels"].items()])]
    parts += ["<h2>Model card</h2>", f'<div class="card">{_markdown_to_html(card)}</div>']
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>headstart report</title>"
            f"<style>{CSS}</style></head><body>" + "\n".join(parts) + "</body></html>\n")
    path = folder / "report.html"
    atomic_write_text(path, page)
    return path
