"""`headstart predict --resume`: rows already written are kept and skipped, the rest appended."""

from __future__ import annotations

import pandas as pd
import pytest

from headstart.classifier import TextClassifier
from headstart.cli import main


@pytest.fixture(scope="module")
def setup(tmp_path_factory, small_data):
    folder = tmp_path_factory.mktemp("resume")
    train, test = small_data
    train.to_csv(folder / "train.csv", index=False)
    texts = pd.concat([test, test.assign(text=test.text + " again")])[["text"]]
    texts.loc[texts.index[5], "text"] = 'a text with "quotes",\na newline and, commas'
    texts.to_csv(folder / "new.csv", index=False)
    assert main(["fit", str(folder / "train.csv"), "--strategy", "scratch-tfidf", "-o", str(folder / "m"),
                 "--quiet"]) == 0
    assert main(["predict", str(folder / "m"), str(folder / "new.csv"), "-o", str(folder / "ref.csv"),
                 "--quiet"]) == 0
    assert main(["predict", str(folder / "m"), str(folder / "new.csv"), "-o", str(folder / "ref.jsonl"),
                 "--quiet"]) == 0
    return folder


@pytest.fixture
def counted(monkeypatch):
    seen: list[int] = []
    original = TextClassifier.decision_scores

    def counting(self, texts):
        seen.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(TextClassifier, "decision_scores", counting)
    return seen


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_resume_appends_only_missing_rows(setup, tmp_path, counted, suffix):
    ref = (setup / f"ref{suffix}").read_text(encoding="utf-8")
    lines = ref.splitlines(keepends=True)
    keep = 38 if suffix == ".csv" else 37
    complete = 36 if suffix == ".csv" else 37  # csv: a header line and a quoted two-line record among them
    out = tmp_path / f"p{suffix}"
    partial = tmp_path / f".p{suffix}.partial"
    partial.write_text("".join(lines[:keep]) + lines[keep][:10], encoding="utf-8")  # killed mid-record
    assert main(["predict", str(setup / "m"), str(setup / "new.csv"), "-o", str(out), "--resume", "--quiet",
                 "--chunk-size", "16"]) == 0
    assert out.read_text(encoding="utf-8") == ref and not partial.exists()
    assert sum(counted) == 200 - complete  # complete records were not predicted again


def test_resume_of_a_finished_file_changes_nothing(setup, tmp_path, counted):
    out = tmp_path / "done.csv"
    out.write_text((setup / "ref.csv").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["predict", str(setup / "m"), str(setup / "new.csv"), "-o", str(out), "--resume", "--quiet"]) == 0
    assert out.read_text(encoding="utf-8") == (setup / "ref.csv").read_text(encoding="utf-8")
    assert sum(counted) == 0


def test_resume_with_a_shorter_input_is_an_error(setup, tmp_path, capsys):
    out = tmp_path / "p.csv"
    out.write_text((setup / "ref.csv").read_text(encoding="utf-8"), encoding="utf-8")
    short = tmp_path / "short.csv"
    pd.read_csv(setup / "new.csv").iloc[:50].to_csv(short, index=False)
    assert main(["predict", str(setup / "m"), str(short), "-o", str(out), "--resume", "--quiet"]) == 2
    assert "at least the 200 rows" in capsys.readouterr().err


def test_without_resume_a_stale_partial_is_replaced(setup, tmp_path):
    out = tmp_path / "p.csv"
    (tmp_path / ".p.csv.partial").write_text("garbage\n", encoding="utf-8")
    assert main(["predict", str(setup / "m"), str(setup / "new.csv"), "-o", str(out), "--quiet"]) == 0
    assert out.read_text(encoding="utf-8") == (setup / "ref.csv").read_text(encoding="utf-8")
