"""benchmarks/probe_regularisation.py runs on a small data folder and appends one row with every C's scores."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytestmark = pytest.mark.real_model


def test_one_row_per_run_with_every_size_and_c(tmp_path, monkeypatch):
    import probe_regularisation as bench

    labels = ["card", "cash", "loan", "fees"]
    rows = [{"text": f"{word} question number {i}", "label": word} for word in labels for i in range(8)]
    for name in ("banking77", "sst2"):
        (tmp_path / name).mkdir()
        pd.DataFrame(rows).to_csv(tmp_path / name / "train.csv", index=False)
        pd.DataFrame(rows[::3]).to_csv(tmp_path / name / "test.csv", index=False)
    results = tmp_path / "rows.jsonl"
    monkeypatch.setattr(bench, "RESULTS", results)
    assert bench.main(["--data-dir", str(tmp_path), "--datasets", "sst2,banking77", "--Cs", "1,10"]) == 0
    row = json.loads(results.read_text())
    assert set(row["results"]) == {"sst2", "banking77"}
    assert set(row["results"]["sst2"]) == {"all 32", "sample 32"}
    few = row["results"]["banking77"]["2 per class + 4 random rows"]  # one random row per class
    assert set(few) == {"C=1", "C=10", "C=1 balanced"}
    assert all(0 <= s["accuracy"] <= 1 for s in few.values())
