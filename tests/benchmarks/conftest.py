"""Benchmark scripts wait for a quiet machine before they time anything; the tests check their logic, not
timings, and run beside other test workers, so they never wait."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))


@pytest.fixture(autouse=True)
def _no_wait_for_quiet(monkeypatch):
    sidebyside = pytest.importorskip("sidebyside")
    monkeypatch.setattr(sidebyside, "QUIET_WAIT_S", 0.0)
