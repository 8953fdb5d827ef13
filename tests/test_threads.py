"""Thread settings (headstart.threads): decided before torch is imported, and never over a user's own value.
Speed itself is measured by benchmarks/contention.py, not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from headstart import threads

SRC = str(Path(__file__).resolve().parents[1] / "src")
THREAD_VARS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", threads.ENV_VAR,
               threads.MARK_VAR)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env.update(PYTHONPATH=SRC, **extra)
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_auto_uses_the_free_cpus_and_a_short_spin_when_others_are_busy():
    busy = threads.plan({}, cpus=4, busy=1.0)
    assert busy.set_env == {"OMP_NUM_THREADS": "3", "GOMP_SPINCOUNT": str(threads.SPIN_COUNT),
                            "KMP_BLOCKTIME": str(threads.BLOCKTIME_MS)}
    assert threads.SPIN_COUNT < 300_000, "shorter than libgomp's own default, or it changes nothing"
    assert threads.plan({}, cpus=4, busy=2.0).threads == 2
    assert threads.plan({}, cpus=2, busy=5.0).threads == 1, "at least one thread however busy the machine"


def test_auto_on_a_quiet_machine_keeps_the_runtimes_own_spin():
    """The short spin cost 2-6% on a quiet machine; there rebalance() handles a job that starts later."""
    quiet = threads.plan({}, cpus=4, busy=0.0)
    assert quiet.set_env == {"OMP_NUM_THREADS": "4"} and quiet.threads == 4
    # a number the user chose cannot be rebalanced later, so it keeps the short spin even on a quiet machine
    assert threads.plan({threads.ENV_VAR: "2"}, cpus=4, busy=0.0).set_env["GOMP_SPINCOUNT"] == str(threads.SPIN_COUNT)
    assert threads.plan({"OMP_NUM_THREADS": "2"}, cpus=4, busy=0.0).set_env["GOMP_SPINCOUNT"] == str(threads.SPIN_COUNT)


def test_the_users_values_are_kept():
    decided = threads.plan({"OMP_NUM_THREADS": "7", "GOMP_SPINCOUNT": "5"}, cpus=2, busy=1.0)
    assert decided.kept_env == {"OMP_NUM_THREADS": "7", "GOMP_SPINCOUNT": "5"}
    assert "OMP_NUM_THREADS" not in decided.set_env and "GOMP_SPINCOUNT" not in decided.set_env
    assert decided.threads is None
    # a wait policy the user chose decides the spin of both runtimes: no spin count is added beside it
    passive = threads.plan({"OMP_WAIT_POLICY": "PASSIVE"}, cpus=2, busy=0.0)
    assert passive.set_env == {"OMP_NUM_THREADS": "2"} and passive.kept_env == {"OMP_WAIT_POLICY": "PASSIVE"}


def test_policy_off_a_number_and_a_bad_value():
    assert threads.plan({threads.ENV_VAR: "off"}, cpus=2, busy=0.0).set_env == {}
    assert threads.plan({threads.ENV_VAR: "3"}, cpus=2, busy=1.0).set_env["OMP_NUM_THREADS"] == "3"
    with pytest.raises(ValueError, match="expected HEADSTART_THREADS=auto, off or a positive number"):
        threads.plan({threads.ENV_VAR: "many"}, cpus=2, busy=0.0)


def test_values_a_parent_headstart_set_are_decided_again():
    """A child process inherits our environment: what headstart set there is not the user's choice."""
    inherited = {"OMP_NUM_THREADS": "2", "GOMP_SPINCOUNT": str(threads.SPIN_COUNT),
                 threads.MARK_VAR: f"OMP_NUM_THREADS=2,GOMP_SPINCOUNT={threads.SPIN_COUNT}"}
    assert threads.plan(inherited, cpus=2, busy=1.0).set_env["OMP_NUM_THREADS"] == "1"
    # ...unless the user changed it since
    changed = dict(inherited, OMP_NUM_THREADS="2,1")
    assert threads.plan(changed, cpus=2, busy=1.0).kept_env["OMP_NUM_THREADS"] == "2,1"


def test_policy_off_in_a_child_removes_what_the_parent_headstart_set():
    """HEADSTART_THREADS=off in a child means PyTorch's defaults, not the parent's inherited choice."""
    env = {"OMP_NUM_THREADS": "1", "GOMP_SPINCOUNT": "20000", "KMP_BLOCKTIME": "7",
           threads.MARK_VAR: "OMP_NUM_THREADS=1,GOMP_SPINCOUNT=20000", threads.ENV_VAR: "off"}
    threads.decide(env)
    assert env == {"KMP_BLOCKTIME": "7", threads.ENV_VAR: "off"}, "the user's own KMP_BLOCKTIME stays"


