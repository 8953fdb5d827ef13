"""`fit` and `evaluate` on rows that lack a class the model knows: macro-F1 over the classes present, and a
note naming the missing one, printed next to the table instead of a silent 0 inside the average."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from headstart.cli import main

WORDS = {"positive": ["good", "great", "lovely", "fine", "superb"], "negative": ["bad", "awful", "dull", "poor", "weak"],
         "neutral": ["blorp", "snark", "quib", "zent", "flom"]}


def _rows(labels, repeats):
    return [{"text": f"{w} {v} film", "label": label} for label in labels for w in WORDS[label]
            for v in WORDS[label][:repeats]]


@pytest.fixture(scope="module")
def three_classes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-metrics")
    pd.DataFrame(_rows(["positive", "negative", "neutral"], 5)).to_csv(folder / "train.csv", index=False)
    pd.DataFrame(_rows(["positive", "negative"], 3)).to_csv(folder / "two-classes.csv", index=False)
    out = folder / "m"
    assert main(["fit", str(folder / "train.csv"), "--strategy", "scratch-tfidf", "-o", str(out), "--quiet"]) == 0
    return folder


def test_fit_notes_a_class_missing_from_the_validation_file(three_classes, capsys):
    assert main(["fit", str(three_classes / "train.csv"), "--valid", str(three_classes / "two-classes.csv"),
                 "--strategy", "scratch-tfidf", "-o", str(three_classes / "m2"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    valid = json.loads((three_classes / "m2" / "headstart.json").read_text())["metrics"]["valid"]
    assert valid["accuracy"] == 1.0 and valid["macro_f1"] == 1.0  # was 0.6667: 'neutral' counted as 0
    assert valid["absent_classes"] == ["neutral"]
    assert "note: validation: macro averages over the 2 of 3 classes" in printed and "neutral" in printed
    assert "valid_absent_classes" not in printed and "valid_note" not in printed


def test_evaluate_notes_the_missing_class(three_classes, capsys):
    model, data = str(three_classes / "m"), str(three_classes / "two-classes.csv")
    assert main(["evaluate", model, data, "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["accuracy"] == 1.0 and metrics["macro_f1"] == 1.0 and metrics["absent_classes"] == ["neutral"]
    assert main(["evaluate", model, data]) == 0
    printed = capsys.readouterr().out
    headline = printed.split("note:")[0]
    assert "note: macro averages over the 2 of 3 classes present in these 30 rows" in printed
    assert "absent_classes" not in headline and "neutral" not in headline  # a note, not a headline column
