"""The one harness every side-by-side benchmark uses, so that a ratio only ever compares equal work.

A benchmark script defines its sides as functions `side(config: dict, clock: Clock) -> Work` in a dict
`SIDES` and calls `compare(...)`. The harness then

* runs every side in its own subprocess (the script again, `--sidebyside-child NAME`), so each side's peak RSS
  is its own and neither warms the other's caches; the side times only what is inside `with clock:`;
* interleaves the sides over `repeats` rounds (A B A B ...) and prints min / median / max seconds of each;
* ASSERTS equal work before it prints a ratio: each side reports what it counted (rows, examples seen,
  optimiser steps, epochs, max length, longest batch, padding rule) and every field must agree across sides
  and repeats, as must the torch thread count; otherwise `UnequalWork` is raised and no row is written;
* records torch threads, the load average before and after, peak RSS per side, and the CPU that processes
  OUTSIDE the benchmark used while it ran (`other_cores`: every CPU second the machine spent, from
  /proc/stat, less this process's and its children's own); the row is marked `loaded` when that exceeds
  `OTHER_CORES_ABOVE` (or, where /proc/stat is missing, when the 1-minute load was above `LOADED_ABOVE`
  before it started). The load average alone cannot tell another job from the previous benchmark's own
  tail, so before the first side runs the harness waits (up to `QUIET_WAIT_S`) until the other processes
  are quiet; it appends one JSON row with the exact command to `benchmarks/results/<name>.jsonl`.

`count_training(model)` counts the work of any PyTorch training loop from the outside (forward pre-hook
and a global optimiser-step hook), so headstart and `transformers.Trainer` are counted the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CHILD_FLAG = "--sidebyside-child"
RESULT_PREFIX = "SIDEBYSIDE_RESULT "
LOADED_ABOVE = 0.5
OTHER_CORES_ABOVE = 0.1  # average cores used by other processes during a run above which it is `loaded`
QUIET_WAIT_S = 300.0


class UnequalWork(AssertionError):
    """The sides did different work: a ratio of their times would not mean anything."""


@dataclass
class Work:
    """What one side did, counted while it ran (not what it was asked to do)."""

    rows: int  # distinct training (or input) rows
    examples: int = 0  # rows processed in total (rows x epochs for training)
    steps: int = 0  # optimiser steps (0 for inference)
    epochs: float = 0.0
    max_length: int = 0  # truncation length the side was configured with
    longest_batch: int = 0  # widest padded batch actually seen, in tokens
    padding: str = ""  # the padding rule, e.g. "longest-in-batch"
    extra: dict[str, Any] = field(default_factory=dict)  # further fields that must agree (batch size...)
    info: dict[str, Any] = field(default_factory=dict)  # recorded, not compared (e.g. padded tokens)

    def compared(self) -> dict[str, Any]:
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("extra", "info")}
        fields["epochs"] = round(float(fields["epochs"]), 6)
        return {**fields, **self.extra}


class Clock:
    """The timed part of a side: `with clock: ...` (may be entered several times; the times add up)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.entered = 0
        self._start = 0.0

    def __enter__(self) -> "Clock":
        self.entered += 1
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds += time.perf_counter() - self._start


Side = Callable[[dict, Clock], Work]


@dataclass
class Run:
    """One side, one repeat, as its subprocess reported it."""

    side: str
    seconds: float
    work: dict[str, Any]
    info: dict[str, Any]
    peak_rss_mb: float
    torch_threads: int | None


def check_equal_work(runs: Sequence[Run], same_threads: bool = True) -> dict[str, Any]:
    """The work every run did, if it is the same for all; else `UnequalWork` naming what differs.
    `same_threads=False` where the thread count is what the comparison varies (benchmarks/contention.py)."""
    if not runs:
        raise UnequalWork("no runs to compare")
    reference = runs[0]
    problems = []
    for run in runs[1:]:
        for key in sorted(set(reference.work) | set(run.work)):
            a, b = reference.work.get(key), run.work.get(key)
            if a != b:
                problems.append(f"{key}: {reference.side}={a!r} but {run.side}={b!r}")
        if same_threads and run.torch_threads != reference.torch_threads:
            problems.append(f"torch threads: {reference.side}={reference.torch_threads} "
                            f"but {run.side}={run.torch_threads}")
    if problems:
        unique = list(dict.fromkeys(problems))
        raise UnequalWork("the sides did not do the same work, so no ratio is printed:\n  " + "\n  ".join(unique))
    return reference.work


# ----------------------------------------------------------------------------------------------- counting


