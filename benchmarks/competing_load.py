"""The competing job of issue 22's busy-machine benchmarks (contention.py, demo_time.py): a PyTorch training loop
run beside the measured work, in this session or in one of its own."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from typing import Iterator

#: the competing job of issue 22: a PyTorch training loop on `threads` threads, with PyTorch's default OpenMP
#: settings (none of headstart's), printing one line once it runs
# The load stops by itself when its parent is gone (a killed benchmark must not leave it spinning, which
# would load every later measurement) and after an hour at most.
LOAD_CODE = """
import os, sys, time, torch
parent, deadline = os.getppid(), time.monotonic() + 3600
torch.set_num_threads({threads})
model = torch.nn.Sequential(torch.nn.Linear(256, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 256))
opt = torch.optim.SGD(model.parameters(), lr=1e-3)
x = torch.randn(128, 256)
for step in range(10**12):
    loss = model(x).pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    if step == 5:
        print("load running", flush=True)
    if step % 50 == 0 and (os.getppid() != parent or time.monotonic() > deadline):
        break
"""
THREAD_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "MKL_NUM_THREADS",
              "HEADSTART_THREADS", "HEADSTART_THREADS_SET")


#: where the competing job runs. "same": in this process's session, as a second job started from the same shell;
#: Linux's autogroup scheduler then shares the CPUs per thread among both jobs. "separate": in a session of its own,
#: as a job started from another terminal, tmux window or service; autogroup then gives each session an equal share
#: of the CPUs whatever its thread count (where /proc/sys/kernel/sched_autogroup_enabled is 1).
LOAD_SESSIONS = ("same", "separate")


@contextlib.contextmanager
def competing_load(threads: int = 2, settle_s: float = 2.0, session: str = "same",
                   delay_s: float = 0.0) -> Iterator[subprocess.Popen | None]:
    """Run the competing PyTorch job for the duration of the block: started and running before it begins, or,
    with `delay_s`, started that many seconds into the block (a job that appears while the measured one runs;
    the block then gets None)."""
    if session not in LOAD_SESSIONS:
        raise ValueError(f"expected a load session in {LOAD_SESSIONS}; got {session!r}")
    if delay_s <= 0:
        proc = _start_load(threads, session)
        try:
            time.sleep(settle_s)
            yield proc
        finally:
            _stop_load(proc)
        return
    started: list[subprocess.Popen] = []
    ended = threading.Event()

    def start_later() -> None:
        if not ended.wait(delay_s):
            started.append(_start_load(threads, session))

    timer = threading.Thread(target=start_later, daemon=True)
    timer.start()
    try:
        yield None
    finally:
        ended.set()
        timer.join()
        for proc in started:
            _stop_load(proc)


def _start_load(threads: int, session: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_ENV}
    proc = subprocess.Popen([sys.executable, "-c", LOAD_CODE.format(threads=threads)], env=env,
                            stdout=subprocess.PIPE, text=True, start_new_session=session == "separate")
    if proc.stdout is None or "load running" not in proc.stdout.readline():
        _stop_load(proc)
        raise RuntimeError("the competing load process did not start")
    return proc


def _stop_load(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
