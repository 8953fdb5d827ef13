"""`headstart label-next`: the rows to label, the rules they follow, and exit 2 with nothing written on bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from headstart import TextClassifier
from headstart.cli import main
from headstart.cli.label_next import HISTORY_FILE


@pytest.fixture(scope="module")
def files(tmp_path_factory, small_data, tiny_backbone):
    folder = tmp_path_factory.mktemp("label-next")
    train, test = small_data
    train.iloc[:40].to_csv(folder / "train.csv", index=False)
    pool = test[["text"]].copy()
    pool["label"] = ""
    pool.loc[pool.index[:3], "label"] = test.label.iloc[:3]  # three rows already labelled
    pool.to_csv(folder / "pool.csv", index=False)
    assert main(["fit", str(folder / "train.csv"), "--strategy", "probe", "--backbone", tiny_backbone,
                 "-o", str(folder / "m"), "--quiet", "--cv-folds", "0"]) == 0
    return folder


def _run(files, out, *extra):
    # the tiny random encoder maps every text close to every other: the near-duplicate rule is tested in
    # tests/unlabelled/test_query.py, and switched to exact copies only here
    return main(["label-next", str(files / "m"), str(files / "pool.csv"), "-n", "10", "-o", str(out),
                 "--duplicate-cosine", "1", *extra])


@pytest.mark.parametrize("query", ["margin", "entropy", "least-confident", "kcenter", "cluster-margin", "random"])
def test_writes_rows_ready_to_label(files, tmp_path, capsys, query):
    out = tmp_path / "to_label.csv"
    assert _run(files, out, "--query", query, "--labelled", str(files / "train.csv")) == 0
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns) == ["text", "label", "score", "guess", "pool_row", "query"]
    assert len(frame) == 10 and (frame.label == "").all() and (frame["query"] == query).all()
    pool = pd.read_csv(files / "pool.csv", keep_default_na=False)
    labelled = set(pool.text[pool.label != ""]) | set(pd.read_csv(files / "train.csv").text)
    assert not set(frame.text) & labelled
    assert (pool.text.iloc[frame.pool_row].tolist() == frame.text.tolist())  # pool_row points back at the row
    assert set(frame.guess) <= {"negative", "positive"} and frame.text.is_unique
    printed = capsys.readouterr().out
    assert "already carry a label" in printed and "never proposed" in printed
    history = [json.loads(line) for line in (tmp_path / HISTORY_FILE).read_text().splitlines()]
    assert history[-1]["query"] == query and history[-1]["proposed"] == 10 and history[-1]["labelled_rows"] == 40


def test_margin_rows_are_the_model_s_least_sure(files, tmp_path):
    out = tmp_path / "m.csv"
    assert _run(files, out) == 0
    frame = pd.read_csv(out)
    clf = TextClassifier.load(files / "m")
    pool = pd.read_csv(files / "pool.csv", keep_default_na=False)
    proba = clf.predict_proba(pool.text[pool.label == ""].tolist())
    gaps = np.sort(np.abs(proba[:, 0] - proba[:, 1]))
    assert np.allclose(sorted(1 - frame.score), gaps[:10], atol=1e-5)


def test_python_query_matches_the_cli_rows(files, tmp_path):
    clf = TextClassifier.load(files / "m")
    pool = pd.read_csv(files / "pool.csv", keep_default_na=False)
    texts = pool.text[pool.label == ""].tolist()
    indices, scores = clf.query(texts, 10, strategy="margin", labelled_texts=pool.text[pool.label != ""].tolist(),
                                duplicate_cosine=1.0)
    out = tmp_path / "q.csv"
    assert _run(files, out) == 0
    assert [texts[i] for i in indices] == pd.read_csv(out).text.tolist() and np.all(np.diff(scores) <= 1e-9)


def test_cold_start_needs_no_model(files, tmp_path, tiny_backbone):
    out = tmp_path / "cold.csv"
    assert main(["label-next", "--cold-start", str(files / "pool.csv"), "--backbone", tiny_backbone, "-n", "8",
                 "-o", str(out), "--duplicate-cosine", "1"]) == 0
    frame = pd.read_csv(out, keep_default_na=False)
    assert len(frame) == 8 and (frame["query"] == "kmeans").all() and (frame.guess == "").all()
    # each score is a cluster's share of the pool, written rounded to 6 decimals: each may be 5e-7 high
    assert frame.score.between(0, 1).all() and frame.score.sum() <= 1 + len(frame) * 5e-7 + 1e-12


def test_an_existing_output_is_kept_without_overwrite(files, tmp_path, capsys):
    out = tmp_path / "keep.csv"
    out.write_text("mine\n")
    assert _run(files, out) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_text() == "mine\n"
    assert not (tmp_path / HISTORY_FILE).exists()
    assert _run(files, out, "--overwrite") == 0 and len(pd.read_csv(out)) == 10


@pytest.mark.parametrize("args,message", [
    (["-n", "0"], "n >= 1"),
    (["-n", "1000"], "at most the 97 pool rows"),
    (["--query", "confusion"], "query strategy"),
    (["--text-col", "sentence"], "sentence"),
    (["-o", "{tmp}/x.json"], ".csv"),
])
def test_bad_input_exits_2_and_writes_nothing(files, tmp_path, capsys, args, message):
    out = tmp_path / "out.csv"
    args = [a.format(tmp=tmp_path) for a in args]
    assert main(["label-next", str(files / "m"), str(files / "pool.csv"), "-o", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_bad_pools_exit_2(files, tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    labelled = tmp_path / "all.csv"
    pd.DataFrame({"text": ["a", "b"], "label": ["positive", "negative"]}).to_csv(labelled, index=False)
    other = tmp_path / "other.csv"
    pd.DataFrame({"sentence": ["a"], "y": [""]}).to_csv(other, index=False)
    for pool in (empty, labelled, other):
        assert main(["label-next", str(files / "m"), str(pool), "-o", str(tmp_path / "o.csv")]) == 2
        assert "expected" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_argument_shapes_are_checked(files, tmp_path, capsys):
    out = str(tmp_path / "o.csv")
    assert main(["label-next", str(files / "pool.csv"), "-o", out]) == 2  # no model, no --cold-start
    assert main(["label-next", "--cold-start", str(files / "m"), str(files / "pool.csv"), "-o", out]) == 2
    assert main(["label-next", "--cold-start", str(files / "pool.csv"), "--query", "margin", "-o", out]) == 2
    err = capsys.readouterr().err
    assert "--cold-start" in err and "needs no model" in err


def test_a_model_of_another_kind_or_task_is_refused(files, tmp_path, capsys, tiny_backbone):
    fake = tmp_path / "gen"
    fake.mkdir()
    (fake / "headstart.json").write_text(json.dumps({"kind": "generation", "format_version": 1}))
    assert main(["label-next", str(fake), str(files / "pool.csv"), "-o", str(tmp_path / "o.csv")]) == 2
    assert "classifier" in capsys.readouterr().err
    reg = tmp_path / "reg.csv"
    pd.DataFrame({"text": [f"row {i} text" for i in range(30)], "label": np.arange(30) / 3}).to_csv(reg, index=False)
    assert main(["fit", str(reg), "--task", "regression", "--strategy", "probe", "--backbone", tiny_backbone,
                 "-o", str(tmp_path / "r"), "--quiet", "--cv-folds", "0"]) == 0
    assert main(["label-next", str(tmp_path / "r"), str(files / "pool.csv"), "-o", str(tmp_path / "o.csv")]) == 2
    assert "--query random or kmeans or kcenter" in capsys.readouterr().err and not (tmp_path / "o.csv").exists()
    # kcenter needs no class probabilities: a regression model can still say which rows are far from its data
    assert main(["label-next", str(tmp_path / "r"), str(files / "pool.csv"), "-n", "5", "--query", "kcenter",
                 "-o", str(tmp_path / "o.csv"), "--duplicate-cosine", "1"]) == 0
    assert len(pd.read_csv(tmp_path / "o.csv")) == 5
