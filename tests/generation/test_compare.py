"""`compare` over pairs (generation.compare): sizes in pairs, zero-shot once, larger from-scratch sizes, resumable
cells with outputs, bootstrap intervals, transfer gain in pairs, the report and bad input; with a tiny decoder."""

from __future__ import annotations

import json

import pytest

from headstart.cli import main
from headstart.evaluation.compare import CompareSpec, read_cells
from headstart.evaluation.curves import transfer_gain
from headstart.generation import compare as gen_compare
from headstart.generation.data import Pairs, read_pairs
from headstart.generation.metrics import paired_bootstrap
from headstart.grid import run_comparison

from .conftest import FAST

OPTIONS = {"*": {**FAST, "epochs": 1, "scratch_dim": 16, "scratch_layers": 1}}


def _spec(tiny_decoder: str, **kw) -> CompareSpec:
    base = dict(strategies=["lora", "zero-shot", "scratch"], sizes=["8", "16"], baseline_sizes=["8", "24"], seeds=2,
                backbone=tiny_decoder, options=OPTIONS, task="translate")
    return CompareSpec(**{**base, **kw})


@pytest.fixture(scope="module")
def grid(pair_files, tiny_decoder, tmp_path_factory):
    out = tmp_path_factory.mktemp("gen-grid")
    train, test = read_pairs(pair_files / "train.jsonl"), read_pairs(pair_files / "test.jsonl")
    logs: list[str] = []
    results = run_comparison(train, test, _spec(tiny_decoder), out, log=logs.append)
    return out, train, test, results, logs


def test_cells_follow_sizes_in_pairs_and_run_zero_shot_once(grid):
    _, train, _, results, _ = grid
    cells = {(c["strategy"], c["size"], c["seed"]): c for c in results["cells"]}
    assert set(cells) == ({("lora", s, k) for s in ("8", "16") for k in (0, 1)} | {("zero-shot", "0", 0)}
                          | {("scratch", s, k) for s in ("8", "24") for k in (0, 1)})
    assert cells[("lora", "16", 1)]["n_train"] == 16 and cells[("scratch", "24", 0)]["n_train"] == 24
    assert cells[("zero-shot", "0", 0)]["n_train"] == 0 and cells[("zero-shot", "0", 0)]["steps"] == 0
    lora = cells[("lora", "16", 0)]
    assert lora["steps"] == 4 and lora["train_tokens"] > 0 and lora["train_tokens_per_second"] > 0
    assert {"bleu", "chrf", "rouge1", "rouge2", "rougeL"} <= set(lora["metrics"])
    assert lora["score"] == lora["metrics"]["bleu"]
    assert results["metric"] == "bleu" and results["unit"] == "pairs" and results["baselines"] == ["scratch"]
    assert set(results["other_metrics"]) == {"chrf", "rouge1", "rouge2", "rougeL"}
    rec = results["recommendation"]  # among the strategies that trained, at the largest transfer size
    assert rec["size"] == "16" and rec["strategy"] == "lora" and rec["not_at_size"] == ["scratch"]


def test_samples_are_nested_across_sizes(pair_files):
    train = read_pairs(pair_files / "train.jsonl")
    small, large = gen_compare.sample_pairs(train, "8", 3), gen_compare.sample_pairs(train, "16", 3)
    assert list(zip(small.sources, small.targets)) == list(zip(large.sources, large.targets))[:8]
    assert gen_compare.sample_pairs(train, "8", 4).sources != small.sources
    assert gen_compare.sample_pairs(train, "all", 0) is train and gen_compare.pair_count(train, "999") == len(train)


def test_outputs_stay_in_cells_file_and_feed_bootstrap_and_samples(grid):
    out, _, test, results, _ = grid
    stored = read_cells(out)
    assert all(len(c["outputs"]) == len(test) for c in stored)
    assert not any("outputs" in c for c in json.loads((out / "results.json").read_text())["cells"])
    boot = results["bootstrap"]
    # each lora cell against zero-shot, and against scratch of its size and seed (scratch ran at 8, not 16)
    assert {(r["a"], r["b"], r["size"], r["seed"]) for r in boot} == (
        {("lora", "zero-shot", s, k) for s in ("8", "16") for k in (0, 1)}
        | {("lora", "scratch", "8", k) for k in (0, 1)})
    for r in boot:
        assert r["low"] <= r["diff"] <= r["high"] or r["low"] == r["high"]
        assert r["excludes_zero"] == (r["low"] > 0 or r["high"] < 0)
    samples = results["samples"]
    assert len(samples) == 5 and samples[0]["reference"] == test.targets[0]
    assert set(samples[0]["outputs"]) == {"lora@16", "scratch@24", "zero-shot@0"}


