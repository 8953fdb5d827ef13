"""The `headstart` command runs in a session of its own (launch.py): when it moves, and that the supervisor left in
the shell's session passes on exit codes, Ctrl-C, Ctrl-Z, a kill and the user's `nice`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from headstart import launch

SRC = str(Path(__file__).resolve().parents[1] / "src")
LINUX = sys.platform.startswith("linux")
needs_linux = pytest.mark.skipif(not LINUX, reason="sessions, /proc and prctl are Linux's")
needs_autogroup = pytest.mark.skipif(not launch.autogroup_enabled(), reason="the kernel runs without autogroup")


def test_moves_by_default_when_it_can_matter():
    assert launch.reason_to_stay({}, leads_session=False, autogroup=True) is None


@pytest.mark.parametrize("environ,leads,autogroup,why", [
    ({"HEADSTART_SESSION": "off"}, False, True, "HEADSTART_SESSION=off"),
    ({"HEADSTART_SESSION": " OFF "}, False, True, "HEADSTART_SESSION=off"),
    ({}, True, True, "leads its session"),
    ({"LOCAL_RANK": "0"}, False, True, "torchrun"),
    ({"TORCHELASTIC_RUN_ID": "x"}, False, True, "torchrun"),
    ({}, False, False, "autogroup off"),
])
def test_stays_where_moving_cannot_help_or_is_not_ours(environ, leads, autogroup, why):
    assert why in launch.reason_to_stay(environ, leads_session=leads, autogroup=autogroup)


@pytest.mark.parametrize("value", ["on", "1", "yes", "own"])
def test_an_unknown_choice_is_refused_with_the_choices(value):
    with pytest.raises(ValueError, match=r"expected one of auto, off; got"):
        launch.reason_to_stay({"HEADSTART_SESSION": value}, leads_session=False, autogroup=True)


def test_the_command_refuses_an_unknown_choice_with_exit_2():
    done = subprocess.run([sys.executable, "-m", "headstart", "--version"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": SRC, "HEADSTART_SESSION": "sometimes"}, timeout=60)
    assert done.returncode == 2 and "HEADSTART_SESSION expected one of auto, off" in done.stderr


def test_autogroup_switch_reading(tmp_path):
    switch = tmp_path / "switch"
    assert not launch.autogroup_enabled(switch)  # missing: not Linux, or an old kernel
    switch.write_text("1\n")
    assert launch.autogroup_enabled(switch)
    switch.write_text("0\n")
    assert not launch.autogroup_enabled(switch)


def test_importing_the_package_loads_no_heavy_library():
    # the supervisor imports headstart; loading torch there would double every command's start-up
    code = ("import sys, headstart.launch; "
            "print(sorted(m for m in ('torch', 'sklearn', 'transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": SRC})
    assert done.stdout.strip() == "[]", done.stderr


def test_public_names_still_import_from_the_package():
    import headstart

    assert headstart.TextClassifier.__name__ == "TextClassifier"
    assert "TextClassifier" in dir(headstart)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        headstart.nothing_here  # noqa: B018


def test_submodules_are_attributes_after_a_plain_import():
    # `import headstart` used to load these eagerly; code that reached them as attributes keeps working
    code = "import headstart; print(headstart.strategies.strategy_names()[:1], headstart.unlabelled.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SRC})
    assert done.returncode == 0 and "headstart.unlabelled" in done.stdout, done.stderr


# --- the supervisor, as a process of its own so that the test can signal it ---------------------------------------

def _supervised(child_code: str, before: str = "", **popen) -> subprocess.Popen:
    """A Python process whose main runs `supervise` over a child executing `child_code`."""
    parent = textwrap.dedent(f"""
        import sys
        {before}
        from headstart.launch import supervise
        sys.exit(supervise([sys.executable, "-c", {textwrap.dedent(child_code)!r}]))
    """)
    return subprocess.Popen([sys.executable, "-c", parent], env={**os.environ, "PYTHONPATH": SRC},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _state(pid: int) -> str:
    """The process state letter from /proc (R, S, T, Z...), '' when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return ""


def _session(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[3])


