"""`headstart report FOLDER`: render a comparison folder as one self-contained report.html (and
model_card.md). Opens nothing and fetches nothing."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ..config import Options, opt
from ..errors import ConfigError, expected
from ..evaluation.active_report import render_active_report
from ..evaluation.compare import load_results
from ..evaluation.generation_report import render_generation_report
from ..evaluation.report import render_report
from .args import options_adder, parse_into


@dataclass
class ReportArgs(Options):
    folder: str = opt(None, "output folder of `headstart compare`, or a .jsonl of active-learning curves "
                            "(benchmarks/active.py rows or a label-next-history.jsonl)", positional=True)
    output: str = opt("", "with a .jsonl: where to write its HTML page (default: beside it, NAME.html)")
    overwrite: bool = opt(False, "with a .jsonl: replace an existing --output page")


def run(args: argparse.Namespace) -> int:
    ra = parse_into(args, ReportArgs)
    if not ra.folder.endswith(".jsonl"):
        results = load_results(ra.folder)
        if results.get("generation"):
            print(f"wrote {render_generation_report(ra.folder, results)}")
            return 0
        path = render_report(ra.folder)
        print(f"wrote {path} and {path.parent / 'model_card.md'}")
        return 0
    out = Path(ra.output) if ra.output else Path(ra.folder).with_suffix(".html")  # active-learning curves
    if out.exists() and not ra.overwrite:
        raise ConfigError(expected("a new --output page", f"an existing file at {out}",
                                   "Pass --overwrite to replace it, or choose another --output."))
    print(f"wrote {render_active_report(ra.folder, out)} (active-learning curves)")
    return 0


COMMAND = ("report", "write a self-contained HTML report and a model card from a `headstart compare` folder",
           options_adder(ReportArgs), run)
