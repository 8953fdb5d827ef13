"""benchmarks/sidebyside.py: a ratio is only printed for sides that did the same counted work."""

from __future__ import annotations

import json
import shlex
import sys
import textwrap
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
sidebyside = pytest.importorskip("sidebyside")
competing_load = pytest.importorskip("competing_load")

CHILD = textwrap.dedent("""
    import os
    import sys
    sys.path.insert(0, {bench!r})
    import sidebyside

    def steps_side(n):
        def side(config, clock):
            with clock:
                total = sum(range(1000))
            return sidebyside.Work(rows=config["rows"], examples=config["rows"] * n, steps=n, epochs=n,
                                   max_length=128, longest_batch=40, padding="longest-in-batch")
        return side

    def session_side(config, clock):
        with clock:
            pass
        return sidebyside.Work(rows=1, info={{"leads_session": os.getsid(0) == os.getpid()}})

    SIDES = {{"two_steps": steps_side(2), "also_two": steps_side(2), "four_steps": steps_side(4),
              "session": session_side}}
    if __name__ == "__main__":
        sys.exit(sidebyside.child_main(SIDES))
""")


@pytest.fixture
def script(tmp_path) -> str:
    path = tmp_path / "bench_child.py"
    path.write_text(CHILD.format(bench=str(BENCH)))
    return str(path)


@pytest.mark.parametrize("new_session", [False, True])
def test_a_side_runs_in_a_session_of_its_own_only_when_asked(script, new_session):
    # contention.py --fit-session command: the fits run where the `headstart` command runs its work
    assert sidebyside.run_child(script, "session", {}, new_session=new_session).info["leads_session"] is new_session


def test_a_side_that_runs_more_steps_fails_the_check(script, tmp_path, capsys):
    results = tmp_path / "results"
    with pytest.raises(sidebyside.UnequalWork, match="steps: two_steps=2 but four_steps=4"):
        sidebyside.compare("demo-bench", script, ["two_steps", "four_steps"], {"rows": 10}, repeats=1,
                           ratios=[("two_steps", "four_steps")], threads=None, results_dir=results)
    assert "ratio" not in capsys.readouterr().out, "no ratio is printed for unequal work"
    assert not results.exists(), "no row is recorded for unequal work"


def test_equal_sides_are_interleaved_and_recorded(script, tmp_path, capsys):
    results = tmp_path / "results"
    row = sidebyside.compare("demo-bench", script, ["two_steps", "also_two"], {"rows": 10}, repeats=3,
                             ratios=[("two_steps", "also_two")], threads=None, results_dir=results)
    out = capsys.readouterr().out
    order = [line.split(":")[0].split()[-1] for line in out.splitlines() if line.startswith("# demo-bench repeat")]
    assert order == ["two_steps", "also_two"] * 3, "sides alternate, repeat after repeat"
    assert "ratio two_steps/also_two" in out
    recorded = [json.loads(line) for line in (results / "demo-bench.jsonl").read_text().splitlines()]
    assert recorded == [row]
    assert row["work"]["steps"] == 2 and row["work"]["epochs"] == 2.0
    assert set(row["sides"]["two_steps"]["seconds"]) == {"min", "median", "max"}
    assert len(row["sides"]["also_two"]["runs_s"]) == 3
    assert row["sides"]["two_steps"]["peak_rss_mb"] > 0
    other = float("nan") if row["other_cores"] is None else row["other_cores"]
    assert row["loaded"] == sidebyside.is_loaded(other, row["load_before"])
    assert row["other_cores"] is None or row["other_cores"] >= 0, "what other processes used is recorded"
    assert row["command"] == shlex.join([sys.executable, *sys.argv]), "the exact command that ran it"


def test_threads_must_agree_too():
    runs = [sidebyside.Run("a", 1.0, {"steps": 2}, {}, 10.0, 2), sidebyside.Run("b", 1.0, {"steps": 2}, {}, 10.0, 1)]
    with pytest.raises(sidebyside.UnequalWork, match="torch threads: a=2 but b=1"):
        sidebyside.check_equal_work(runs)


@pytest.fixture
def sst2_dir(tmp_path, small_data):
    folder = tmp_path / "data" / "sst2"
    folder.mkdir(parents=True)
    small_data[0].to_csv(folder / "train.csv", index=False)
    small_data[1].to_csv(folder / "test.csv", index=False)
    return tmp_path / "data"


