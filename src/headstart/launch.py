"""The `headstart` command's entry point: run the command in a session of its own, so that it gets its fair share
of the CPUs beside another job started from the same shell.

Why: Linux's scheduler (with autogroup, on by default in most desktop and server distributions) shares the
CPUs fairly between *sessions* (terminals, services), and within one session between *threads*. A 2-thread
PyTorch job started from the same shell as `headstart fit` therefore took two thirds of a 2-core machine and
left the fit a third (benchmarks/contention.py: 2.35x its quiet time). Run in a new session, the command is one
scheduling group like any other terminal's and gets half the machine whatever the other job's thread count
(1.57x).

How: the process the shell started stays in the shell's session as a thin supervisor (it imports nothing heavy)
and runs the real command as a child in a new session (`setsid`). It passes on what the terminal sends it:
Ctrl-C (SIGINT), SIGTERM, SIGHUP and SIGQUIT go to the child, except a signal the command was started ignoring
(`nohup` ignores SIGHUP), which both keep ignoring. Ctrl-Z stops the child and then itself; `fg` continues both.
It ends with the child's exit code (or dies of the child's signal), and the child is sent SIGTERM if the
supervisor dies (`prctl(PR_SET_PDEATHSIG)`). A `nice` value the user gave the command is copied to the new
session's group (`/proc/self/autogroup`), so `nice headstart ...` still yields to the other job.

The move is skipped when it cannot change anything or belongs to someone else: ``HEADSTART_SESSION=off``, not
Linux or autogroup off (`/proc/sys/kernel/sched_autogroup_enabled`), the process already leads its session (a
service, a notebook kernel, the child itself), or a launcher that manages its workers (torchrun) started it.
The Python API (`TextClassifier` in a script) runs where the script runs: beside a job of the same shell it gets
the per-thread share; started from another terminal or tmux window it gets a session's.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Mapping, Sequence

ENV_VAR = "HEADSTART_SESSION"
CHOICES = ("auto", "off")
AUTOGROUP_SWITCH = Path("/proc/sys/kernel/sched_autogroup_enabled")
#: set by torchrun / torch.distributed.elastic for each worker it starts and watches
MANAGED_BY_LAUNCHER = ("TORCHELASTIC_RUN_ID", "LOCAL_RANK")
#: what the terminal (or a process manager) sends the command, passed on to the child
FORWARDED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name))
_PR_SET_PDEATHSIG = 1
EXIT_USER_ERROR = 2  # as headstart.cli (which imports heavy libraries, so cannot be imported here)


def autogroup_enabled(switch: Path = AUTOGROUP_SWITCH) -> bool:
    """Whether the kernel groups the scheduling of each session (what makes a session of our own worth it)."""
    try:
        return switch.read_text().strip() == "1"
    except OSError:
        return False


def reason_to_stay(environ: Mapping[str, str], leads_session: bool, autogroup: bool) -> str | None:
    """Why the command should run in this process rather than a session of its own (None: move it).

    Raises ValueError for an unusable ``HEADSTART_SESSION``."""
    choice = environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(f"{ENV_VAR} expected one of {', '.join(CHOICES)}; got {environ[ENV_VAR]!r}. "
                         f"Unset it, or set {ENV_VAR}=off to run the command in the shell's own session")
    if choice == "off":
        return f"{ENV_VAR}=off"
    if leads_session:
        return "the process already leads its session"
    if any(name in environ for name in MANAGED_BY_LAUNCHER):
        return "a launcher (torchrun) manages this process"
    if not autogroup:
        return "the kernel does not group scheduling by session (autogroup off or not Linux)"
    return None


def _leads_session() -> bool:
    if not hasattr(os, "getsid"):  # Windows: no sessions to move between
        return True
    return os.getsid(0) == os.getpid()


def _prepare_child(libc: ctypes.CDLL | None, parent: int) -> Callable[[], None]:
    """What the child runs between fork and exec, after `setsid` (so its autogroup is its own already)."""

    def prepare() -> None:
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            if os.getppid() != parent:  # the supervisor died before prctl took effect
                os._exit(128 + signal.SIGTERM)
        niceness = os.getpriority(os.PRIO_PROCESS, 0)
        if niceness > 0:  # `nice headstart ...`: a new autogroup starts at 0, which would undo the user's nice
            try:
                with open("/proc/self/autogroup", "w") as group:
                    group.write(str(niceness))
            except OSError:
                pass

    return prepare


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:  # the child has ended already
        pass


def supervise(command: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Run `command` in a new session, passing on signals; return its exit code as a shell would see it."""
    try:
        libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
    except OSError:
        libc = None
    child: list[subprocess.Popen] = []
    pending: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        (_signal_group(child[0].pid, signum) if child else pending.append(signum))

    def pause(_signum: int, _frame: object) -> None:  # Ctrl-Z: stop the child, then ourselves; `fg` resumes both
        if child:
            _signal_group(child[0].pid, signal.SIGSTOP)
        os.kill(os.getpid(), signal.SIGSTOP)
        if child:
            _signal_group(child[0].pid, signal.SIGCONT)

    # a signal ignored here (`nohup` ignores SIGHUP, a non-interactive shell's `&` SIGINT) stays ignored, and the
    # child inherits that: forwarding it would end a child the user asked to survive it
    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED
                if signal.getsignal(signum) is not signal.SIG_IGN}
    if signal.getsignal(signal.SIGTSTP) is not signal.SIG_IGN:
        previous[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, pause)
    try:
        child.append(subprocess.Popen(list(command), env=None if env is None else dict(env),
                                      start_new_session=True, preexec_fn=_prepare_child(libc, os.getpid())))
        for signum in pending:
            _signal_group(child[0].pid, signum)
        code = child[0].wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if code < 0:  # the child died of a signal: so do we, so that the shell sees the same end
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code
    return code


def run() -> None:
    """Console-script entry (`headstart ...`, `python -m headstart ...`)."""
    try:
        stay = reason_to_stay(os.environ, _leads_session(), autogroup_enabled())
    except ValueError as exc:
        print(f"headstart: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    if stay is None:
        sys.exit(supervise([sys.executable, "-m", "headstart", *sys.argv[1:]]))
    from .cli import run as run_here  # here, not at the top: the supervisor above must not load torch

    run_here()
