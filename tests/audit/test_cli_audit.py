"""`headstart audit` and `headstart bias` through headstart.cli.main, including exit code 2 for bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from headstart.cli import main

from .test_bias import toy_rows


def test_audit_command_writes_json_and_fix(planted, tiny_backbone, tmp_path, capsys):
    train, test, plan = planted
    before = train.read_bytes()
    out = tmp_path / "audit"
    code = main(["audit", str(train), "--test", str(test), "--backbone", tiny_backbone, "-o", str(out), "--fix",
                 "--near-threshold", "0.9999", "--folds", "3", "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "duplicates with conflicting labels" in printed and "suggested action" in printed
    audit = json.loads((out / "audit.json").read_text())
    checks = {c["name"]: c for c in audit["checks"]}
    assert checks["leakage"]["count"] == 2 and checks["conflicting_labels"]["count"] == 2
    assert checks["label_errors"]["severity"] != "skipped" and checks["label_errors"]["folds"] == 3
    assert audit["fix"]["rows_out"] == audit["data"]["rows"] - audit["fix"]["dropped"]
    changes = pd.read_csv(out / "changes.csv", keep_default_na=False)
    assert set(plan["leaked_train"]) <= set(changes.row) and set(changes.action) <= {"drop", "relabel"}
    assert train.read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


@pytest.mark.parametrize("argv_tail,message", [
    (["missing.csv"], "no file at"),
    (["train.csv", "--label-col", "nope"], "column"),
    (["train.csv", "--near-threshold", "1.5"], "near-threshold"),
    (["train.csv", "--test", "missing_test.csv"], "no file at"),
])
def test_audit_bad_input_exits_2(planted, tmp_path, capsys, argv_tail, message, monkeypatch):
    train, _, _ = planted
    monkeypatch.chdir(train.parent)
    code = main(["audit", *argv_tail, "-o", str(tmp_path / "a"), "--quiet", "--no-label-errors"])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "a" / "audit.json").exists()


@pytest.fixture(scope="module")
def biased_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bias")
    pd.DataFrame(toy_rows(400, biased=True)).to_csv(folder / "train.csv", index=False)
    pd.DataFrame(toy_rows(120, biased=False, seed=1)).to_csv(folder / "test.csv", index=False)
    assert main(["fit", str(folder / "train.csv"), "--strategy", "scratch-tfidf", "-o", str(folder / "m"), "--quiet"]) == 0
    return folder


def test_bias_command_flags_biased_model(biased_model, tmp_path, capsys):
    out = tmp_path / "bias"
    assert main(["bias", str(biased_model / "m"), str(biased_model / "test.csv"), "-o", str(out)]) == 0
    assert "FLAGGED" in capsys.readouterr().out
    report = json.loads((out / "bias.json").read_text())
    assert report["verdict"]["flagged"] and report["positive_label"] == "toxic"
    assert (out / "bias.md").read_text().startswith("## Bias")


def test_bias_command_with_group_column_and_terms(biased_model, tmp_path):
    frame = pd.read_csv(biased_model / "test.csv")
    frame["religion"] = ["m" if "muslim" in t else "c" for t in frame.text]
    frame.to_csv(tmp_path / "grouped.csv", index=False)
    terms = tmp_path / "terms.json"
    terms.write_text('{"categories": {"mood": {"kind": ["kind"], "rude": ["rude"]}}}')
    assert main(["bias", str(biased_model / "m"), str(tmp_path / "grouped.csv"), "--groups", "religion",
                 "--terms", str(terms), "--positive-label", "non-toxic", "-o", str(tmp_path / "b")]) == 0
    report = json.loads((tmp_path / "b" / "bias.json").read_text())
    assert set(report["slices"]["groups"]) == {"m", "c"} and report["positive_label"] == "non-toxic"
    assert "mood" in report["counterfactual"]["by_category"]


@pytest.mark.parametrize("extra,message", [(["--positive-label", "maybe"], "positive-label"),
                                           (["--groups", "nope"], "column"),
                                           (["--terms", "missing.json"], "term list")])
def test_bias_bad_input_exits_2(biased_model, tmp_path, capsys, extra, message):
    code = main(["bias", str(biased_model / "m"), str(biased_model / "test.csv"), "-o", str(tmp_path / "b"), *extra])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_bias_missing_model_exits_2(tmp_path, capsys, biased_model):
    assert main(["bias", str(tmp_path / "nomodel"), str(biased_model / "test.csv")]) == 2
    assert "headstart.json" in capsys.readouterr().err