def test_rerun_resumes_without_fitting(grid, tiny_decoder, monkeypatch):
    out, train, test, _, _ = grid

    def no_fit(*args, **kwargs):
        raise AssertionError("a finished cell was fitted again")

    monkeypatch.setattr(gen_compare.Seq2SeqModel, "fit", no_fit)
    logs: list[str] = []
    again = run_comparison(train, test, _spec(tiny_decoder), out, log=logs.append)
    assert any("9 already finished, 0 to run" in line for line in logs)
    assert len(again["cells"]) == 9


def test_changed_option_reruns_only_that_strategy(grid, tiny_decoder, monkeypatch):
    out, train, test, _, _ = grid
    fitted = []
    real_cell = gen_compare.run_generation_cell
    monkeypatch.setattr(gen_compare, "run_generation_cell",
                        lambda cell, *a, **k: fitted.append(cell.strategy) or real_cell(cell, *a, **k))
    spec = _spec(tiny_decoder, strategies=["zero-shot"], options={**OPTIONS, "zero-shot": {"max_new_tokens": 3}})
    run_comparison(train, test, spec, out, log=lambda m: None)
    assert fitted == ["zero-shot"]


def test_budget_skips_what_does_not_fit(pair_files, tiny_decoder, tmp_path):
    train, test = read_pairs(pair_files / "train.jsonl"), read_pairs(pair_files / "test.jsonl")
    ticks = iter(range(0, 10_000, 50))  # every clock read advances 50 s: the first cell spends the budget
    results = run_comparison(train, test, _spec(tiny_decoder, strategies=["zero-shot", "scratch"], budget_s=60.0),
                             tmp_path / "b", log=lambda m: None, clock=lambda: float(next(ticks)))
    assert len(results["cells"]) == 1 and results["skipped"]
    logs: list[str] = []
    run_comparison(train, test, _spec(tiny_decoder, strategies=["zero-shot"], baseline_sizes=["500"]), tmp_path / "b",
                   log=logs.append)
    assert not any("exceed" in line for line in logs)  # zero-shot trains on none
    run_comparison(train, test, _spec(tiny_decoder, strategies=["zero-shot", "scratch"], baseline_sizes=["500"],
                                      budget_s=0.0), tmp_path / "b", log=logs.append)
    assert any("size(s) 500 exceed the 24 pairs" in line for line in logs)
    assert {s["cell"] for s in results["skipped"]} == {f"scratch@{s}/seed{k}" for s in ("8", "24") for k in (0, 1)}


def test_transfer_gain_counts_pairs_and_skips_the_ratio_at_zero():
    curves = {"scratch": [{"size": "1000", "n_per_class": 1000, "mean": 10.0},
                          {"size": "10000", "n_per_class": 10000, "mean": 30.0}],
              "lora": [{"size": "1000", "n_per_class": 1000, "mean": 20.0}],
              "zero-shot": [{"size": "0", "n_per_class": 0, "mean": 5.0}]}
    rows = {r["strategy"]: r for r in transfer_gain(curves, ["scratch"], unit="pairs")}
    assert rows["lora"]["relation"] == "=" and rows["lora"]["scratch_needs"] == pytest.approx(10 ** 3.5)
    assert rows["lora"]["ratio"] == pytest.approx(10 ** 0.5) and "pairs" in rows["lora"]["text"]
    assert rows["zero-shot"]["ratio"] is None and "per class" not in rows["zero-shot"]["text"]


@pytest.mark.parametrize("metric", ["bleu", "chrf", "rougeL"])
def test_paired_bootstrap(metric):
    refs = ["ein guter film", "der tag ist schlecht", "ein schlechter tag", "der film ist gut"] * 5
    worse = ["ein film", "tag", "schlechter", "gut"] * 5
    same = paired_bootstrap(metric, refs, refs, refs)
    assert same["diff"] == 0 and same["low"] == same["high"] == 0
    better = paired_bootstrap(metric, refs, worse, refs)
    assert better["diff"] > 0 and better["low"] > 0 and better["p_not_better"] == 0
    flipped = paired_bootstrap(metric, worse, refs, refs)
    assert flipped["high"] < 0 and flipped["diff"] == pytest.approx(-better["diff"])
    with pytest.raises(ValueError, match="same references"):
        paired_bootstrap(metric, refs[:3], refs, refs)


