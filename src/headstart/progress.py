"""Progress for long work that the caller can switch off for everything below it (API: progress=False,
CLI: --quiet).

On a terminal (or in a notebook) it is a tqdm bar. When stderr goes to a log or a pipe, a bar's carriage
returns leave nothing readable, so it becomes plain lines instead, the way `transformers` logs: one when the
work starts, one every `INTERVAL_SECONDS` with the count, the postfix (e.g. the loss), elapsed time and ETA,
one for every event the caller logs (a validation score), and one when it ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time
from typing import Any, Callable, Iterator, TextIO

_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("headstart_progress", default=True)

INTERVAL_SECONDS = 10.0
"""At most one plain progress line per this many seconds (events such as validation scores always print)."""


@contextlib.contextmanager
def progress_enabled(enabled: bool) -> Iterator[None]:
    """Switch progress on or off for every `bar()` opened inside the block (unless it passes `enabled`)."""
    token = _ENABLED.set(enabled)
    try:
        yield
    finally:
        _ENABLED.reset(token)


def _fmt_value(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _fmt_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """What the loops call: `update`, `set_postfix`, `log` (an event line, e.g. a validation score), `close`.
    This base class is the silent one (progress off)."""

    def update(self, n: int = 1) -> None:
        """`n` more units done."""

    def set_postfix(self, **values: Any) -> None:
        """Values shown with the count (e.g. loss=0.41), replacing the previous ones."""

    def log(self, **values: Any) -> None:
        """An event worth its own line now, such as a validation score; never throttled."""

    def close(self) -> None:
        """The work is over."""


class TqdmProgress(Progress):
    """A tqdm bar; events are written above it so they stay on screen after the bar is gone."""

    def __init__(self, total: int | None, desc: str, unit: str, initial: int = 0) -> None:
        from tqdm.auto import tqdm

        self.desc = desc
        self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True, initial=initial)

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def set_postfix(self, **values: Any) -> None:
        self._bar.set_postfix({k: _fmt_value(v) for k, v in values.items()})

    def log(self, **values: Any) -> None:
        self._bar.write(f"{self.desc}: " + "  ".join(f"{k} {_fmt_value(v)}" for k, v in values.items()),
                        file=sys.stderr)

    def close(self) -> None:
        self._bar.close()


class LineProgress(Progress):
    """Plain, throttled lines for logs: `training: step 40/108 (37%)  loss 0.4123  12.3 s elapsed, ETA 21.0 s`."""

    def __init__(self, total: int | None, desc: str, unit: str = "it", initial: int = 0,
                 stream: TextIO | None = None, interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self._initial = initial
        self._stream, self._clock = stream, clock
        self._interval = INTERVAL_SECONDS if interval is None else interval
        self._start = clock()
        self._last: float | None = None
        self._postfix: dict[str, Any] = {}
        self._closed = False

    def _emit(self, text: str) -> None:
        print(f"{self.desc}: {text}", file=self._stream or sys.stderr, flush=True)

    def _count(self) -> str:
        if self.total:
            return f"{self.unit} {self.n:,}/{self.total:,} ({100 * self.n / self.total:.0f}%)"
        return f"{self.unit} {self.n:,}"

    def _line(self, done_in: bool = False) -> str:
        """The count, the postfix and the timing: elapsed and ETA, or `done in` when the work is over."""
        elapsed = self._clock() - self._start
        parts = [self._count(), *(f"{k} {_fmt_value(v)}" for k, v in self._postfix.items())]
        timing = f"done in {_fmt_duration(elapsed)}" if done_in else f"{_fmt_duration(elapsed)} elapsed"
        done = self.n - self._initial
        if not done_in and self.total and 0 < done and self.n < self.total:
            timing += f", ETA {_fmt_duration(elapsed / done * (self.total - self.n))}"
        return "  ".join([*parts, timing])

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self._clock()
        # the first step prints at once (the user sees the total and that work started), then throttled
        if self._last is None or now - self._last >= self._interval:
            self._last = now
            self._emit(self._line())

    def set_postfix(self, **values: Any) -> None:
        self._postfix = dict(values)

    def log(self, **values: Any) -> None:
        where = f"{self.unit} {self.n:,}" + (f"/{self.total:,}" if self.total else "")
        self._emit("  ".join([where, *(f"{k} {_fmt_value(v)}" for k, v in values.items())]))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._emit(self._line(done_in=True))


def _interactive() -> bool:
    """A terminal, or a Jupyter kernel (tqdm.auto draws a widget there)."""
    try:
        if sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False
    return "ipykernel" in sys.modules


def bar(total: int | None, desc: str, unit: str = "it", enabled: bool | None = None,
        initial: int = 0) -> Progress:
    """Progress over `total` units: a tqdm bar on a terminal, plain lines otherwise, nothing when off.

    `enabled=None` follows the enclosing `progress_enabled()` (on by default)."""
    on = _ENABLED.get() if enabled is None else enabled
    if not on:
        return Progress()
    if _interactive():
        return TqdmProgress(total, desc, unit, initial=initial)
    return LineProgress(total, desc, unit, initial=initial)