def test_classification_training_sides_do_equal_work(sst2_dir, tiny_backbone):
    """The defect of issue 22: headstart's TrainConfig(epochs=1) ran 4 epochs (min_steps=100) against the
    Trainer's 1. Both sides, counted from outside the loops, now run 1 epoch and the same optimiser steps."""
    classification = pytest.importorskip("classification")
    config = {"data_dir": str(sst2_dir), "backbone": tiny_backbone, "device": "cpu", "rows": 64, "batch_size": 32,
              "max_length": 32, "epochs": 1, "seed": 0}
    runs = []
    for side in ("training:headstart", "training:trainer"):
        clock = sidebyside.Clock()
        work = classification.SIDES[side](config, clock)
        runs.append(sidebyside.Run(side, clock.seconds, work.compared(), work.info, 0.0, 1))
    work = sidebyside.check_equal_work(runs)
    assert work["epochs"] == 1.0 and work["steps"] == 2 and work["examples"] == 64
    assert work["longest_batch"] <= 32


def test_other_cores_is_the_machine_s_cpu_less_the_benchmark_s_own():
    Snap = sidebyside.CpuSnapshot
    # 10 s of wall time: the machine spent 25 CPU seconds, the benchmark (with its children) 5 of them
    assert sidebyside.other_cores(Snap(0.0, 100.0, 1.0), Snap(10.0, 125.0, 6.0)) == pytest.approx(2.0)
    assert sidebyside.other_cores(Snap(0.0, 100.0, 1.0), Snap(10.0, 110.0, 11.0)) == 0.0  # all of it ours
    assert sidebyside.other_cores(Snap(0.0, float("nan"), 0.0), Snap(1.0, float("nan"), 1.0)) != 0.0  # nan


def test_a_run_is_loaded_by_what_others_used_not_by_its_own_previous_load():
    # the 1-minute load average of a benchmark that just ran is high, yet nobody else used the CPU
    assert not sidebyside.is_loaded(0.02, [2.1, 1.5, 1.0])
    assert sidebyside.is_loaded(1.9, [0.1, 0.1, 0.1])
    assert sidebyside.is_loaded(float("nan"), [0.9, 0.5, 0.2])  # no /proc/stat: the load average decides
    assert not sidebyside.is_loaded(float("nan"), [0.2, 0.5, 0.2])


def test_own_work_is_counted_as_own():
    before = sidebyside.cpu_snapshot()
    total = 0
    while sidebyside.cpu_snapshot().own_s - before.own_s < 0.2:  # burn 0.2 s of CPU in this process
        total += sum(range(10_000))
    after = sidebyside.cpu_snapshot()
    assert after.own_s - before.own_s >= 0.2 and after.wall > before.wall
    if after.busy_s == after.busy_s:  # /proc/stat exists: the machine's total includes this work
        assert after.busy_s - before.busy_s >= 0.1


def test_watching_others_records_the_machine_around_the_block(monkeypatch):
    snapshots = iter([sidebyside.CpuSnapshot(0.0, 100.0, 10.0), sidebyside.CpuSnapshot(10.0, 118.0, 18.0)])
    monkeypatch.setattr(sidebyside, "cpu_snapshot", lambda: next(snapshots))
    monkeypatch.setattr(sidebyside, "wait_until_quiet", lambda: 0.02)
    with sidebyside.watching_others() as watch:
        assert watch["other_cores_before"] == 0.02 and len(watch["load_before"]) == 3
        assert "other_cores" not in watch  # known only once the block is over
    # 18 busy seconds in 10 s, 8 of them ours: others used 1 core on average
    assert watch["other_cores"] == 1.0 and watch["loaded"] is True and len(watch["load_after"]) == 3


def test_watching_others_need_not_wait(monkeypatch):
    monkeypatch.setattr(sidebyside, "wait_until_quiet", lambda: pytest.fail("waited"))
    with sidebyside.watching_others(wait_quiet=False) as watch:
        pass
    assert watch["other_cores_before"] is None and isinstance(watch["loaded"], bool)


@pytest.mark.parametrize("session", ["same", "separate"])
def test_the_competing_load_runs_in_the_session_asked_for(session):
    import os

    import sidebyside

    with competing_load.competing_load(threads=1, settle_s=0.0, session=session) as proc:
        theirs, ours = os.getsid(proc.pid), os.getsid(0)
    assert (theirs == ours) == (session == "same")
    with pytest.raises(ValueError, match="load session"):
        with competing_load.competing_load(session="other"):
            pass


def test_a_load_asked_to_start_later_starts_during_the_block_and_is_stopped(monkeypatch):
    import time

    import sidebyside

    started, stopped = [], []
    monkeypatch.setattr(competing_load, "_start_load", lambda threads, session: started.append(session) or "proc")
    monkeypatch.setattr(competing_load, "_stop_load", stopped.append)
    with competing_load.competing_load(threads=1, session="same", delay_s=5.0) as proc:
        assert proc is None
    assert started == [] and stopped == [], "a block that ends before the delay never starts the load"
    with competing_load.competing_load(threads=1, session="separate", delay_s=0.05):
        time.sleep(0.5)
        assert started == ["separate"] and stopped == []
    assert stopped == ["proc"]