def test_cli_compare_and_report(pair_files, tiny_decoder, tmp_path, capsys):
    options = tmp_path / "opts.json"
    options.write_text(json.dumps(OPTIONS))
    out = tmp_path / "cmp"
    args = ["compare", str(pair_files / "train.jsonl"), "--task", "translate", "--test", str(pair_files / "test.jsonl"),
            "--strategies", "lora,zero-shot,scratch", "--sizes", "8", "--baseline-sizes", "8,16", "--seeds", "1",
            "--backbone", tiny_decoder, "--options", str(options), "-o", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "sizes are training pairs" in text and "paired bootstrap" in text and "transfer gain" in text
    assert "headstart fit" in text  # how to keep the recommended model
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "training pairs" in page and "Sample outputs" in page and "ein guter film" in page
    assert "Paired bootstrap" in page and "zero-shot" in page


@pytest.mark.parametrize("extra, message", [
    (["--unlabeled", "pool.csv"], "--unlabeled"),
    (["--final"], "--final"),
    (["--metric", "accuracy"], "--metric"),
    (["--strategies", "probe"], "probe"),
    (["--sizes", "0"], "--sizes as positive integers (pairs)"),
    (["--baseline-sizes", "8,x"], "--baseline-sizes as positive integers (pairs)"),
    (["--source-col", "text"], "text"),
])
def test_cli_bad_input_exits_2_and_writes_nothing(pair_files, tiny_decoder, tmp_path, capsys, extra, message):
    out = tmp_path / "cmp"
    args = ["compare", str(pair_files / "train.jsonl"), "--task", "translate", "--test", str(pair_files / "test.jsonl"),
            "--backbone", tiny_decoder, "-o", str(out), *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_test_pairs_also_in_the_training_file_are_announced(pair_files, tiny_decoder, tmp_path, capsys):
    train = pair_files / "train.jsonl"
    assert main(["compare", str(train), "--task", "translate", "--test", str(train), "--strategies", "zero-shot",
                 "--backbone", tiny_decoder, "-o", str(tmp_path / "cmp")]) == 0
    rows = len(train.read_text().splitlines())
    assert f"{rows} of the {rows} test pairs have a text that is also in" in capsys.readouterr().out
    clean = tmp_path / "clean.jsonl"
    clean.write_text('{"source": "a new film", "target": "ein neuer film"}\n' * 3)
    assert main(["compare", str(train), "--task", "translate", "--test", str(clean), "--strategies", "zero-shot",
                 "--backbone", tiny_decoder, "-o", str(tmp_path / "clean")]) == 0
    assert "also in" not in capsys.readouterr().out


@pytest.mark.parametrize("command", ["compare", "fit"])
def test_an_unknown_task_lists_the_generation_tasks_too(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, "data.csv", "--task", "poetry"])
    assert stop.value.code == 2 and "'regression', 'translate', 'summarize'" in capsys.readouterr().err


def test_prompt_without_source_is_refused_before_any_cell(pair_files, tiny_decoder, tmp_path, capsys):
    options = tmp_path / "opts.json"
    options.write_text(json.dumps({"*": {**OPTIONS["*"], "prompt_template": "Translate this:"}}))
    out = tmp_path / "cmp"
    assert main(["compare", str(pair_files / "train.jsonl"), "--task", "translate", "--test",
                 str(pair_files / "test.jsonl"), "--strategies", "zero-shot", "--backbone", tiny_decoder,
                 "--options", str(options), "-o", str(out)]) == 2
    assert "{source}" in capsys.readouterr().err
    assert not (out / "cells.jsonl").exists()


def test_pairs_without_targets_are_refused(tiny_decoder, tmp_path):
    train = Pairs(["a", "b"], ["x", "y"])
    with pytest.raises(Exception, match="reference targets"):
        run_comparison(train, Pairs(["a"], None), _spec(tiny_decoder), tmp_path / "x", log=lambda m: None)


def test_cli_empty_targets_exit_2_before_anything_is_written(pair_files, tiny_decoder, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"source": "a", "target": ""}\n{"source": "b", "target": "x"}\n')
    out = tmp_path / "cmp"
    for train, test in ((bad, pair_files / "test.jsonl"), (pair_files / "train.jsonl", bad)):
        assert main(["compare", str(train), "--task", "summarize", "--source-col", "source", "--target-col", "target",
                     "--test", str(test), "--backbone", tiny_decoder, "-o", str(out)]) == 2
        assert "empty" in capsys.readouterr().err.lower()
        assert not out.exists()
