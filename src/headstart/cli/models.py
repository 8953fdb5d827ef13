"""`headstart models`: the pre-trained backbones available on this machine."""

from __future__ import annotations

import argparse
import json

from ..backbones import describe_available
from .common import table


def add_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    parser.add_argument("--json", action="store_true", help="print the list as JSON")


def run(args: argparse.Namespace) -> int:
    rows = describe_available()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        row["params"] = f"{row['params'] / 1e6:.1f}M" if row["params"] else "?"
    print(table(rows, ["name", "kind", "format", "params", "size_mb", "where"]))
    print("\nAlso accepted: any local Hugging Face model folder, and hub ids (org/name) when online.")
    return 0


COMMAND = ("models", "list the pre-trained backbones available here (name, parameters, size, where from)",
           add_arguments, run)
