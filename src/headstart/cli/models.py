"""`headstart models`: the pre-trained backbones available on this machine."""

from __future__ import annotations

import argparse
import json

from ..backbones import describe_available
from ..tables import table


def add_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    parser.add_argument("--json", action="store_true", help="print the list as JSON (with full paths)")


def run(args: argparse.Namespace) -> int:
    rows = describe_available()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    # site-packages paths are ~100 characters on their own: the table names the package, --json has the path
    shown = [{"name": r["name"], "kind": r["kind"], "format": r["format"],
              "params": f"{r['params'] / 1e6:.1f}M" if r["params"] else "?",
              "size": r["size_mb"] * 1e6 if r["installed"] else None,
              "package": r["package"] if r["installed"] else "(not installed)"} for r in rows]
    print(table(shown))
    for r in rows:
        if not r["installed"]:
            print(f"{r['name']}: {r['where']}")
    print("\nFull paths: headstart models --json. Also accepted: any local Hugging Face model folder, "
          "and hub ids\n(org/name) when online.")
    return 0


COMMAND = ("models", "list the pre-trained backbones available here (name, parameters, size, where from)",
           add_arguments, run)