def _input_ids(args: tuple, kwargs: dict) -> Any:
    """The token ids of a forward call: a keyword, the first argument, or inside a feature mapping (as
    sentence-transformers passes them)."""
    if "input_ids" in kwargs:
        return kwargs["input_ids"]
    first = args[0] if args else None
    if first is not None and not hasattr(first, "shape") and hasattr(first, "get"):
        return first.get("input_ids")
    return first


@contextlib.contextmanager
def count_training(model: Any, rows: int, max_length: int, padding: str, **extra: Any) -> Iterator[Work]:
    """Count what a training loop does to `model`: examples and widths seen by forward calls made in training
    mode, and optimiser steps (any torch optimiser, through the global step hook)."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    work = Work(rows=rows, max_length=max_length, padding=padding, extra=dict(extra))
    work.info["padded_tokens"] = 0

    def on_forward(module: Any, args: tuple, kwargs: dict) -> None:
        if module.training:  # validation / prediction passes are not training work
            _count_batch(work, args, kwargs)

    def on_step(*_: Any) -> None:
        work.steps += 1

    hooks = [model.register_forward_pre_hook(on_forward, with_kwargs=True), register_optimizer_step_post_hook(on_step)]
    try:
        yield work
    finally:
        for hook in hooks:
            hook.remove()
        work.epochs = work.examples / rows if rows else 0.0


def _count_batch(work: Work, args: tuple, kwargs: dict) -> bool:
    """Add one forward call's rows, width and padded tokens to `work`; False when it had no input ids."""
    ids = _input_ids(args, kwargs)
    if ids is None:
        return False
    work.examples += int(ids.shape[0])
    work.longest_batch = max(work.longest_batch, int(ids.shape[1]))
    work.info["padded_tokens"] += int(ids.numel())
    return True


@contextlib.contextmanager
def count_inference(model: Any, rows: int, max_length: int, padding: str, **extra: Any) -> Iterator[Work]:
    """Count the rows and batch widths an encoder's forward calls see (any mode)."""
    work = Work(rows=rows, max_length=max_length, padding=padding, extra=dict(extra))
    work.info["padded_tokens"] = 0
    work.info["batches"] = 0

    def on_forward(module: Any, args: tuple, kwargs: dict) -> None:
        if _count_batch(work, args, kwargs):
            work.info["batches"] += 1

    hook = model.register_forward_pre_hook(on_forward, with_kwargs=True)
    try:
        yield work
    finally:
        hook.remove()
        work.epochs = work.examples / rows if rows else 0.0


# ----------------------------------------------------------------------------------------------- child side


def count_embedded() -> dict[str, int]:
    """Count the texts headstart's embedding encoder encodes from now on, in this (side's) process: the returned
    dict's "embedded" grows with every batch, whatever runtime or caller (probe, audit, prototype...) asked."""
    from headstart.embeddings import Encoder

    counted = {"embedded": 0}
    encode_batch = Encoder.encode_batch

    def counting_encode(self, texts, *args, **kwargs):
        counted["embedded"] += len(texts)
        return encode_batch(self, texts, *args, **kwargs)

    Encoder.encode_batch = counting_encode
    return counted


def child_requested(argv: Sequence[str] | None = None) -> bool:
    return CHILD_FLAG in (sys.argv if argv is None else argv)


def child_main(sides: dict[str, Side], argv: Sequence[str] | None = None) -> int:
    """Run one side (named after CHILD_FLAG) with the JSON config read from stdin; print the result line."""
    argv = list(sys.argv if argv is None else argv)
    name = argv[argv.index(CHILD_FLAG) + 1]
    config = json.loads(sys.stdin.read() or "{}")
    clock = Clock()
    work = sides[name](config, clock)
    if not clock.entered:
        raise RuntimeError(f"side {name!r} never entered its clock: nothing was timed")
    torch = sys.modules.get("torch")
    plan = getattr(sys.modules.get("headstart.threads"), "current", lambda: None)()
    if plan is not None:
        work.info["thread_plan"] = plan.describe()
    result = {"seconds": clock.seconds, "work": work.compared(), "info": work.info,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
              "torch_threads": torch.get_num_threads() if torch is not None else None}
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


