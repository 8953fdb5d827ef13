"""Issue 17: wall time of `headstart demo` as a user runs it (a fresh process, a fresh empty HEADSTART_CACHE
each run), quiet and, with --beside-load, beside one competing 2-thread PyTorch job (issue 22).

    python benchmarks/demo_time.py                    # 3 quiet runs, about 3-4 min on 2 cores
    python benchmarks/demo_time.py --beside-load      # 3 quiet + 3 contended runs, interleaved, about 10 min

Prints min / median / max per condition against the 180 s target, the peak RSS of each run, the load average
before and after (the row is marked `loaded` above 0.5 before), and appends one JSON row with the exact command
to benchmarks/results/demo_time.jsonl. Extra arguments after `--` go to `headstart demo`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import competing_load
import sidebyside

TARGET_S = 180.0


def run_demo(demo_args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """One `headstart demo` in a fresh process and cache: (seconds, peak RSS in MB, its last output lines)."""
    with tempfile.TemporaryDirectory(prefix="hs-demo-time-") as cache:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "headstart", "demo", *demo_args],
                                env=dict(env, HEADSTART_CACHE=cache), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        out = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS, not the largest of all children
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"headstart demo failed (exit {proc.returncode}):\n{out}")
    return seconds, usage.ru_maxrss / 1024.0, "\n".join(out.strip().splitlines()[-3:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--beside-load", action="store_true", help="also run beside a competing PyTorch job")
    parser.add_argument("--load-threads", type=int, default=2)
    parser.add_argument("--load-session", choices=competing_load.LOAD_SESSIONS, default="same",
                        help="the competing job in this session (same shell) or its own (another terminal)")
    parser.add_argument("--results-dir", default=str(sidebyside.RESULTS_DIR), help="'' to keep no row")
    parser.add_argument("demo_args", nargs="*", help="arguments for `headstart demo` (after --)")
    args = parser.parse_args(argv)
    conditions = ["quiet", "contended"] if args.beside_load else ["quiet"]
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p))
    runs: dict[str, list[dict]] = {c: [] for c in conditions}
    with sidebyside.watching_others() as watch:  # the competing load is a child of ours: not "other"
        for repeat in range(args.repeats):
            for condition in conditions:
                around = (competing_load.competing_load(args.load_threads, session=args.load_session)
                          if condition == "contended" else None)
                with around if around is not None else contextlib.nullcontext():
                    seconds, rss, tail = run_demo(args.demo_args, env)
                runs[condition].append({"seconds": seconds, "peak_rss_mb": rss})
                print(f"# repeat {repeat + 1}/{args.repeats} {condition}: {seconds:.1f} s, peak RSS {rss:.0f} MB\n"
                      f"{tail}", flush=True)
    other = watch["other_cores_raw"]
    row = {"benchmark": "demo_time", "command": shlex.join([sys.executable, *sys.argv]),
           "date": datetime.datetime.now().isoformat(timespec="seconds"), "host": platform.node(),
           "cpus": len(os.sched_getaffinity(0)), "repeats": args.repeats, "demo_args": args.demo_args,
           **{k: watch[k] for k in ("load_before", "load_after", "other_cores", "other_cores_before", "loaded")},
           "target_s": TARGET_S, "load_session": args.load_session, "conditions": {}}
    print(f"\nheadstart demo, fresh cache each run; load average before {watch['load_before'][0]:.2f}, after "
          f"{watch['load_after'][0]:.2f}; other processes used {other:.2f} cores on average"
          + ("  ** LOADED machine: not reportable **" if row["loaded"] else ""))
    for condition, mine in runs.items():
        s = sidebyside.spread([r["seconds"] for r in mine])
        row["conditions"][condition] = {"seconds": s, "runs_s": [r["seconds"] for r in mine],
                                        "peak_rss_mb": max(r["peak_rss_mb"] for r in mine)}
        print(f"  {condition:<10} min {s['min']:6.1f} s  median {s['median']:6.1f} s  max {s['max']:6.1f} s  "
              f"peak RSS {row['conditions'][condition]['peak_rss_mb']:.0f} MB  target <= {TARGET_S:.0f} s: "
              f"{'met' if s['max'] <= TARGET_S else 'NOT met'}")
    if args.results_dir:
        results = Path(args.results_dir)
        results.mkdir(parents=True, exist_ok=True)
        with open(results / "demo_time.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
