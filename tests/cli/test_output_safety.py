"""Every command that writes a folder: nothing the user had is lost, and a bad -o fails before any work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from headstart.cli import main

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def data(tmp_path, small_data):
    train, test = small_data
    train.to_csv(tmp_path / "small.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    return tmp_path


@pytest.fixture
def no_training(monkeypatch):
    """Any training now fails the test: the refusals below must come before it."""
    from headstart.classifier import TextClassifier

    def refuse(*args, **kwargs):
        raise AssertionError("training started before the output folder was checked")

    monkeypatch.setattr(TextClassifier, "fit", refuse)


def _fit(data: Path, out, *extra: str) -> int:
    return main(["fit", str(data / "small.csv"), "--strategy", "scratch-tfidf", "-o", str(out), "--quiet", *extra])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_fit_into_a_folder_of_user_files_is_refused_before_training(data, no_training, capsys):
    # the reported case: `fit d/small.csv -o d` used to leave only model files in d
    folder = data / "d"
    folder.mkdir()
    (folder / "small.csv").write_bytes((data / "small.csv").read_bytes())
    (folder / "notes.txt").write_text("x\n")
    before = _snapshot(folder)
    assert main(["fit", str(folder / "small.csv"), "-o", str(folder), "--strategy", "scratch-tfidf"]) == 2
    err = capsys.readouterr().err
    assert "did not write" in err and "notes.txt" in err and "Traceback" not in err
    assert _snapshot(folder) == before and sorted(os.listdir(data)) == ["d", "small.csv", "test.csv"]


def test_fit_replaces_an_existing_model_only_with_overwrite(data, capsys):
    out = data / "m"
    assert _fit(data, out) == 0
    first = _snapshot(out)
    assert _fit(data, out, "--seed", "1") == 2
    assert "--overwrite" in capsys.readouterr().err and _snapshot(out) == first
    assert _fit(data, out, "--seed", "1", "--overwrite") == 0
    assert json.loads((out / "headstart.json").read_text())["seed"] == 1
    assert sorted(os.listdir(data)) == ["m", "small.csv", "test.csv"]  # no .m.old-* or .m.tmp-* left


def test_fit_onto_a_file_is_refused_and_leaves_nothing(data, no_training, capsys):
    target = data / "model.bin"
    target.write_bytes(b"precious")
    for extra in ((), ("--overwrite",)):
        assert _fit(data, target, *extra) == 2
        assert "existing file" in capsys.readouterr().err
    assert target.read_bytes() == b"precious"
    assert sorted(os.listdir(data)) == ["model.bin", "small.csv", "test.csv"]


@pytest.mark.parametrize("output,message", [("", "empty string"), ("{d}/small.csv/model", "which is a file")])
def test_unusable_output_fails_before_training(data, no_training, capsys, output, message):
    assert _fit(data, output.format(d=data)) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err and "fitting" not in captured.out


def test_read_only_parent_fails_before_training(data, no_training, capsys, monkeypatch):
    # as root (these tests' user) a chmod 0500 folder stays writable, so the permission answer is faked
    locked = data / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real(p, mode))
    assert _fit(data, locked / "model") == 2
    assert "no write permission on" in capsys.readouterr().err


def _foreign(folder: Path) -> Path:
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    return folder


@pytest.mark.parametrize("argv", [
    ["compare", "{d}/small.csv", "--test", "{d}/test.csv", "--strategies", "scratch-tfidf", "--sizes", "8",
     "--seeds", "1", "-o", "{out}"],
    ["audit", "{d}/small.csv", "--no-label-errors", "--quiet", "-o", "{out}"],
    ["export", "{d}/no-model", "--onnx", "-o", "{out}"],
    ["pretrain", "{d}/corpus.txt", "-o", "{out}"],
    ["demo", "--strategies", "scratch-tfidf", "-o", "{d}"],
    ["bias", "{d}/no-model", "{d}/test.csv", "-o", "{out}"],
    ["lr-find", "{d}/small.csv", "-o", "{out}"],
])
def test_every_folder_writing_command_refuses_a_folder_of_user_files(argv, data, no_training, capsys):
    # demo writes OUTPUT/STRATEGY: there the strategy's folder is the one at risk
    folder = _foreign(data / "scratch-tfidf" if argv[0] == "demo" else data / "mine")
    assert main([a.format(d=data, out=folder) for a in argv]) == 2
    assert "did not write" in capsys.readouterr().err
    assert os.listdir(folder) == ["notes.txt"] and (folder / "notes.txt").read_text() == "keep me"


def test_compare_resumes_its_own_folder_and_overwrite_starts_afresh(data, capsys):
    argv = ["compare", str(data / "small.csv"), "--test", str(data / "test.csv"), "--strategies", "scratch-tfidf",
            "--sizes", "8", "--seeds", "1", "--no-final", "-o", str(data / "c")]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 0
    assert "1 already finished, 0 to run" in capsys.readouterr().out
    (data / "c" / "my-notes.txt").write_text("kept")
    assert main([*argv, "--overwrite"]) == 0
    assert "0 already finished, 1 to run" in capsys.readouterr().out
    assert (data / "c" / "my-notes.txt").read_text() == "kept"  # --overwrite removes only what compare wrote


def test_audit_rewrites_its_folder_only_with_overwrite(data, capsys):
    argv = ["audit", str(data / "small.csv"), "--no-label-errors", "--quiet", "-o", str(data / "a")]
    assert main(argv) == 0
    assert main(argv) == 2 and "--overwrite" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0


def test_evaluate_into_a_closed_pipe_exits_quietly(data):
    assert _fit(data, data / "m") == 0
    env = {**os.environ, "PYTHONPATH": SRC, "HF_HUB_OFFLINE": "1"}
    # `headstart evaluate ... | head -c0`: the reader is gone before the table is printed
    child = subprocess.Popen([sys.executable, "-m", "headstart", "evaluate", str(data / "m"), str(data / "test.csv")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait() == 141 and "Traceback" not in err and "BrokenPipe" not in err


def test_broken_pipe_in_process_returns_141(data, monkeypatch):
    assert _fit(data, data / "m") == 0

    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["evaluate", str(data / "m"), str(data / "test.csv")]) == 141


def test_unseen_label_error_names_the_file(data, capsys):
    assert _fit(data, data / "m") == 0
    (data / "unseen.csv").write_text("text,label\ngreat,neutral\n")
    assert main(["evaluate", str(data / "m"), str(data / "unseen.csv")]) == 2
    err = capsys.readouterr().err
    assert f"unseen label(s) neutral in {data / 'unseen.csv'}" in err and "<memory>" not in err
