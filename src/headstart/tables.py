"""Plain aligned text tables and the formatting of their numbers, for every command and report.

A bottom module (it imports nothing of headstart), so evaluation, audit and the CLI all print the same way.
"""

from __future__ import annotations

import math
from typing import Any


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A plain aligned text table; each value is formatted by its column's kind (`format_value`)."""
    if not rows:
        return "(none)"
    columns = columns or list(rows[0])
    cells = [[format_value(r.get(c), c) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


_COUNT_NAMES = {"n", "rows", "support", "steps", "epochs", "seeds", "count", "trainable", "params", "parameters",
                "classes", "pairs", "lines", "tokens", "variants"}
_COUNT_SUFFIXES = ("_rows", "_params", "_parameters", "_pairs", "_steps", "_epochs", "_count", "_lines", "_tokens",
                   "_classes", "_chars", "_n")


def column_kind(column: str) -> str:
    """How a column's numbers read, from its name: 'seconds', 'rate', 'bytes', 'megabytes', 'count' or 'metric'.

    The one place this is decided, so `fit`, `evaluate`, `compare`, `models` and the HTML report agree."""
    name = column.lower().strip().replace(" ", "_")
    if name in ("seconds", "time_s") or name.endswith(("_seconds", "_s", "_sec")):
        return "seconds"
    if name.endswith("_per_second"):
        return "rate"
    if name in ("bytes", "size") or name.endswith("_bytes"):
        return "bytes"
    if name.endswith("_mb"):
        return "megabytes"
    if name in _COUNT_NAMES or name.endswith(_COUNT_SUFFIXES) or name.startswith("n_"):
        return "count"
    return "metric"


def format_value(value: Any, column: str = "") -> str:
    """`8.8 s` for seconds, `91.6 MB` for sizes, `8` or `1,200` for counts, 4 decimals for metrics."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)):
        return str(value)
    kind = column_kind(column)
    if kind == "seconds":
        return f"{value:,.1f} s"
    if kind == "rate":
        return f"{value:,.1f}/s"
    if kind in ("bytes", "megabytes"):
        return human_bytes(value * 1e6 if kind == "megabytes" else value)
    if kind == "count" or isinstance(value, int):
        # a mean over seeds can be fractional (12.5 examples per class); an integral float is a plain count
        return f"{int(round(value)):,}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"


def human_bytes(n: float) -> str:
    """Decimal units, as file managers and PyPI show sizes: `91.6 MB`."""
    if abs(n) < 1000:
        return f"{n:,.0f} B"
    for unit in ("kB", "MB"):
        n /= 1000
        if abs(n) < 1000:
            return f"{n:,.1f} {unit}"
    return f"{n / 1000:,.1f} GB"
