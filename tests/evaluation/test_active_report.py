"""`headstart report ROWS.jsonl`: active-learning curves from benchmark rows or a label-next history."""

from __future__ import annotations

import json

import pytest

from headstart.cli import main
from headstart.errors import DataError
from headstart.evaluation.active_report import active_curves, render_active_report, summary_rows


def bench_row(strategy, library, seed, accuracies):
    return {"benchmark": "active", "dataset": "sst2", "learner": "probe", "library": library, "strategy": strategy,
            "seed": seed, "curve": [{"labels": 4 + 2 * i, "accuracy": a} for i, a in enumerate(accuracies)]}


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_benchmark_rows_average_over_seeds():
    rows = [bench_row("margin", "headstart", 0, [0.5, 0.7]), bench_row("margin", "headstart", 1, [0.6, 0.9]),
            bench_row("random", "headstart", 0, [0.5, 0.8])]
    curves = active_curves(rows)["sst2 (probe)"]
    (n, mean, sd, seeds) = curves["headstart:margin"][1]
    assert (n, seeds) == (6.0, 2) and mean == pytest.approx(0.8) and sd > 0
    table = {r["strategy"]: r for r in summary_rows(curves)}
    assert table["headstart:margin"]["labels to reach random's last"] == 6.0


def test_history_lines_become_one_curve_per_query_and_cold_starts_are_left_out():
    history = [{"query": "kmeans", "labelled_rows": None, "accuracy": None},
               {"query": "margin", "labelled_rows": 20, "accuracy": 0.7, "accuracy_source": "cv"},
               {"query": "margin", "labelled_rows": 70, "accuracy": 0.8, "accuracy_source": "cv"}]
    (title, curves), = active_curves(history).items()
    assert "history" in title and list(curves) == ["margin"] and [p[0] for p in curves["margin"]] == [20, 70]


def test_cli_writes_the_page_and_keeps_an_existing_one(tmp_path, capsys):
    rows = write(tmp_path / "active.jsonl", [bench_row("margin", "headstart", 0, [0.5, 0.7]),
                                             bench_row("random", "headstart", 0, [0.5, 0.6])])
    assert main(["report", str(rows)]) == 0
    page = (tmp_path / "active.html").read_text()
    assert "headstart:margin" in page and "data:image/png;base64" in page
    assert main(["report", str(rows)]) == 2 and "--overwrite" in capsys.readouterr().err
    assert main(["report", str(rows), "--overwrite"]) == 0


def test_files_without_curves_are_refused(tmp_path, capsys):
    with pytest.raises(DataError, match="active-learning rows"):
        render_active_report(write(tmp_path / "x.jsonl", [{"something": 1}]))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    assert main(["report", str(bad), "--output", str(tmp_path / "o.html")]) == 2
    assert "line 1" in capsys.readouterr().err and not (tmp_path / "o.html").exists()
