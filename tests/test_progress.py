"""Progress when stderr is a log: plain throttled lines with count, loss, elapsed and ETA; events (validation
scores) always; a tqdm bar only on a terminal; nothing when switched off."""

from __future__ import annotations

import io

from headstart import progress
from headstart.progress import LineProgress, bar, progress_enabled


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_are_throttled_and_carry_count_postfix_and_eta():
    out, clock = io.StringIO(), FakeClock()
    p = LineProgress(100, "training", "step", stream=out, interval=10.0, clock=clock)
    for step in range(100):
        clock.now = step * 1.0 + 1.0  # one second per step
        p.set_postfix(loss=0.5)
        p.update(1)
    p.close()
    lines = out.getvalue().splitlines()
    # the first step, then one line every 10 s (steps 11, 21, ..., 91), then the closing line
    assert len(lines) == 1 + 9 + 1, lines
    assert lines[0] == "training: step 1/100 (1%)  loss 0.5000  1.0 s elapsed, ETA 1 min 39 s"
    assert lines[1].startswith("training: step 11/100 (11%)  loss 0.5000  11.0 s elapsed, ETA")
    assert lines[-1] == "training: step 100/100 (100%)  loss 0.5000  done in 1 min 40 s"


def test_events_print_at_once_with_the_position():
    out, clock = io.StringIO(), FakeClock()
    p = LineProgress(10, "training", "step", stream=out, interval=1e9, clock=clock)
    p.update(1)
    p.update(4)
    p.log(epoch=1, valid_accuracy=0.8125)
    assert out.getvalue().splitlines()[-1] == "training: step 5/10  epoch 1  valid_accuracy 0.8125"


def test_bar_without_a_terminal_is_plain_lines_and_off_is_silent(capsys, monkeypatch):
    monkeypatch.setattr(progress, "_interactive", lambda: False)
    b = bar(3, "embedding", "text")
    assert isinstance(b, LineProgress)
    b.update(3)
    b.close()
    assert "embedding: text 3/3 (100%)" in capsys.readouterr().err
    for silent in (bar(3, "x", enabled=False), _inside_disabled()):
        silent.update(3)
        silent.log(valid_accuracy=1.0)
        silent.close()
    assert capsys.readouterr().err == ""


def _inside_disabled():
    with progress_enabled(False):
        return bar(3, "x")


def test_bar_on_a_terminal_is_tqdm(monkeypatch):
    monkeypatch.setattr(progress, "_interactive", lambda: True)
    b = bar(3, "training", "step")
    assert isinstance(b, progress.TqdmProgress)
    b.close()
