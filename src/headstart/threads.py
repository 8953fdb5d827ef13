"""CPU thread settings, decided once at start-up, before PyTorch starts its OpenMP thread pool.

Why: PyTorch's CPU wheels use GNU OpenMP (libgomp, bundled in torch/lib). Its worker threads spin for
about 300,000 iterations (milliseconds) each time they wait. On a quiet machine that saves a wake-up per
operator; beside another busy process the spinning threads burn the CPU time that the thread they wait for
needs, and a 55 s demo took 410 s beside one 2-thread PyTorch job. `OMP_WAIT_POLICY=PASSIVE` fixes the
contention but costs ~18% quiet, so headstart sets instead:

* ``GOMP_SPINCOUNT`` (libgomp) and ``KMP_BLOCKTIME`` (Intel OpenMP, used by some other builds) to a short spin
  when other processes are busy at start-up: waits between back-to-back operators still spin, a thread that
  waits longer sleeps and frees the CPU. On a machine that is quiet at start-up the runtime's own spin is kept
  (the short one cost 2-6% there, benchmarks/results/contention.jsonl); should a competing job start later,
  `rebalance()` moves this process to the CPUs left free, and one thread has no sibling to spin for;
* ``OMP_NUM_THREADS`` to the CPUs this process may use (affinity, cgroup quota) minus those other processes
  are busy on right now (runnable threads sampled from /proc/stat), at least one.

libgomp reads its environment once, when torch is imported, so `apply()` runs at `import headstart` and in the
CLI entry, before torch is imported. A variable the user set is never changed. ``HEADSTART_THREADS`` chooses:
``auto`` (default), ``off`` (leave everything as PyTorch would), or a number of threads (short spin still set).

Under ``auto`` the long loops (training steps, embedding batches) call `rebalance()`: at most every
`REBALANCE_EVERY_S` it samples again how many threads of other processes are running and moves PyTorch's thread
count to the CPUs left free, so a job started while another ran gets its CPUs back when that one ends (and gives
some up when one starts). A count the user chose (a number, ``OMP_NUM_THREADS``) is never changed.
"""

from __future__ import annotations

import glob
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, MutableMapping

#: libgomp spins this many iterations before sleeping (its default is 300,000; PASSIVE is 0). Long enough to
#: bridge the gap between two operators of one forward pass, short enough to sleep through a preempted sibling.
SPIN_COUNT = 20_000
#: the same for Intel OpenMP, in milliseconds (its default is 200)
BLOCKTIME_MS = 1
#: under auto, fewer threads of other processes than this at start-up is a quiet machine: the runtime's own spin
QUIET_BELOW = 0.5
ENV_VAR = "HEADSTART_THREADS"
#: seconds between two looks at the machine during long loops (each look reads /proc a few times: ~20 ms)
REBALANCE_EVERY_S = 10.0
#: records what headstart itself set, so that a child process (inheriting the environment) decides afresh
#: instead of taking our values for the user's
MARK_VAR = "HEADSTART_THREADS_SET"


@dataclass
class ThreadPlan:
    """What `apply` decided and why (shown by benchmarks, kept for `headstart` diagnostics)."""

    threads: int | None  # None: left to PyTorch (the user set it, or policy off)
    usable_cpus: int
    busy_elsewhere: float
    policy: str
    set_env: dict[str, str] = field(default_factory=dict)
    kept_env: dict[str, str] = field(default_factory=dict)  # the user's own values, untouched
    too_late: bool = False  # torch was already imported: libgomp had read its environment
    error: str = ""  # an unusable HEADSTART_THREADS value (the CLI refuses it with exit 2)
    changes: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, threads) set by rebalance

    def describe(self) -> str:
        set_part = " ".join(f"{k}={v}" for k, v in self.set_env.items()) or "nothing"
        kept = " ".join(f"{k}={v}" for k, v in self.kept_env.items())
        return (f"threads policy {self.policy}: usable CPUs {self.usable_cpus}, busy elsewhere {self.busy_elsewhere:g}; "
                f"set {set_part}" + (f"; kept the user's {kept}" if kept else "")
                + ("; torch was imported first, so OpenMP kept its settings" if self.too_late else "")
                + (f"; rebalanced {len(self.changes)} time(s), to " + ", ".join(str(n) for _, n in self.changes)
                   + " thread(s)" if self.changes else ""))


_APPLIED: ThreadPlan | None = None


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup CPU quota (containers)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cpus, math.ceil(quota)) if quota else cpus)


