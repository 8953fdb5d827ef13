"""`headstart report`: one self-contained HTML file with its plots, a model card, and a real render
in headless Chromium (Debian's package; `scripts/ensure-chromium.sh` installs it for `make test`)."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from headstart.cli import main


@pytest.fixture(scope="module")
def report(tmp_path_factory, small_data, tiny_backbone):
    folder = tmp_path_factory.mktemp("report")
    train, test = small_data
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    out = folder / "cmp"
    assert main(["compare", str(folder / "train.csv"), "--test", str(folder / "test.csv"), "--strategies",
                 "probe,scratch-tfidf", "--sizes", "8,all", "--seeds", "2", "--backbone", tiny_backbone,
                 "-o", str(out)]) == 0
    assert main(["report", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def one_seed_report(report, tmp_path_factory):
    """The same comparison with one seed: compare resumes from the finished seed-0 cells (nothing refits)."""
    folder = tmp_path_factory.mktemp("one-seed") / "cmp"
    shutil.copytree(report, folder)
    src = report.parent
    assert main(["compare", str(src / "train.csv"), "--test", str(src / "test.csv"), "--strategies",
                 "probe,scratch-tfidf", "--sizes", "8,all", "--seeds", "1", "--backbone", _backbone(report),
                 "-o", str(folder)]) == 0
    assert main(["report", str(folder)]) == 0
    return folder


def _backbone(folder):
    return json.loads((folder / "results.json").read_text())["backbone"]


def test_report_is_one_self_contained_file_with_every_section(report):
    from PIL import Image

    page = (report / "report.html").read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]+src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 4  # learning curves, score against fit time, confusion matrix, calibration
    for data in images:
        assert Image.open(io.BytesIO(base64.b64decode(data))).size[0] > 100
    # nothing to fetch: no external scripts, styles, images or fonts
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<script" not in page and "@import" not in page
    for heading in ("Learning curves", "Score against fit time", "Strategies", "Paired comparison", "Transfer gain",
                    "Forecast", "Per-class scores", "Misclassified test texts", "Calibration", "Data", "Model card",
                    "Recommendation"):
        assert heading in page
    card = (report / "model_card.md").read_text(encoding="utf-8")
    for section in ("## Intended use", "## Data", "## Metrics", "## Limitations"):
        assert section in card


def test_report_header_has_version_and_dates_and_no_absolute_paths(report):
    import headstart

    page = (report / "report.html").read_text(encoding="utf-8")
    card = (report / "model_card.md").read_text(encoding="utf-8")
    header = page[page.index('<header id="hs-header">'):page.index("</header>")]
    assert f"headstart {headstart.__version__}" in header
    assert re.search(r"results of \d{4}-\d\d-\d\d \d\d:\d\d, report written \d{4}-\d\d-\d\d", header)
    # the data files, the backbone folder and the saved model all live under pytest's temporary folder
    for text in (page, card):
        assert str(report.parent.parent) not in text and os.path.realpath(report.parent.parent) not in text
    assert "saved to <code>model/</code>" in page and "`train.csv`" in card
    assert 'id="one-seed-warning"' not in page  # two seeds: the spread is known


def test_model_card_shows_tables_not_python_dicts(report):
    card = (report / "model_card.md").read_text(encoding="utf-8")
    assert "{'" not in card and "{\"" not in card
    assert "| label | train | test |" in card and "| class | precision | recall | f1 | support |" in card
    page = (report / "report.html").read_text(encoding="utf-8")
    card_html = page[page.index('<section id="model-card">'):]
    assert card_html.count("<table>") == 2 and "<th>label</th>" in card_html and "|---" not in card_html


def test_final_model_says_why_its_score_differs_from_its_grid_cell(report):
    final = json.loads((report / "final.json").read_text())
    page = (report / "report.html").read_text(encoding="utf-8")
    note = re.search(r'<p class="note" id="final-vs-grid">(.*?)</p>', page).group(1)
    assert f"trained on {final['n_fit']:,} rows" in note and f"{final['n_calibration']:,} were held out" in note
    assert "calibration temperature" in note and "its grid cell" in note


def test_report_lists_a_few_misclassified_test_texts_per_class(report):
    final = json.loads((report / "final.json").read_text())
    rows = final["misclassified"]
    assert rows and all(r["true"] != r["predicted"] for r in rows)
    per_class = {label: [r for r in rows if r["true"] == label] for label in final["classes"]}
    assert all(1 <= len(v) <= 3 for v in per_class.values()), per_class
    for v in per_class.values():  # the most confident errors first
        assert [r["confidence"] for r in v] == sorted((r["confidence"] for r in v), reverse=True)
    page = (report / "report.html").read_text(encoding="utf-8")
    section = page[page.index('<div id="misclassified">'):]
    assert all(html.escape(r["text"][:60]) in section for r in rows)


def test_learning_curve_ticks_are_the_sizes_run_with_a_majority_line_and_an_outside_legend(report):
    from headstart.evaluation.report import learning_curve_figure, majority_baseline

    results = json.loads((report / "results.json").read_text())
    fig = learning_curve_figure(results)
    ax = fig.axes[0]
    fig.canvas.draw()
    n_all = results["curves"]["probe"][-1]["n_per_class"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["8", f"{n_all:.0f} (all)"]
    assert ax.xaxis.get_minor_ticks() == [] or not any(t.label1.get_text() for t in ax.xaxis.get_minor_ticks())
    label, score = majority_baseline(results)
    test_counts = results["data"]["test"]["labels"]
    assert label == max(results["data"]["train"]["labels"], key=results["data"]["train"]["labels"].get)
    assert score == pytest.approx(test_counts[label] / sum(test_counts.values()))
    assert any(line.get_linestyle() == ":" and list(line.get_ydata()) == [score, score] for line in ax.get_lines())
    _assert_legend_outside(fig, ax)


def test_reliability_legend_covers_no_curve(report):
    from headstart.evaluation.report import calibration_figure

    fig = calibration_figure(json.loads((report / "final.json").read_text())["calibration"])
    _assert_legend_outside(fig, fig.axes[0])


def _assert_legend_outside(fig, ax):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend, plot = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
    assert not legend.overlaps(plot), (legend, plot)


def test_one_seed_report_warns_and_claims_no_spread(one_seed_report):
    page = (one_seed_report / "report.html").read_text(encoding="utf-8")
    assert 'id="one-seed-warning"' in page and "--seeds 3" in page
    card = (one_seed_report / "model_card.md").read_text(encoding="utf-8")
    assert "Grid (1 seed)" in card and "one seed: spread unknown" in card and " ± " not in card.split("## Metrics")[1]


def test_report_on_a_folder_without_results_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "results.json" in capsys.readouterr().err


# Test-only: measures where each section landed once the page (and its images) loaded; the report itself
# carries no script.
_LAYOUT_PROBE = """<script>
window.addEventListener("load", function () {
  var out = {};
  document.querySelectorAll("[id]").forEach(function (el) {
    var r = el.getBoundingClientRect(), st = getComputedStyle(el);
    out[el.id] = {w: r.width, h: r.height, left: r.left, right: r.right, display: st.display,
                  visibility: st.visibility, opacity: parseFloat(st.opacity),
                  tables: el.querySelectorAll("table").length,
                  images: Array.prototype.map.call(el.querySelectorAll("img"),
                                                   function (i) { return i.naturalWidth; })};
  });
  out.__page = {viewport: window.innerWidth, height: document.documentElement.scrollHeight};
  var pre = document.createElement("pre");
  pre.id = "hs-layout";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""

NEW_SECTIONS = ("hs-header", "one-seed-warning", "learning-curves", "fit-time", "final-vs-grid", "misclassified",
                "model-card")


def _chromium(browser, tmp_path, *args):
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, check=True, timeout=120, capture_output=True, text=True).stdout


def test_report_renders_in_headless_chromium(one_seed_report, tmp_path):
    from PIL import Image

    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium is not installed and could not be (run scripts/ensure-chromium.sh as root)")
    page = (one_seed_report / "report.html").read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", _LAYOUT_PROBE + "</body>"), encoding="utf-8")
    dom = _chromium(browser, tmp_path, "--window-size=1200,2000", "--dump-dom", probe.as_uri())
    layout = json.loads(html.unescape(re.search(r'<pre id="hs-layout">(.*?)</pre>', dom, re.S).group(1)))
    viewport = layout["__page"]["viewport"]
    for name in NEW_SECTIONS:  # present, laid out, shown and within the page's width
        box = layout.get(name)
        assert box is not None, f"section {name} missing"
        assert box["w"] > 100 and box["h"] > 10, (name, box)
        assert box["display"] != "none" and box["visibility"] == "visible" and box["opacity"] > 0.5, (name, box)
        assert 0 <= box["left"] and box["right"] <= viewport, (name, box)
        assert all(width > 100 for width in box["images"]), (name, box)  # every plot decoded
    assert len(layout["learning-curves"]["images"]) == 1 and len(layout["fit-time"]["images"]) == 1
    assert layout["misclassified"]["tables"] == 1 and layout["model-card"]["tables"] == 2

    height = min(int(layout["__page"]["height"]) + 20, 16000)
    shot = tmp_path / "shot.png"  # the whole page, to look at: pytest --basetemp=DIR keeps it
    _chromium(browser, tmp_path, f"--screenshot={shot}", f"--window-size=1200,{height}", "--hide-scrollbars",
              (one_seed_report / "report.html").as_uri())
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (height, 1200)
    assert pixels.std() > 20  # a blank (all white) page has std 0
    assert (pixels < 128).mean() > 0.01  # text and plot lines are drawn
    # the plots (colour lines) are visible: some strongly coloured pixels exist
    rgb = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    saturation = rgb.max(axis=2) - rgb.min(axis=2)
    assert (saturation > 100).sum() > 500
