"""benchmarks/audit_runtime.py: both runtimes audit the same rows and embed the same texts before a ratio is
printed, and one JSON row with the command is appended."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
bench = pytest.importorskip("audit_runtime")


def test_an_unknown_runtime_or_a_missing_file_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        bench.main(["--runtimes", "torch,tensorrt", "--data-dir", str(tmp_path)])
    assert stop.value.code == 2 and "expected --runtimes from torch, onnx, onnx-int8" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--data-dir", str(tmp_path)])
    assert "sst2/train.csv (text,label)" in capsys.readouterr().err


@pytest.mark.slow  # two cold audits in fresh processes, plus one ONNX export and quantisation
def test_runs_end_to_end_on_the_tiny_backbone(tiny_backbone, small_data, tmp_path, capsys):
    folder = tmp_path / "data" / "sst2"
    folder.mkdir(parents=True)
    small_data[0].to_csv(folder / "train.csv", index=False)
    results = tmp_path / "results"
    assert bench.main(["--data-dir", str(tmp_path / "data"), "--backbone", tiny_backbone, "--rows", "80",
                       "--runtimes", "torch,onnx-int8", "--repeats", "1", "--results-dir", str(results)]) == 0
    row = json.loads((results / "audit-runtime.jsonl").read_text().splitlines()[-1])
    assert "audit_runtime.py" in row["command"] and set(row["sides"]) == {"torch", "onnx-int8"}
    assert row["work"]["rows"] == 80 and row["work"]["texts_embedded"] >= 80
    assert "label_errors" in row["work"]["checks"] and "onnx-int8/torch" in row["ratios"]
    assert "of torch's time" in capsys.readouterr().out