def _cgroup_quota() -> float | None:
    """CPUs granted by the cgroup (v2 cpu.max or v1 cfs quota/period); None when unlimited or unknown."""
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int(open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read())
        period_us = int(open("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def own_running_threads() -> int:
    """Threads of this process on a CPU or ready for one now (state R in /proc/self/task/*/stat)."""
    count = 0
    for path in glob.glob("/proc/self/task/*/stat"):
        try:
            with open(path) as f:
                count += f.read().rsplit(")", 1)[1].split()[0] == "R"
        except (OSError, IndexError):
            continue
    return count


def busy_elsewhere(samples: int = 5, interval_s: float = 0.004) -> float:
    """Threads of other processes running now: the median of a few `procs_running` readings, each less this
    process's own running threads (one at start-up; more while its thread pool works).

    An instant reading rather than the load average: the 1-minute average still shows a job that ended 30 s
    ago, and would give a quiet machine one thread right after a heavy command.
    """
    readings = []
    for i in range(samples):
        if i:
            time.sleep(interval_s)
        try:
            with open("/proc/stat") as f:
                line = next((ln for ln in f if ln.startswith("procs_running")), "")
            readings.append(int(line.split()[1]) - own_running_threads())
        except (OSError, ValueError, IndexError):
            return 0.0
    return max(0.0, statistics.median(readings)) if readings else 0.0


_LAST_LOOK = -math.inf


def rebalance(now: float | None = None, sample: Callable[[], float] = busy_elsewhere) -> int | None:
    """Under the auto policy, move PyTorch's thread count to the CPUs other processes leave free; at most once per
    REBALANCE_EVERY_S, so a call per training step costs a clock read. Returns the new count when it changed."""
    global _LAST_LOOK
    decided = _APPLIED
    if decided is None or decided.policy != "auto" or decided.threads is None or decided.too_late:
        return None  # the user chose (a number, OMP_NUM_THREADS, off), or torch started before headstart could
    now = time.monotonic() if now is None else now
    if now - _LAST_LOOK < REBALANCE_EVERY_S:
        return None
    _LAST_LOOK = now
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    wanted = max(1, decided.usable_cpus - int(round(sample())))
    if wanted == torch.get_num_threads():
        return None
    torch.set_num_threads(wanted)
    decided.changes.append((now, wanted))
    return wanted


def plan(environ: MutableMapping[str, str], cpus: int, busy: float) -> ThreadPlan:
    """The settings for `cpus` usable CPUs with `busy` of them taken by others; the user's values win."""
    policy = environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    environ = _users_own(environ)
    result = ThreadPlan(threads=None, usable_cpus=cpus, busy_elsewhere=busy, policy=policy)
    if policy in ("off", "none", "0"):
        return result
    if policy == "auto":
        threads = max(1, cpus - int(round(busy)))
    else:
        try:
            threads = int(policy)
        except ValueError:
            threads = 0
        if threads < 1:
            raise ValueError(f"expected {ENV_VAR}=auto, off or a positive number of threads; got {policy!r}; "
                             f"unset it or use e.g. {ENV_VAR}=2")
    wanted = {"OMP_NUM_THREADS": str(threads)}
    # the spin is a choice of wait policy: a user's OMP_WAIT_POLICY decides it for both runtimes. Auto on a quiet
    # machine keeps the runtime's spin: rebalance() gives a later job its CPUs by lowering the thread count (it
    # cannot where the user fixed the count, so the short spin stays there)
    quiet_auto = policy == "auto" and busy < QUIET_BELOW and "OMP_NUM_THREADS" not in environ
    if "OMP_WAIT_POLICY" not in environ and not quiet_auto:
        wanted.update(GOMP_SPINCOUNT=str(SPIN_COUNT), KMP_BLOCKTIME=str(BLOCKTIME_MS))
    for key, value in wanted.items():
        if key in environ:
            result.kept_env[key] = environ[key]
        else:
            result.set_env[key] = value
    if "OMP_WAIT_POLICY" in environ:
        result.kept_env["OMP_WAIT_POLICY"] = environ["OMP_WAIT_POLICY"]
    result.threads = threads if "OMP_NUM_THREADS" in result.set_env else None
    return result


def _users_own(environ: MutableMapping[str, str]) -> dict[str, str]:
    """The environment less the values a parent headstart process set (listed, with their value, in MARK_VAR)."""
    ours = _ours(environ)
    return {k: v for k, v in environ.items() if not (k in ours and ours[k] == v)}


def _ours(environ: MutableMapping[str, str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in environ.get(MARK_VAR, "").split(",") if "=" in item)


def apply() -> ThreadPlan:
    """Decide and set this process's thread environment once (later calls return the first decision)."""
    global _APPLIED
    if _APPLIED is None:
        _APPLIED = decide(os.environ)
    return _APPLIED


def decide(environ: MutableMapping[str, str]) -> ThreadPlan:
    """Sample the machine, plan, and write the planned variables into `environ`."""
    policy = environ.get(ENV_VAR, "auto").strip().lower()
    busy = busy_elsewhere() if policy in ("auto", "") and "OMP_NUM_THREADS" not in _users_own(environ) else 0.0
    try:
        decided = plan(environ, usable_cpus(), busy)
    except ValueError as exc:
        print(f"headstart: warning: {exc}; using PyTorch's defaults", file=sys.stderr)
        decided = ThreadPlan(threads=None, usable_cpus=usable_cpus(), busy_elsewhere=0.0, policy="invalid",
                             error=str(exc))
    if "torch" in sys.modules:
        # libgomp has read its variables already; only the thread count can still change, and only when the
        # user asked for a number (an auto choice must not override a torch.set_num_threads they made)
        decided.too_late = True
        if decided.threads is not None and decided.policy not in ("auto", ""):
            sys.modules["torch"].set_num_threads(decided.threads)
    # values a parent headstart process set and this one does not want (e.g. policy off here) are removed:
    # OpenMP would read them as if the user had set them
    for key, value in _ours(environ).items():
        if environ.get(key) == value and key not in decided.set_env:
            del environ[key]
    environ.pop(MARK_VAR, None)
    environ.update(decided.set_env)
    if decided.set_env:
        environ[MARK_VAR] = ",".join(f"{k}={v}" for k, v in decided.set_env.items())
    return decided


def current() -> ThreadPlan | None:
    """The decision `apply` made in this process, if any."""
    return _APPLIED
