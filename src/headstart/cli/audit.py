"""`headstart audit`: data quality checks of a labelled file (and leakage against a test file)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from ..audit import AuditConfig, audit_data, audit_text, write_audit
from ..config import Options, opt
from ..io import check_output_folder
from .args import options_adder, parse_into


@dataclass
class AuditArgs(Options):
    data: str = opt(None, "labelled training file to audit (.csv, .tsv, .jsonl, .parquet)", positional=True)
    test: str = opt("", "test file checked for leakage (rows also in the training data)")
    model: str = opt("", "a model folder from `headstart fit`: its backbone, max_length and (if cheap) strategy are used")
    output: str = opt("audit", "folder for audit.json (and, with --fix, the cleaned copy and changes.csv)", aliases=("-o",))
    overwrite: bool = opt(False, "replace an existing headstart audit folder at --output")
    text_col: str = opt("text", "column holding the text")
    label_col: str = opt("label", "column holding the label")
    json: bool = opt(False, "print audit.json instead of the table")
    quiet: bool = opt(False, "no progress bars")


def run(args: argparse.Namespace) -> int:
    a = parse_into(args, AuditArgs)
    config = parse_into(args, AuditConfig)
    check_output_folder(a.output, a.overwrite, "audit")  # before any check runs
    audit = audit_data(a.data, a.test or None, a.model or None, config, a.text_col, a.label_col, progress=not a.quiet)
    written = write_audit(audit, a.output, config)
    if a.json:
        print(json.dumps({k: v for k, v in audit.items() if not k.startswith("_")}, default=str))
    else:
        print(audit_text(audit))
        fixed = f", {written['cleaned']} and {written['changes']}" if config.fix else ""
        print(f"\nwrote {written['audit']}{fixed} ({audit['seconds']['total']:.1f} s)")
    return 0


COMMAND = ("audit", "data checks: duplicates, conflicting labels, leakage, imbalance, length, noise, likely label errors",
           options_adder(AuditArgs, (AuditConfig, "checks")), run)