def _wait_for(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# the ready line is printed inside the try: a Ctrl-C sent as soon as it is read must find the handler in place
READY_THEN_WAIT = """
    import os, sys, time
    try:
        print(os.getpid(), os.getsid(0), flush=True)
        time.sleep(60)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
"""


def _interrupted(proc: subprocess.Popen) -> bool:
    """Ctrl-C the supervisor: True when the child heard it and the supervisor ended with the child's 130."""
    proc.send_signal(signal.SIGINT)  # what the terminal sends the foreground process: the supervisor only
    out, _ = proc.communicate(timeout=30)
    return proc.returncode == 130 and "interrupted" in out


def _child_pid(proc: subprocess.Popen) -> int:
    pid, sid = (int(x) for x in proc.stdout.readline().split())
    assert sid == pid != proc.pid  # the child leads a session of its own
    return pid


@needs_linux
def test_child_runs_in_a_new_session_and_its_exit_code_comes_back():
    proc = _supervised("import os, sys; print(os.getsid(0) == os.getpid(), flush=True); sys.exit(7)")
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out.strip()) == (7, "True"), err


@needs_linux
def test_ctrl_c_reaches_the_child_and_its_code_is_returned():
    proc = _supervised(READY_THEN_WAIT)
    _child_pid(proc)
    assert _interrupted(proc)


@needs_linux
def test_a_signal_the_command_was_started_ignoring_stays_ignored():
    # `nohup headstart fit ...`: the hang-up must not reach the work through the supervisor
    proc = _supervised(READY_THEN_WAIT, before="import signal; signal.signal(signal.SIGHUP, signal.SIG_IGN)")
    child = _child_pid(proc)
    proc.send_signal(signal.SIGHUP)
    os.kill(child, signal.SIGHUP)  # the child inherited the ignore too
    time.sleep(0.5)
    assert proc.poll() is None and _state(child) in ("S", "R")
    assert _interrupted(proc)


@needs_linux
def test_a_child_killed_by_a_signal_ends_the_supervisor_with_that_signal():
    proc = _supervised(READY_THEN_WAIT)
    child = _child_pid(proc)
    os.kill(child, signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM


@needs_linux
def test_ctrl_z_stops_the_child_too_and_fg_continues_it():
    proc = _supervised(READY_THEN_WAIT)
    child = _child_pid(proc)
    proc.send_signal(signal.SIGTSTP)
    stopped = _wait_for(lambda: _state(child) == "T" and _state(proc.pid) == "T")
    proc.send_signal(signal.SIGCONT)  # `fg`: the shell continues the supervisor's group
    running = _wait_for(lambda: _state(child) in ("S", "R") and _state(proc.pid) in ("S", "R"))
    assert _interrupted(proc) and stopped and running


@needs_linux
def test_a_killed_supervisor_takes_its_child_down():
    proc = _supervised(READY_THEN_WAIT)
    child = _child_pid(proc)
    proc.kill()  # SIGKILL cannot be passed on: the child hears of it through PR_SET_PDEATHSIG
    proc.communicate(timeout=30)
    assert _wait_for(lambda: _state(child) in ("", "Z"))


@needs_linux
@needs_autogroup
def test_the_users_nice_carries_into_the_new_session():
    code = "print(open('/proc/self/autogroup').read().split()[-1], flush=True)"
    proc = _supervised(code, before="import os; os.nice(7)")
    out, err = proc.communicate(timeout=60)
    assert out.strip() == "7", err
    plain = _supervised(code)
    assert plain.communicate(timeout=60)[0].strip() == "0"


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@needs_linux
@needs_autogroup
@pytest.mark.parametrize("choice,moves", [("auto", True), ("off", False)])
def test_the_command_itself_moves_unless_told_not_to(choice, moves):
    # `python -m headstart --version` imports every command (seconds): time enough to look at the process tree
    proc = subprocess.Popen([sys.executable, "-m", "headstart", "--version"], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": SRC, "HEADSTART_SESSION": choice})
    seen: dict[int, int] = {}  # every child seen while the command ran, with its session
    supervisor_session = _session(proc.pid)
    while proc.poll() is None:
        for pid in _children(proc.pid):
            try:
                seen[pid] = _session(pid)
            except (OSError, IndexError):  # it ended between the two reads
                pass
        time.sleep(0.05)
    assert proc.returncode == 0 and proc.stdout.read().startswith("headstart ")
    if moves:
        assert supervisor_session == os.getsid(0)  # the process the shell started stays in the shell's session
        assert len(seen) == 1 and all(pid == sid for pid, sid in seen.items())  # its child leads a new session
    else:
        assert not seen
