"""`headstart fit --unlabeled pool.csv --self-train`: what it records, and exit 2 with nothing written."""

from __future__ import annotations

import json

import pytest

from headstart.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory, small_data):
    folder = tmp_path_factory.mktemp("self-train-cli")
    train, _ = small_data
    labelled = train.groupby("label").head(8)
    labelled.to_csv(folder / "labelled.csv", index=False)
    pool = train.drop(labelled.index)[["text", "label"]].astype({"label": object})
    pool.loc[pool.index[5:], "label"] = None  # five rows keep their label: they are ignored, and said so
    pool.to_csv(folder / "pool.csv", index=False)
    pool[["text"]].rename(columns={"text": "sentence"}).to_csv(folder / "other_layout.csv", index=False)
    (folder / "empty.csv").write_text("text,label\n", encoding="utf-8")
    (folder / "numbers.csv").write_text("text,label\n" + "".join(f"row {i},{i}.5\n" for i in range(12)))
    return folder


def test_fit_self_trains_and_records_it(files, capsys):
    out = files / "m"
    assert main(["fit", str(files / "labelled.csv"), "--strategy", "scratch-tfidf", "--unlabeled",
                 str(files / "pool.csv"), "--self-train", "--rounds", "2", "-o", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "5 row(s) of" in printed and "ignored" in printed
    assert "self-training kept" in printed
    meta = json.loads((out / "headstart.json").read_text())
    record = meta["self_training"]
    assert record["pool_rows"] == 184 - 5 and 1 <= len(record["rounds"]) <= 2
    assert record["rounds"][0]["added_per_class"]


@pytest.mark.parametrize("extra, message", [
    (["--self-train"], "--unlabeled"),
    (["--unlabeled", "{d}/pool.csv"], "--self-train"),
    (["--unlabeled", "{d}/empty.csv", "--self-train"], "data row"),
    (["--unlabeled", "{d}/other_layout.csv", "--self-train"], "sentence"),
    (["--unlabeled", "{d}/pool.csv", "--self-train", "--rounds", "0"], "rounds"),
    (["--unlabeled", "{d}/pool.csv", "--self-train", "--rounds", "11"], "rounds"),
    (["--unlabeled", "{d}/pool.csv", "--self-train", "--self-train-method", "propagate"], "propagate"),
    (["--unlabeled", "{d}/pool.csv", "--self-train", "--self-train-method", "cluster"], "cluster"),
    (["--unlabeled", "{d}/pool.csv", "--self-train", "--self-train-method", "nope"], "self_train_method"),
    (["--unlabeled", "{d}/pool.csv", "--self-train", "--self-train-encoder"], "--self-train-encoder"),
    (["--self-train-encoder"], "self_train_encoder without it"),  # silently ignored before
    (["--self-train-method", "cluster", "--rounds", "2"], "self_train_method, self_train_rounds without it"),
])
def test_bad_self_training_input_exits_2_and_writes_nothing(files, extra, message, capsys):
    args = ["fit", str(files / "labelled.csv"), "--strategy", "scratch-tfidf", "-o", str(files / "x"), "--quiet",
            *[a.format(d=files) for a in extra]]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "expected" in err
    assert not (files / "x").exists()


def test_a_regression_task_is_refused(files, capsys):
    args = ["fit", str(files / "numbers.csv"), "--task", "regression", "--strategy", "scratch-tfidf",
            "--unlabeled", str(files / "pool.csv"), "--self-train", "-o", str(files / "x"), "--quiet"]
    assert main(args) == 2
    assert "single-label classification" in capsys.readouterr().err
    assert not (files / "x").exists()
