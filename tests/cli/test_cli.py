"""The CLI through its entry point: every command, and exit code 2 with a clear message for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from headstart.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory, small_data):
    folder = tmp_path_factory.mktemp("cli")
    train, test = small_data
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    test[["text"]].to_csv(folder / "new.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def model(files):
    out = files / "m"
    assert main(["fit", str(files / "train.csv"), "--strategy", "scratch-tfidf", "-o", str(out), "--quiet"]) == 0
    return out


def test_fit_writes_a_loadable_model(model):
    meta = json.loads((model / "headstart.json").read_text())
    assert meta["strategy"] == "scratch-tfidf"


def test_evaluate_prints_table_and_json(model, files, capsys):
    assert main(["evaluate", str(model), str(files / "test.csv")]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "confusion matrix" in out and "per class" in out
    assert main(["evaluate", str(model), str(files / "test.csv"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0.5 < metrics["accuracy"] <= 1.0


def test_a_task_other_than_the_models_is_refused_not_ignored(model, files, capsys):
    """`--task` on evaluate/predict was read as a data option and silently replaced by the model's task."""
    assert main(["evaluate", str(model), str(files / "test.csv"), "--task", "regression"]) == 2
    err = capsys.readouterr().err
    assert "--task classification (what" in err and "got --task regression" in err
    out = files / "refused.csv"
    assert main(["predict", str(model), str(files / "new.csv"), "-o", str(out), "--task", "multilabel"]) == 2
    assert "got --task multilabel" in capsys.readouterr().err and not out.exists()
    assert main(["evaluate", str(model), str(files / "test.csv"), "--task", "classification", "--json"]) == 0


def test_predict_streams_to_csv(model, files):
    out = files / "pred.csv"
    assert main(["predict", str(model), str(files / "new.csv"), "-o", str(out), "--chunk-size", "7", "--quiet"]) == 0
    frame = pd.read_csv(out)
    assert len(frame) == 100 and {"text", "prediction", "prob_negative", "prob_positive"} <= set(frame.columns)
    assert ((frame.prob_negative + frame.prob_positive - 1).abs() < 1e-4).all()


def test_fit_with_tiny_backbone_and_strategy_options(files, tiny_backbone, tmp_path):
    out = tmp_path / "ft"
    code = main(["fit", str(files / "train.csv"), "--strategy", "finetune", "--backbone", tiny_backbone,
                 "--epochs", "1", "--max-length", "32", "--lr", "1e-3", "-o", str(out), "--quiet"])
    assert code == 0
    meta = json.loads((out / "headstart.json").read_text())
    assert meta["config"]["epochs"] == 1 and meta["config"]["lr"] == 1e-3
    from transformers import AutoModelForSequenceClassification

    assert AutoModelForSequenceClassification.from_pretrained(out).config.id2label[0] == "negative"


def test_config_file(files, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"strategy": "scratch-tfidf", "options": {"C": 2.0}}))
    assert main(["fit", str(files / "train.csv"), "--config", str(cfg), "-o", str(tmp_path / "m"), "--quiet"]) == 0
    assert json.loads((tmp_path / "m" / "headstart.json").read_text())["config"]["C"] == 2.0


@pytest.mark.parametrize("argv,message", [
    (["fit", "{d}/missing.csv", "-o", "{d}/x"], "no file at"),
    (["fit", "{d}/train.csv", "--text-col", "body", "-o", "{d}/x"], "column"),
    (["fit", "{d}/train.csv", "--strategy", "nope", "-o", "{d}/x"], "strategy among"),
    (["fit", "{d}/train.csv", "--backbone", "no-such-model", "--strategy", "probe", "-o", "{d}/x"], "headstart models"),
    (["fit", "{d}/one_class.csv", "-o", "{d}/x"], "two classes"),
    (["fit", "{d}/empty_text.csv", "--strategy", "scratch-tfidf", "-o", "{d}/x"], "non-empty texts"),
    (["fit", "{d}/latin1.csv", "-o", "{d}/x"], "UTF-8"),
    (["evaluate", "{d}/m", "{d}/unseen.csv"], "unseen label"),
    (["evaluate", "{d}/no_model", "{d}/test.csv"], "headstart.json"),
    (["predict", "{d}/m", "{d}/test.csv", "--text-col", "body", "-o", "{d}/p.csv"], "column"),
])
def test_bad_input_exits_2_and_writes_nothing(argv, message, files, model, capsys):
    (files / "one_class.csv").write_text("text,label\na,x\nb,x\n")
    (files / "empty_text.csv").write_text('text,label\na,x\n"",y\nc,y\n')
    (files / "latin1.csv").write_bytes("text,label\ncaf\u00e9,x\n".encode("latin-1"))
    (files / "unseen.csv").write_text("text,label\ngreat,neutral\n")
    args = [a.format(d=files) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "expected" in err
    assert not (files / "x").exists() and not (files / "p.csv").exists()


def test_empty_text_can_be_dropped(files, tmp_path):
    (files / "empty2.csv").write_text('text,label\ngood film,x\n"",y\nbad film,y\nnice one,x\n')
    assert main(["fit", str(files / "empty2.csv"), "--strategy", "scratch-tfidf", "--drop-empty",
                 "-o", str(tmp_path / "m"), "--quiet"]) == 0


def test_help_lists_strategy_options():
    result = subprocess.run([sys.executable, "-m", "headstart", "fit", "--strategy", "finetune", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--warmup-ratio" in result.stdout and "options of --strategy finetune" in result.stdout


def test_models_lists_the_default(capsys):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(r["name"] == "all-MiniLM-L6-v2" and r["installed"] for r in rows)


def _commands():
    from headstart.cli import _commands as found

    return [c[0] for c in found()]


@pytest.mark.parametrize("command", _commands())
def test_every_command_renders_its_help(command, capsys):
    """argparse %-formats help texts: a bare '%' in a field's help (e.g. '6% of steps') used to crash --help."""
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: headstart" in capsys.readouterr().out


def test_fit_help_renders_for_every_strategy_and_task(capsys):
    from headstart.strategies import strategy_names

    for argv in [["--strategy", name] for name in strategy_names()] + [["--task", "translate"], ["--task", "summarize"]]:
        with pytest.raises(SystemExit) as exit_info:
            main(["fit", *argv, "--help"])
        assert exit_info.value.code == 0, argv
    capsys.readouterr()
