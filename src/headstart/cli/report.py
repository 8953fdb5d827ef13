"""`headstart report FOLDER`: render a comparison folder as one self-contained report.html (and
model_card.md). Opens nothing and fetches nothing."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from ..config import Options, opt
from .args import options_adder, parse_into


@dataclass
class ReportArgs(Options):
    folder: str = opt(None, "output folder of `headstart compare`", positional=True)


def run(args: argparse.Namespace) -> int:
    from ..evaluation.report import render_report

    ra = parse_into(args, ReportArgs)
    path = render_report(ra.folder)
    print(f"wrote {path} and {path.parent / 'model_card.md'}")
    return 0


COMMAND = ("report", "write a self-contained HTML report and a model card from a `headstart compare` folder",
           options_adder(ReportArgs), run)
