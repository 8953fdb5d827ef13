"""`headstart fit/evaluate/predict --task translate` through the CLI entry point, with a tiny decoder."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from headstart.cli import main


@pytest.fixture(scope="module")
def fitted(pair_files, tiny_decoder):
    out = pair_files / "gen-model"
    code = main(["fit", str(pair_files / "train.jsonl"), "--task", "translate", "--source-col", "source",
                 "--target-col", "target", "--strategy", "lora", "--backbone", tiny_decoder, "--epochs", "1",
                 "--batch-size", "8", "--max-new-tokens", "5", "--device", "cpu", "-o", str(out), "--quiet"])
    assert code == 0
    return out


def test_fit_saves_a_generation_model(fitted, capsys):
    meta = json.loads((fitted / "headstart.json").read_text())
    assert meta["task"] == "translate" and meta["strategy"] == "lora" and meta["architecture"] == "decoder"
    assert meta["data"]["n_train"] + meta["data"]["n_valid"] == 24


def test_evaluate_prints_metrics_and_writes_samples(fitted, pair_files, capsys):
    assert main(["evaluate", str(fitted), str(pair_files / "test.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "bleu" in out and "chrf" in out and "tokens_per_second" in out
    assert main(["evaluate", str(fitted), str(pair_files / "test.jsonl"), "--json", "--num-beams", "2"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0.0 <= metrics["bleu"] <= 100.0 and metrics["n"] == 6
    samples = [json.loads(line) for line in open(metrics["samples_file"])]
    assert len(samples) == 6 and {"source", "reference", "output"} == set(samples[0])
    assert samples[0]["reference"] == "ein guter film"


def test_predict_writes_jsonl(fitted, pair_files):
    out = pair_files / "pred.jsonl"
    assert main(["predict", str(fitted), str(pair_files / "test.jsonl"), "-o", str(out), "--quiet"]) == 0
    frame = pd.read_json(out, lines=True)
    assert len(frame) == 6 and {"source", "target", "prediction"} <= set(frame.columns)


def test_bad_generation_input_exits_2(pair_files, tiny_decoder, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"source": "a", "target": ""}\n{"source": "b", "target": "x"}\n')
    assert main(["fit", str(bad), "--task", "translate", "--backbone", tiny_decoder, "-o", str(tmp_path / "m")]) == 2
    assert "non-empty target" in capsys.readouterr().err and not (tmp_path / "m").exists()
    assert main(["fit", str(pair_files / "train.jsonl"), "--task", "summarize", "--backbone", tiny_decoder,
                 "-o", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "document" in err and "--source-col" in err


def test_a_translate_model_asked_to_summarize_exits_2(fitted, pair_files, tmp_path, capsys):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"document": "a long text here", "summary": "short"}\n' * 4)
    assert main(["evaluate", str(fitted), str(docs), "--task", "summarize"]) == 2
    err = capsys.readouterr().err
    assert "--task translate (what" in err and "got --task summarize" in err and "headstart fit" in err
    out = tmp_path / "p.jsonl"
    assert main(["predict", str(fitted), str(docs), "-o", str(out), "--task", "summarize"]) == 2
    assert "got --task summarize" in capsys.readouterr().err and not out.exists()
    assert main(["evaluate", str(fitted), str(pair_files / "test.jsonl"), "--task", "translate", "--json"]) == 0


def test_a_fitted_folder_as_backbone_is_explained_before_anything_runs(fitted, tmp_path, capsys):
    """It used to say "a Hugging Face model folder with config.json" (compare: from inside its first cell)."""
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"document": "a long text here", "summary": "short"}\n' * 6)
    assert main(["fit", str(docs), "--task", "summarize", "--backbone", str(fitted), "-o", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "a translate lora model folder written by `headstart fit`" in err and "evaluate" in err
    assert not (tmp_path / "m").exists()
    assert main(["compare", str(docs), "--test", str(docs), "--task", "summarize", "--backbone", str(fitted),
                 "--sizes", "4", "-o", str(tmp_path / "c")]) == 2
    captured = capsys.readouterr()
    assert "written by `headstart fit`" in captured.err and "running" not in captured.out
    assert not (tmp_path / "c" / "cells.jsonl").exists()


def test_generation_help_offers_only_options_that_act(capsys):
    """Classification-only training options (class weights, min steps, layer-wise decay) are not offered."""
    with pytest.raises(SystemExit):
        main(["fit", "--task", "translate", "--help"])
    out = capsys.readouterr().out
    assert "--lora-r" in out and "--max-new-tokens" in out and "--patience" in out
    assert "--class-weight" not in out and "--min-steps" not in out and "--lr-decay" not in out
