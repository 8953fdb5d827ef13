"""Reading every supported format, and a clear DataError for every kind of bad file."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from headstart import DataError, read_examples
from headstart.data import check_trainable

ROWS = [{"text": "good film", "label": "pos"}, {"text": "bad film", "label": "neg"}, {"text": "fine", "label": "pos"}]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_every_format_reads_the_same(tmp_path, suffix):
    path = tmp_path / f"d{suffix}"
    frame = pd.DataFrame(ROWS)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in ROWS))
    else:
        frame.to_parquet(path)
    examples = read_examples(path)
    assert examples.texts == ["good film", "bad film", "fine"] and examples.labels == ["pos", "neg", "pos"]


def test_column_choice_and_numeric_labels(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame({"body": ["a", "b"], "y": [0, 1]}).to_csv(path, index=False)
    examples = read_examples(path, text_col="body", label_col="y")
    assert examples.labels == ["0", "1"] and examples.task == "classification"
    reg = read_examples(path, text_col="body", label_col="y", task="regression")
    assert reg.labels == [0.0, 1.0] and reg.task == "regression"


def test_multilabel_split(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame({"text": ["a", "b"], "label": ["x|y", "y"]}).to_csv(path, index=False)
    examples = read_examples(path, task="multilabel")
    assert examples.labels == [["x", "y"], ["y"]] and examples.classes() == ["x", "y"]


def write(path, content: bytes):
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("name,content,message", [
    ("empty.csv", b"", "empty file"),
    ("header.csv", b"text,label\n", "only a header"),
    ("latin1.csv", "text,label\ncaf\u00e9,x\n".encode("latin-1"), "not UTF-8"),
    ("cols.csv", b"body,label\na,x\n", "column"),
    ("nolabel.csv", b"text,label\na,x\nb,\n", "without one"),
    ("bad.jsonl", b'{"text": "a", "label": "x"}\n{oops\n', "line 2"),
    ("data.xlsx", b"PK", ".csv, .tsv"),
])
def test_bad_files(tmp_path, name, content, message):
    with pytest.raises(DataError, match=message) as info:
        read_examples(write(tmp_path / name, content))
    assert "expected" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no file at"):
        read_examples(tmp_path / "missing.csv")


def test_single_class_is_refused(tmp_path):
    examples = read_examples(write(tmp_path / "d.csv", b"text,label\na,x\nb,x\n"))
    with pytest.raises(DataError, match="two classes"):
        check_trainable(examples)