def run_child(script: str, side: str, config: dict, env: dict[str, str] | None = None,
              new_session: bool = False) -> Run:
    """Run `script` as a child for one side and read its result line; its other output passes through as it
    comes (a long side shows its progress). new_session: the child leads a session of its own, as the
    `headstart` command runs its work (headstart/launch.py)."""
    proc = subprocess.Popen([sys.executable, script, CHILD_FLAG, side], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env, start_new_session=new_session)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(config))
    proc.stdin.close()
    found = []
    for line in proc.stdout:
        if line.startswith(RESULT_PREFIX):
            found.append(line.strip())
        else:
            print(line, end="", flush=True)
    proc.wait()
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"side {side!r} failed (exit {proc.returncode}); its output is above")
    data = json.loads(found[-1][len(RESULT_PREFIX):])
    return Run(side=side, seconds=data["seconds"], work=data["work"], info=data["info"],
               peak_rss_mb=data["peak_rss_mb"], torch_threads=data["torch_threads"])


# ----------------------------------------------------------------------------------------------- parent side

@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds the whole machine (`busy_s`, from /proc/stat; nan where there is none) and this process with
    its waited-for children (`own_s`) had used at wall-clock time `wall`."""

    wall: float
    busy_s: float
    own_s: float


def cpu_snapshot() -> CpuSnapshot:
    own = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal ...: busy = all but idle, iowait and steal
        busy = (sum(fields[:3]) + sum(fields[5:7])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        busy = float("nan")
    return CpuSnapshot(time.monotonic(), busy, own)


def other_cores(before: CpuSnapshot, after: CpuSnapshot) -> float:
    """Average cores used between two snapshots by processes that are neither this one nor its (waited-for)
    children: 0 on a quiet machine, about 2 beside another 2-thread job; nan where it cannot be measured.
    Children still running at `after` are not yet counted as ours, so take `after` once they are waited for."""
    wall = after.wall - before.wall
    if wall <= 0 or before.busy_s != before.busy_s:
        return float("nan")
    return max(0.0, ((after.busy_s - before.busy_s) - (after.own_s - before.own_s)) / wall)


def wait_until_quiet(window_s: float = 5.0, limit_s: float | None = None) -> float:
    """Wait until other processes use at most OTHER_CORES_ABOVE over `window_s` (at most `limit_s`, default
    QUIET_WAIT_S; 0 waits not at all and returns nan); return what they used in the last window (recorded;
    a run that never got quiet is marked loaded by what it measures while it runs)."""
    limit = QUIET_WAIT_S if limit_s is None else limit_s
    if limit <= 0:
        return float("nan")
    deadline = time.monotonic() + limit
    while True:
        before = cpu_snapshot()
        time.sleep(window_s)
        used = other_cores(before, cpu_snapshot())
        if not used > OTHER_CORES_ABOVE or time.monotonic() >= deadline:
            return used


@contextlib.contextmanager
def watching_others(wait_quiet: bool = True) -> Iterator[dict[str, Any]]:
    """What every benchmark does around its measured part: wait until other processes are quiet
    (`wait_until_quiet`, unless `wait_quiet` is False), then watch them while the block runs. Yields a dict
    that holds `load_before` and `other_cores_before` at once, and after the block `load_after`, `other_cores`
    (the cores processes outside this one and its waited-for children used meanwhile; `other_cores_raw`
    unrounded, nan when unmeasurable) and `loaded` (`is_loaded`)."""
    quiet_before = wait_until_quiet() if wait_quiet else float("nan")
    load_before = os.getloadavg()
    watch: dict[str, Any] = {"load_before": [round(x, 2) for x in load_before],
                             "other_cores_before": cores(quiet_before)}
    before = cpu_snapshot()
    yield watch
    other = other_cores(before, cpu_snapshot())
    watch.update(load_after=[round(x, 2) for x in os.getloadavg()], other_cores=cores(other), other_cores_raw=other,
                 loaded=is_loaded(other, load_before))


def cores(value: float) -> float | None:
    """A measured core count for a JSON row: rounded, or None (null) where it could not be measured."""
    return round(value, 3) if value == value else None


def is_loaded(other: float, load_before: Sequence[float]) -> bool:
    """The run shared the machine: other processes used more than OTHER_CORES_ABOVE on average (where that can
    be measured), else the 1-minute load average before it was above LOADED_ABOVE."""
    return other > OTHER_CORES_ABOVE if other == other else load_before[0] > LOADED_ABOVE


def user_set(name: str) -> bool:
    """Whether `name` is in the environment by the user's choice, not set by headstart.threads at import
    (which lists what it set, with the value, in HEADSTART_THREADS_SET)."""
    ours = dict(item.split("=", 1) for item in os.environ.get("HEADSTART_THREADS_SET", "").split(",") if "=" in item)
    return name in os.environ and ours.get(name) != os.environ[name]


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def compare(name: str, script: str, sides: Sequence[str], config: dict, *, repeats: int = 3,
            ratios: Sequence[tuple[str, str]] = (), env_of: dict[str, dict[str, str]] | None = None,
            beside: dict[str, Callable[[], contextlib.AbstractContextManager]] | None = None,
            threads: int | None = 0, same_threads: bool = True, results_dir: Path | None = RESULTS_DIR,
            runner: Callable[..., Run] = run_child, wait_quiet: bool = True) -> dict[str, Any]:
    """Run `sides` of `script` interleaved `repeats` times, check equal work, print and record the figures.

    ratios: (slower_candidate, reference) pairs; each is reported as median(a) / median(b) seconds.
    env_of: extra environment per side (e.g. a thread policy). beside: a context manager per side that runs
    during each of its repeats (e.g. a competing load process). threads: torch threads of every side, fixed
    through HEADSTART_THREADS so that the sides cannot differ (0: the CPUs this process may use; None: each
    child decides, as `headstart` would, e.g. to compare thread policies). A user's OMP_NUM_THREADS wins.
    wait_quiet: first wait until other processes are quiet (`wait_until_quiet`).
    """
    if repeats < 1:
        raise ValueError(f"expected repeats >= 1; got {repeats}")
    fixed = {} if threads is None or user_set("OMP_NUM_THREADS") else {
        "HEADSTART_THREADS": str(threads or len(os.sched_getaffinity(0)))}
    runs: list[Run] = []
    with watching_others(wait_quiet) as watch:
        for repeat in range(repeats):
            for side in sides:
                env = dict(os.environ, **fixed, **(env_of or {}).get(side, {}))
                around = (beside or {}).get(side, contextlib.nullcontext)
                with around():
                    run = runner(script, side, config, env=env)
                runs.append(run)
                print(f"# {name} repeat {repeat + 1}/{repeats} {side}: {run.seconds:.2f} s, "
                      f"peak RSS {run.peak_rss_mb:.0f} MB, torch threads {run.torch_threads}", flush=True)
    work = check_equal_work(runs, same_threads)  # raises before any ratio is printed or recorded
    row: dict[str, Any] = {
        "benchmark": name, "command": shlex.join([sys.executable, *sys.argv]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "host": platform.node(),
        "cpus": len(os.sched_getaffinity(0)), "repeats": repeats, "config": config, "work": work,
        "torch_threads": runs[0].torch_threads if same_threads else "per side",
        **{k: watch[k] for k in ("load_before", "load_after", "other_cores", "other_cores_before", "loaded")},
        "sides": {}}
    for side in sides:
        mine = [r for r in runs if r.side == side]
        row["sides"][side] = {"seconds": spread([r.seconds for r in mine]), "runs_s": [r.seconds for r in mine],
                              "torch_threads": sorted({r.torch_threads for r in mine}, key=str),
                              "peak_rss_mb": max(r.peak_rss_mb for r in mine), "info": mine[-1].info,
                              "env": (env_of or {}).get(side, {}), "beside": side in (beside or {})}
    row["ratios"] = {f"{a}/{b}": row["sides"][a]["seconds"]["median"] / row["sides"][b]["seconds"]["median"]
                     for a, b in ratios}
    print_row(row)
    if results_dir is not None:
        results_dir.mkdir(parents=True, exist_ok=True)
        with open(results_dir / f"{name}.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"# appended to {results_dir / (name + '.jsonl')}", flush=True)
    return row


def print_row(row: dict[str, Any]) -> None:
    print(f"\n{row['benchmark']}: equal work {json.dumps(row['work'])}")
    print(f"torch threads {row['torch_threads']}; load average before {row['load_before'][0]:.2f}, "
          f"after {row['load_after'][0]:.2f}; other processes used "
          f"{'?' if row.get('other_cores') is None else format(row['other_cores'], '.2f')} cores on average while it ran" + ("  ** LOADED machine: ratios are not reportable **"
                                              if row["loaded"] else ""))
    for side, figures in row["sides"].items():
        s = figures["seconds"]
        print(f"  {side:<28} min {s['min']:8.2f} s  median {s['median']:8.2f} s  max {s['max']:8.2f} s  "
              f"peak RSS {figures['peak_rss_mb']:7.0f} MB  threads {figures['torch_threads']}")
    for key, value in row["ratios"].items():
        print(f"  ratio {key} (median seconds): {value:.2f}" + (" (loaded)" if row["loaded"] else ""))
    sys.stdout.flush()
