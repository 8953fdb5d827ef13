"""`headstart report`: one self-contained HTML file with its plots, a model card, and a real render
in headless Chromium (Debian's package; `scripts/ensure-chromium.sh` installs it for `make test`)."""

from __future__ import annotations

import base64
import io
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


def test_report_is_one_self_contained_file_with_every_section(report):
    from PIL import Image

    page = (report / "report.html").read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]+src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3  # learning curves, confusion matrix, calibration
    for data in images:
        assert Image.open(io.BytesIO(base64.b64decode(data))).size[0] > 100
    # nothing to fetch: no external scripts, styles, images or fonts
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<script" not in page and "@import" not in page
    for heading in ("Learning curves", "Strategies", "Paired comparison", "Transfer gain", "Forecast",
                    "Per-class scores", "Calibration", "Data", "Model card", "Recommendation"):
        assert heading in page
    card = (report / "model_card.md").read_text(encoding="utf-8")
    for section in ("## Intended use", "## Data", "## Metrics", "## Limitations"):
        assert section in card


def test_report_on_a_folder_without_results_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "results.json" in capsys.readouterr().err


def test_report_renders_in_headless_chromium(report, tmp_path):
    from PIL import Image

    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium is not installed and could not be (run scripts/ensure-chromium.sh as root)")
    shot = tmp_path / "shot.png"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,2000",
           (report / "report.html").as_uri()]
    subprocess.run(cmd, check=True, timeout=120, capture_output=True)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2000, 1200)
    assert pixels.std() > 20  # a blank (all white) page has std 0
    assert (pixels < 128).mean() > 0.01  # text and plot lines are drawn
    # the learning-curve plot (colour lines) is visible: some strongly coloured pixels exist
    rgb = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    saturation = rgb.max(axis=2) - rgb.min(axis=2)
    assert (saturation > 100).sum() > 500
