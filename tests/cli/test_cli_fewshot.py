"""CLI: zero-shot from label names only, and --augment writing the generated rows."""

from __future__ import annotations

import json

import pandas as pd

from headstart.cli import main


def test_zero_shot_fit_without_data(tiny_backbone, tmp_path, capsys):
    out = tmp_path / "zs"
    assert main(["fit", "--strategy", "zero-shot", "--labels", "positive,negative", "--backbone", tiny_backbone,
                 "-o", str(out), "--quiet"]) == 0
    meta = json.loads((out / "headstart.json").read_text())
    assert meta["classes"] == ["negative", "positive"] and meta["config"]["variant"] == "embedding"
    assert "variant 'embedding'" in capsys.readouterr().out


def test_fit_without_data_needs_a_zero_shot_strategy(tmp_path):
    assert main(["fit", "--strategy", "prototype", "-o", str(tmp_path / "m"), "--quiet"]) == 2


def test_augment_flag_writes_rows(tiny_backbone, tmp_path):
    rows = [{"text": t, "label": "pos"} for t in ["good great fine film", "great fine good movie"]]
    rows += [{"text": t, "label": "neg"} for t in ["bad awful poor film", "awful poor bad movie", "poor bad show"]]
    pd.DataFrame(rows).to_csv(tmp_path / "train.csv", index=False)
    out, generated = tmp_path / "m", tmp_path / "generated.csv"
    assert main(["fit", str(tmp_path / "train.csv"), "--strategy", "prototype", "--backbone", tiny_backbone,
                 "--augment", "2", "--augment-lm", "none", "--augment-output", str(generated), "-o", str(out),
                 "--quiet"]) == 0
    written = pd.read_csv(generated)
    assert set(written.label) == {"pos"} and len(written) <= 2
    assert pd.read_csv(out / "augmented.csv").equals(written)
