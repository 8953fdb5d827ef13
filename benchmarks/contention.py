"""Issue 22 section 4: the demo-sized fits on a quiet machine and beside one competing 2-thread PyTorch job,
with PyTorch's own thread settings (`none`, what headstart did before) and with headstart.threads (`auto`).

Every (policy, condition) pair is one side of benchmarks/sidebyside.py: each run is a fresh process with a
fresh empty HEADSTART_CACHE (so the probe embeds every text each time), the sides are interleaved over
--repeats rounds, and the counted work (training rows, optimiser steps, texts embedded, test rows) must be
equal on all sides before a ratio is printed. The thread count differs by design (it is what `auto` decides).

    python benchmarks/contention.py                              # full: 3 repeats x 4 sides, about 35 min
    python benchmarks/contention.py --policies auto              # only the new settings, about 10 min
    python benchmarks/contention.py --sides none:quiet,auto:quiet,auto:contended   # both targets, about 15 min
    python benchmarks/contention.py --rows 200 --repeats 1 --policies auto   # a smoke run
    python benchmarks/contention.py --spin-count 100000          # try another spin for the auto policy
    python benchmarks/contention.py --sides auto:quiet,auto:contended --load-session separate   # load in its own session
    python benchmarks/contention.py --sides none:quiet,auto:quiet,auto:later   # the load starts 15 s into each run
    python benchmarks/contention.py --fit-session caller   # the fits in this script's session (the Python API)

Where the fits run (--fit-session): `command` (default) starts each side's process in a session of its own
where headstart/launch.py would move the `headstart` command (autogroup on, HEADSTART_SESSION not off): what a
user of the command gets. `caller` keeps it in this script's session: what a Python script calling the API gets.
With the load in the same session (--load-session same) the two differ: autogroup shares the CPUs per thread
within a session and per session between sessions.

Targets: auto contended <= 2.3x auto quiet (also when the load starts during the run: 'later');
auto quiet <= 1.05x none quiet. One JSON row is appended to
benchmarks/results/contention.jsonl. Run it with nothing else running on the machine.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile

import headstart  # noqa: F401  first: its import decides the thread settings, before anything loads torch
import competing_load
import sidebyside
from headstart import launch
from headstart.cli.demo import DemoArgs

TARGET_CONTENDED = 2.3
TARGET_QUIET = 1.05
# "all": every usable CPU with the short spin, whatever else runs (what `auto` would pick on a quiet machine)
POLICY_ENV = {"none": {"HEADSTART_THREADS": "off"}, "auto": {"HEADSTART_THREADS": "auto"},
              "all": {"HEADSTART_THREADS": str(len(os.sched_getaffinity(0)))}}


def side_fits(config: dict, clock: sidebyside.Clock) -> sidebyside.Work:
    """The demo's fits (headstart.cli.demo.run_fits), timed from the first fit to the last score."""
    os.environ["HEADSTART_CACHE"] = tempfile.mkdtemp(prefix="hs-contention-")  # fresh, empty: nothing reused
    from torch.optim.optimizer import register_optimizer_step_post_hook

    from headstart.cli.demo import run_fits
    from headstart.data import read_examples, sample_per_class
    from headstart.resources import DEMO_TEST, DEMO_TRAIN

    train = read_examples(DEMO_TRAIN)
    if config["rows"] < len(train):
        train = sample_per_class(train, config["rows"] // 2, config["seed"])
    test = read_examples(DEMO_TEST)
    embedded = sidebyside.count_embedded()
    counted = {"steps": 0}
    register_optimizer_step_post_hook(lambda *_: counted.__setitem__("steps", counted["steps"] + 1))
    with clock:
        fitted = run_fits(train, test, config["strategies"], config["seed"], config["epochs"])
    return sidebyside.Work(rows=len(train), steps=counted["steps"], epochs=config["epochs"],
                           extra={"strategies": config["strategies"], "texts_embedded": embedded["embedded"],
                                  "test_rows": len(test)},
                           info={name: f.row for name, f in fitted.items()})


#: quiet: nothing else runs; contended: the competing job runs from before the start; later: it starts
#: --load-after seconds into the fits (a job that started on a quiet machine must give CPUs up while it runs)
CONDITIONS = ("quiet", "contended", "later")
FIT_SESSIONS = ("command", "caller")


def moves_like_the_command(fit_session: str) -> bool:
    """Whether a side's process gets a session of its own: under `command`, exactly where launch.py moves
    `headstart` (a process started by this script does not lead a session)."""
    return fit_session == "command" and launch.reason_to_stay(
        os.environ, leads_session=False, autogroup=launch.autogroup_enabled()) is None


SIDES = {f"{policy}:{condition}": side_fits for policy in POLICY_ENV for condition in CONDITIONS}


def main(argv: list[str] | None = None) -> int:
    if sidebyside.child_requested(argv):
        return sidebyside.child_main(SIDES, argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", default="none,auto", help="thread policies to compare: none (PyTorch's "
                        "defaults, as before), auto (headstart.threads), all (every usable CPU, short spin)")
    parser.add_argument("--rows", type=int, default=DemoArgs.train_rows, help="training rows (the demo's default)")
    parser.add_argument("--strategies", default="scratch-tfidf,probe,finetune")
    parser.add_argument("--epochs", type=int, default=DemoArgs.epochs, help="epochs (the demo's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--load-threads", type=int, default=2, help="threads of the competing PyTorch job")
    parser.add_argument("--load-session", choices=competing_load.LOAD_SESSIONS, default="same",
                        help="the competing job in this session (a second job of the same shell) or in its own "
                             "(another terminal): Linux's autogroup shares the CPUs per thread in the first case, "
                             "per session in the second")
    parser.add_argument("--fit-session", choices=FIT_SESSIONS, default="command",
                        help="command: each side in a session of its own where the `headstart` command would move "
                             "(headstart/launch.py); caller: in this script's session, as a script using the API")
    parser.add_argument("--load-after", type=float, default=15.0,
                        help="seconds into each run at which the competing job starts, for the 'later' sides")
    parser.add_argument("--spin-count", type=int, default=0,
                        help="GOMP_SPINCOUNT for the auto policy instead of headstart.threads.SPIN_COUNT (to tune it)")
    parser.add_argument("--sides", default="", help="only these policy:condition sides, e.g. "
                        "none:quiet,auto:quiet,auto:contended (skips the slowest, none:contended); default: all")
    parser.add_argument("--results-dir", default=str(sidebyside.RESULTS_DIR), help="'' to keep no row")
    args = parser.parse_args(argv)
    policies = [p for p in args.policies.split(",") if p]
    unknown = [p for p in policies if p not in POLICY_ENV]
    if unknown:
        parser.error(f"expected --policies from {sorted(POLICY_ENV)}; got {unknown}")
    mine = [k for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if sidebyside.user_set(k)]
    if mine:
        parser.error(f"expected no OpenMP settings in the environment (they would decide for both policies); "
                     f"got {mine}; unset them and run again")
    sides = [f"{p}:{c}" for p in policies for c in ("quiet", "contended")]  # 'later' only when asked for
    if args.sides:
        wanted = [s for s in args.sides.split(",") if s]
        every = [f"{p}:{c}" for p in policies for c in CONDITIONS]
        if not set(wanted) <= set(every):
            parser.error(f"expected --sides from {every}; got {sorted(set(wanted) - set(every))}")
        sides = [s for s in every if s in wanted]
    policy_env = {p: dict(POLICY_ENV[p]) for p in policies}
    if args.spin_count and "auto" in policy_env:
        policy_env["auto"]["GOMP_SPINCOUNT"] = str(args.spin_count)
    config = {"rows": args.rows, "strategies": [s for s in args.strategies.split(",") if s], "epochs": args.epochs,
              "seed": args.seed}
    ratios = [(f"{p}:{c}", f"{p}:quiet") for p in policies for c in ("contended", "later")
              if {f"{p}:{c}", f"{p}:quiet"} <= set(sides)]
    if {"none:quiet", "auto:quiet"} <= set(sides):
        ratios.append(("auto:quiet", "none:quiet"))
    config["load_session"] = args.load_session
    config["fit_session"] = args.fit_session
    config["fit_own_session"] = moves_like_the_command(args.fit_session)
    if any(s.endswith(":later") for s in sides):
        config["load_after_s"] = args.load_after
    load = lambda: competing_load.competing_load(args.load_threads, session=args.load_session)  # noqa: E731
    later = lambda: competing_load.competing_load(args.load_threads, session=args.load_session,  # noqa: E731
                                              delay_s=args.load_after)
    row = sidebyside.compare(
        "contention", __file__, sides, config, repeats=args.repeats, ratios=ratios,
        env_of={s: policy_env[s.split(":")[0]] for s in sides},
        beside={s: load if s.endswith(":contended") else later for s in sides if not s.endswith(":quiet")},
        threads=None, same_threads=False,
        runner=functools.partial(sidebyside.run_child, new_session=config["fit_own_session"]),
        results_dir=sidebyside.Path(args.results_dir) if args.results_dir else None)
    for key, value in row["ratios"].items():
        target = TARGET_QUIET if key == "auto:quiet/none:quiet" else TARGET_CONTENDED
        print(f"target {key} <= {target}: {'met' if value <= target else 'NOT met'} ({value:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
