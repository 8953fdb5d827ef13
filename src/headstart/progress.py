"""Progress bars that the caller can switch off for everything below it (API: progress=False, CLI: --quiet)."""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Iterator

from tqdm.auto import tqdm

_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("headstart_progress", default=True)


@contextlib.contextmanager
def progress_enabled(enabled: bool) -> Iterator[None]:
    token = _ENABLED.set(enabled)
    try:
        yield
    finally:
        _ENABLED.reset(token)


def bar(total: int | None, desc: str, unit: str = "it", enabled: bool | None = None, **kwargs: Any) -> tqdm:
    on = _ENABLED.get() if enabled is None else enabled
    return tqdm(total=total, desc=desc, unit=unit, disable=not on, leave=False, dynamic_ncols=True, **kwargs)
