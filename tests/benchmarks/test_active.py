"""benchmarks/active.py: the labels-needed arithmetic, the plan with its cuts, and resuming from --results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
active = pytest.importorskip("active")


def test_labels_needed_first_round_and_interpolation():
    labels, accuracy = [10, 20, 30, 40], [0.5, 0.6, 0.8, 0.9]
    assert active.labels_needed(labels, accuracy, 0.7) == pytest.approx((30.0, 25.0))
    assert active.labels_needed(labels, accuracy, 0.5) == (10.0, 10.0)
    assert active.labels_needed(labels, accuracy, 0.95) == (None, None)
    assert active.labels_needed(labels, accuracy, 0.9) == (40.0, 40.0)


def test_mean_curve_keeps_the_label_counts_every_seed_has():
    rows = [{"curve": [{"labels": 2, "accuracy": 0.5}, {"labels": 4, "accuracy": 0.7}]},
            {"curve": [{"labels": 2, "accuracy": 0.3}]}]
    labels, accuracy = active.mean_curve(rows)
    assert labels.tolist() == [2] and np.allclose(accuracy, [0.4])


def test_initial_sample_is_seeded_and_per_class():
    y = np.array([0] * 10 + [1] * 5 + [2] * 3)
    first = active.initial_sample(y, 2, seed=4)
    assert np.bincount(y[first]).tolist() == [2, 2, 2]
    assert first.tolist() == active.initial_sample(y, 2, seed=4).tolist()
    assert len({tuple(active.initial_sample(y, 2, seed=s)) for s in range(5)}) > 1  # the seed changes the draw


def test_plan_goes_seed_by_seed_and_applies_the_cuts():
    args = active.parse(["--datasets", "banking77,trec", "--seeds", "3", "--seeds-for", "banking77:1",
                         "--queries", "margin,random", "--small-text", "BreakingTies,GreedyCoreset",
                         "--skip", "banking77:GreedyCoreset,banking77:random"])
    bank = active.plan(args, "banking77")
    assert bank == [("probe", "headstart", "margin", 0), ("probe", "small-text", "BreakingTies", 0)]
    trec = active.plan(args, "trec")
    assert len(trec) == 12 and [u[3] for u in trec[:4]] == [0, 0, 0, 0] and trec[-1][3] == 2
    fewer = active.plan(active.parse(["--datasets", "trec", "--seeds", "3", "--queries", "margin",
                                      "--small-text", "GreedyCoreset", "--seeds-for", "trec/GreedyCoreset:1"]), "trec")
    assert [(u[2], u[3]) for u in fewer] == [("margin", 0), ("GreedyCoreset", 0), ("margin", 1), ("margin", 2)]


def test_summary_names_the_best_strategy_against_random():
    def row(library, strategy, accuracies):
        return {"benchmark": "active", "dataset": "d", "learner": "probe", "library": library, "strategy": strategy,
                "seed": 0, "query_s": [0.1], "curve": [{"labels": 2 * (i + 1), "accuracy": a}
                                                       for i, a in enumerate(accuracies)]}
    rows = [row("headstart", "random", [0.5, 0.6, 0.7, 0.8]), row("headstart", "margin", [0.5, 0.8, 0.9, 0.9]),
            row("headstart", "kcenter", [0.5, 0.6, 0.8, 0.85]), row("small-text", "BreakingTies", [0.5, 0.7, 0.8, 0.9])]
    summary = active.summarise(rows, "d")
    assert summary["target"] == 0.8 and summary["target_labels"] == 8
    assert summary["best"] == {"headstart": "headstart:margin", "small-text": "small-text:BreakingTies"}
    assert summary["strategies"]["headstart:margin"]["needed_first"] == 4.0


def test_a_tiny_run_writes_one_row_per_curve_and_resumes(tmp_path, small_data, tiny_backbone, capsys):
    train, test = small_data
    folder = tmp_path / "data" / "tiny"
    folder.mkdir(parents=True)
    train.to_csv(folder / "train.csv", index=False)
    test.iloc[:40].to_csv(folder / "test.csv", index=False)
    results = tmp_path / "rows.jsonl"
    argv = ["--data-dir", str(tmp_path / "data"), "--datasets", "tiny", "--seeds", "1", "--stop", "4",
            "--queries", "margin,kcenter,random", "--small-text", "BreakingTies,RandomSampling",
            "--backbone", tiny_backbone, "--results", str(results), "--query-time", "tiny"]
    assert active.main(argv) == 0
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    curves = [r for r in rows if r["benchmark"] == "active"]
    assert len(curves) == 5 and any(r["benchmark"] == "active-query-time" for r in rows)
    for r in curves:
        assert [p["labels"] for p in r["curve"]] == [4, 6, 8]  # 2 classes: 2, 3, 4 per class
        assert {"torch_threads", "load_avg_before", "load_avg_after", "peak_rss_mb", "command"} <= set(r)
    margin = next(r for r in curves if r["strategy"] == "margin")
    ties = next(r for r in curves if r["strategy"] == "BreakingTies")
    assert margin["curve"][0] == ties["curve"][0]  # the same start and the same head
    printed = capsys.readouterr().out
    assert "labels to reach random" in printed and "query time" in printed
    assert active.main(argv) == 0  # everything is there: nothing runs again
    assert len(results.read_text().splitlines()) == len(rows)


def test_contrastive_as_the_learner_refits_at_each_checkpoint(tmp_path, small_data, tiny_backbone):
    train, test = small_data
    folder = tmp_path / "data" / "tiny"
    folder.mkdir(parents=True)
    train.to_csv(folder / "train.csv", index=False)
    test.iloc[:20].to_csv(folder / "test.csv", index=False)
    results = tmp_path / "rows.jsonl"
    assert active.main(["--data-dir", str(tmp_path / "data"), "--datasets", "tiny", "--seeds", "0",
                        "--contrastive-sets", "tiny", "--contrastive-queries", "margin", "--checkpoints", "2,3",
                        "--contrastive-pool", "60", "--contrastive-test", "20", "--backbone", tiny_backbone,
                        "--results", str(results), "--query-time", ""]) == 0
    (row,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert row["learner"] == "contrastive" and [p["labels"] for p in row["curve"]] == [4, 6]
    assert row["pool_rows"] == 60 and len(row["query_s"]) == 1
