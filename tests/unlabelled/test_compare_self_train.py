"""`compare --strategies X,X+self-train`: both curves, keyed apart so both resume, drawn by `report`."""

from __future__ import annotations

import json

import pytest

from headstart.cli import main


@pytest.fixture(scope="module")
def comparison(tmp_path_factory, small_data):
    folder = tmp_path_factory.mktemp("cmp-self-train")
    train, test = small_data
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    out = folder / "cmp"
    args = ["compare", str(folder / "train.csv"), "--test", str(folder / "test.csv"), "--strategies",
            "scratch-tfidf,scratch-tfidf+self-train", "--sizes", "8,all", "--seeds", "1", "-o", str(out)]
    assert main(args) == 0
    return folder, out, args


def test_both_curves_are_there_and_the_self_trained_cells_say_what_ran(comparison):
    _, out, _ = comparison
    results = json.loads((out / "results.json").read_text())
    assert set(results["curves"]) == {"scratch-tfidf", "scratch-tfidf+self-train"}
    cells = {(c["strategy"], c["size"]): c for c in results["cells"]}
    assert "self_training" not in cells[("scratch-tfidf", "8")]
    ran = cells[("scratch-tfidf+self-train", "8")]["self_training"]
    assert ran["ran"] and ran["pool_rows"] == 200 - 16  # the training rows not sampled into the cell
    assert not cells[("scratch-tfidf+self-train", "all")]["self_training"]["ran"]  # no row left for 'all'
    assert cells[("scratch-tfidf", "8")]["key"] != cells[("scratch-tfidf+self-train", "8")]["key"]


def test_a_rerun_resumes_both_and_the_report_draws_both(comparison, capsys):
    _, out, args = comparison
    before = (out / "cells.jsonl").read_text()
    capsys.readouterr()
    assert main(args) == 0
    assert "4 already finished, 0 to run" in capsys.readouterr().out
    assert (out / "cells.jsonl").read_text() == before
    assert main(["report", str(out)]) == 0
    assert "scratch-tfidf+self-train" in (out / "report.html").read_text(encoding="utf-8")


def test_a_given_pool_is_part_of_the_key(comparison, small_data, capsys):
    folder, out, args = comparison
    _, test = small_data
    test[["text"]].to_csv(folder / "pool.csv", index=False)
    capsys.readouterr()
    assert main([*args, "--unlabeled", str(folder / "pool.csv"), "--no-final"]) == 0
    printed = capsys.readouterr().out
    assert "2 already finished, 2 to run" in printed  # the plain cells are reused, the self-trained rerun


def test_the_encoder_step_reaches_a_grid_through_options(tmp_path, small_data, tiny_backbone):
    train, test = small_data
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / "options.json").write_text(json.dumps(
        {"contrastive+self-train": {"self_train_encoder": True, "self_train_rounds": 1},
         "*": {"triplets_per_example": 2, "max_length": 32}}))
    out = tmp_path / "cmp"
    assert main(["compare", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"), "--strategies",
                 "contrastive+self-train", "--backbone", tiny_backbone, "--sizes", "8", "--seeds", "1",
                 "--options", str(tmp_path / "options.json"), "--no-final", "-o", str(out)]) == 0
    cell = json.loads((out / "results.json").read_text())["cells"][0]
    assert cell["self_training"]["encoder"] == {"kept": True, "check": "unchecked: no validation split"}


@pytest.mark.parametrize("strategies, extra, message", [
    ("zero-shot+self-train", [], "can self-train"),
    ("scratch-tfidf", ["--unlabeled", "{d}/train.csv"], "+self-train"),
])
def test_bad_self_training_grids_exit_2(comparison, strategies, extra, message, capsys):
    folder, _, _ = comparison
    args = ["compare", str(folder / "train.csv"), "--test", str(folder / "test.csv"), "--strategies", strategies,
            "--sizes", "8", "--seeds", "1", "-o", str(folder / "bad"), *[a.format(d=folder) for a in extra]]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (folder / "bad" / "cells.jsonl").exists()


def test_the_learning_curve_figure_has_a_line_for_each(comparison):
    from headstart.evaluation.report import learning_curve_figure

    _, out, _ = comparison
    fig = learning_curve_figure(json.loads((out / "results.json").read_text()))
    labels = {text.get_text() for text in fig.axes[0].get_legend().get_texts()}
    assert {"scratch-tfidf", "scratch-tfidf+self-train"} <= labels
