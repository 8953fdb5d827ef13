"""benchmarks/embedding_speed.py: it refuses to print a ratio unless every side did the same work, and it runs
end to end (tiny backbone, a few texts) appending one JSON row with its command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
bench = pytest.importorskip("embedding_speed")


class Args:
    max_length, batch_size = 16, 2


def _work(texts: list[str], width: int = 8) -> "bench.Work":
    work = bench.Work()
    for start in range(0, len(texts), 2):
        batch = texts[start:start + 2]
        work.record(batch, 16, np.zeros((len(batch), width)))
    return work


def test_equal_work_check_fails_when_a_side_does_more_or_other_work():
    texts = ["a", "b", "c", "d"]
    assert bench.check_equal_work({"x": _work(texts), "y": _work(texts)}, texts, Args)["x"]["texts"] == 4
    with pytest.raises(AssertionError, match="embedded 6 texts"):
        bench.check_equal_work({"x": _work(texts), "y": _work(texts + ["a", "b"])}, texts, Args)
    with pytest.raises(AssertionError, match="other texts"):
        bench.check_equal_work({"x": _work(texts), "y": _work(["a", "b", "c", "e"])}, texts, Args)
    with pytest.raises(AssertionError, match="padded token counts differ"):
        bench.check_equal_work({"x": _work(texts), "y": _work(texts, width=12)}, texts, Args)
    longer = bench.Work()
    longer.record(texts, 32, np.zeros((4, 8)))
    with pytest.raises(AssertionError, match="max length"):
        bench.check_equal_work({"x": _work(texts), "y": longer}, texts, Args)


@pytest.mark.slow  # half a minute: four sides x three repeats plus the probes
def test_runs_end_to_end_on_the_tiny_backbone(tiny_backbone, small_data, tmp_path):
    import torch

    threads = torch.get_num_threads()  # the script sets it; keep this process's setting unchanged
    train, test = small_data
    folder = tmp_path / "data" / "sst2"
    folder.mkdir(parents=True)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    out = tmp_path / "rows.jsonl"
    assert bench.main(["--data-dir", str(tmp_path / "data"), "--backbone", tiny_backbone, "--speed-texts", "40",
                       "--datasets", "sst2", "--train-rows", "60", "--test-rows", "30", "--max-length", "64",
                       "--threads", str(threads), "--output", str(out)]) == 0
    row = json.loads(out.read_text().splitlines()[-1])
    assert "embedding_speed.py" in row["command"] and row["texts"] == 40 and row["repeats"] == 3
    assert set(row["seconds"]) == {"sentence_transformers", "torch", "onnx", "onnx-int8"}
    assert all(s["min"] <= s["median"] <= s["max"] for s in row["seconds"].values())
    assert {w["texts"] for w in row["equal_work"].values()} == {40}
    assert set(row["probe_accuracy"]["sst2"]) >= {"torch", "onnx", "onnx-int8", "delta_points"}
    assert row["torch_threads"] == threads and "load_avg_start" in row and "machine_loaded" in row
