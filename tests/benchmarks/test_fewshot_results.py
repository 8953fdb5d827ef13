"""benchmarks/fewshot.py keeps measurements in a --results file and reuses a row only while the settings it
was measured with still hold."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
fewshot = pytest.importorskip("fewshot")


@pytest.fixture
def data_dir(tmp_path, small_data):
    train, test = small_data
    folder = tmp_path / "data" / "sst2"
    folder.mkdir(parents=True)
    train.to_csv(folder / "train.csv", index=False)
    test.iloc[:40].to_csv(folder / "test.csv", index=False)
    return tmp_path / "data"


def run(data_dir: Path, results: Path, backbone: str) -> list[dict]:
    fewshot.main(["--data-dir", str(data_dir), "--datasets", "sst2", "--shots", "2", "--seeds", "2",
                  "--methods", "probe", "--zero-shot", "", "--banking77-seeds", "0", "--backbone", backbone,
                  "--results", str(results)])
    return [json.loads(line) for line in results.read_text().splitlines()]


def test_rows_are_reused_until_the_settings_change(data_dir, tmp_path, tiny_backbone, capsys):
    results = tmp_path / "rows.jsonl"
    first = run(data_dir, results, tiny_backbone)
    measured = [r for r in first if r["method"] == "probe"]
    assert [r["seed"] for r in measured] == [0, 1]
    assert measured[0]["settings"] == fewshot.settings_of("probe")

    second = run(data_dir, results, tiny_backbone)
    assert len([r for r in second if r["method"] == "probe"]) == 2, "same settings: nothing measured again"
    assert "2 measurements read" in capsys.readouterr().out

    # a row measured with other settings (e.g. before a default changed) is measured again, and the new row wins
    stale = dict(measured[1], settings={**measured[1]["settings"], "C": -1.0}, accuracy=-1.0)
    results.write_text(json.dumps(measured[0]) + "\n" + json.dumps(stale) + "\n")
    third = run(data_dir, results, tiny_backbone)
    probe_rows = [r for r in third if r["method"] == "probe"]
    assert [r["seed"] for r in probe_rows] == [0, 1, 1]
    assert probe_rows[-1]["accuracy"] >= 0 and probe_rows[-1]["settings"] == fewshot.settings_of("probe")
    assert fewshot.read_results(str(results), 0)["sst2|2|probe|1"]["accuracy"] >= 0