def test_usable_cpus_is_at_most_the_affinity_mask():
    assert 1 <= threads.usable_cpus() <= len(os.sched_getaffinity(0))


several_cpus = pytest.mark.skipif(threads.usable_cpus() < 2, reason="torch's default is 1 thread on 1 CPU")


@several_cpus
def test_applied_at_import_before_torch_starts_its_pool():
    """In a fresh interpreter `import headstart` sets the variables before torch loads libgomp, so torch runs
    with the thread count headstart chose (1, where torch's own default is one per CPU)."""
    wanted = 1
    code = ("import sys, json, os, headstart, torch\n"
            "plan = headstart.threads.current()\n"
            "print(json.dumps({'too_late': plan.too_late, 'torch': torch.get_num_threads(),\n"
            "                  'spin': os.environ.get('GOMP_SPINCOUNT')}))")
    done = run_python(code, clean_env(**{threads.ENV_VAR: str(wanted)}))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"too_late": False, "torch": wanted, "spin": str(threads.SPIN_COUNT)}


@several_cpus
def test_the_users_omp_num_threads_wins_in_a_real_process():
    done = run_python("import headstart, torch; print(torch.get_num_threads())",
                      clean_env(OMP_NUM_THREADS="1", **{threads.ENV_VAR: "2"}))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "1"


def test_the_cli_refuses_a_bad_headstart_threads_value():
    done = subprocess.run([sys.executable, "-m", "headstart", "models"], env=clean_env(**{threads.ENV_VAR: "lots"}),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "expected HEADSTART_THREADS=auto, off or a positive number of threads; got 'lots'" in done.stderr


class FakeTorch:
    def __init__(self, threads: int) -> None:
        self.threads, self.calls = threads, []

    def get_num_threads(self) -> int:
        return self.threads

    def set_num_threads(self, n: int) -> None:
        self.calls.append(n)
        self.threads = n


@pytest.fixture
def auto_plan(monkeypatch):
    """This process as if `apply` had chosen 1 of 2 CPUs under auto (another job was running at start-up)."""
    decided = threads.plan({}, cpus=2, busy=1.0)
    monkeypatch.setattr(threads, "_APPLIED", decided)
    monkeypatch.setattr(threads, "_LAST_LOOK", -float("inf"))
    fake = FakeTorch(decided.threads)
    monkeypatch.setitem(sys.modules, "torch", fake)
    return decided, fake


def test_a_job_gets_its_cpus_back_when_the_other_one_ends(auto_plan):
    decided, torch = auto_plan
    assert threads.rebalance(now=100.0, sample=lambda: 0.0) == 2 and torch.calls == [2]
    # looked at most once per REBALANCE_EVERY_S, however often the training loop calls
    assert threads.rebalance(now=100.0 + threads.REBALANCE_EVERY_S / 2, sample=lambda: 2.0) is None
    assert threads.rebalance(now=100.0 + threads.REBALANCE_EVERY_S, sample=lambda: 2.0) == 1
    assert threads.rebalance(now=200.0, sample=lambda: 1.0) is None  # already right: nothing set
    assert torch.calls == [2, 1] and [n for _, n in decided.changes] == [2, 1]


@pytest.mark.parametrize("environ", [{threads.ENV_VAR: "2"}, {"OMP_NUM_THREADS": "1"}, {threads.ENV_VAR: "off"}])
def test_a_thread_count_the_user_chose_is_never_changed(auto_plan, monkeypatch, environ):
    _, torch = auto_plan
    monkeypatch.setattr(threads, "_APPLIED", threads.plan(environ, cpus=2, busy=1.0))
    assert threads.rebalance(now=100.0, sample=lambda: 0.0) is None and torch.calls == []


def test_own_running_threads_counts_this_process():
    assert threads.own_running_threads() >= 1  # the thread asking is running
    assert threads.busy_elsewhere(samples=3, interval_s=0.0) >= 0.0


def test_describe_says_how_often_rebalance_moved_the_threads():
    # benchmark rows record it: a quiet side whose threads dropped mid-run is told apart from noise
    decided = threads.plan({}, cpus=2, busy=0.0)
    assert "rebalanced" not in decided.describe()
    decided.changes += [(1.0, 1), (11.0, 2)]
    assert decided.describe().endswith("; rebalanced 2 time(s), to 1, 2 thread(s)")
