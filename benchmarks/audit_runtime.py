"""Issue 22 section 2: `headstart audit` wall time with each embedding runtime, side by side.

Each side audits the same file (default: sst2's training file, 6,920 rows) in a fresh process with a fresh,
empty HEADSTART_CACHE, as a user's first audit runs: the embedding of every text and, for the ONNX runtimes,
the one-off export (and int8 quantisation) of the backbone are inside the timed part. The sides are interleaved
over --repeats rounds by benchmarks/sidebyside.py, which refuses to print a ratio unless the counted work is
equal: the same rows, the same texts embedded, the same checks run.

    python benchmarks/audit_runtime.py --data-dir ../shared/data                 # torch vs onnx-int8, ~8 min
    python benchmarks/audit_runtime.py --runtimes torch,onnx,onnx-int8 --rows 2000

One JSON row is appended to benchmarks/results/audit-runtime.jsonl. Run it with nothing else running.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sidebyside  # noqa: E402  (benchmarks/ is on sys.path when this script runs)

RUNTIMES = ("torch", "onnx", "onnx-int8")


def side_audit(runtime: str, config: dict, clock: sidebyside.Clock) -> sidebyside.Work:
    """One cold-cache audit of config['path'] with `runtime`."""
    os.environ["HEADSTART_CACHE"] = tempfile.mkdtemp(prefix="hs-audit-runtime-")
    from headstart.audit import AuditConfig, audit_data

    counted = sidebyside.count_embedded()
    with clock:
        audit = audit_data(config["path"], config=AuditConfig(runtime=runtime, backbone=config["backbone"]),
                           progress=False)
    checks = sorted(c["name"] for c in audit["checks"])
    return sidebyside.Work(rows=int(audit["data"]["rows"]), extra={"texts_embedded": counted["embedded"],
                                                                  "checks": checks},
                           info={"findings": {c["name"]: c.get("count") for c in audit["checks"]},
                                 "stage_seconds": audit.get("seconds", {})})


SIDES = {runtime: functools.partial(side_audit, runtime) for runtime in RUNTIMES}


def main(argv: list[str] | None = None) -> int:
    if sidebyside.child_requested(argv):
        return sidebyside.child_main(SIDES, argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--dataset", default="sst2", help="a folder of --data-dir with train.csv (text,label)")
    parser.add_argument("--backbone", default="", help="encoder to embed with (default: the audit's, all-MiniLM-L6-v2)")
    parser.add_argument("--rows", type=int, default=0, help="audit the first N rows only (0: all)")
    parser.add_argument("--runtimes", default="torch,onnx-int8", help=f"sides, from {', '.join(RUNTIMES)}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--results-dir", default=str(sidebyside.RESULTS_DIR), help="'' to keep no row")
    args = parser.parse_args(argv)
    sides = [r for r in args.runtimes.split(",") if r]
    if not sides or not set(sides) <= set(RUNTIMES):
        parser.error(f"expected --runtimes from {', '.join(RUNTIMES)}; got {args.runtimes!r}")
    source = Path(args.data_dir) / args.dataset / "train.csv"
    if not source.is_file():
        parser.error(f"expected {source} (text,label); pass --data-dir with the shared data sets")
    path = source
    if args.rows:
        import pandas as pd

        path = Path(tempfile.mkdtemp(prefix="hs-audit-rows-")) / "train.csv"
        pd.read_csv(source, keep_default_na=False).head(args.rows).to_csv(path, index=False)
    config = {"path": str(path), "dataset": args.dataset, "rows": args.rows, "backbone": args.backbone}
    ratios = [(side, "torch") for side in sides if side != "torch"] if "torch" in sides else []
    row = sidebyside.compare("audit-runtime", __file__, sides, config, repeats=args.repeats, ratios=ratios,
                             results_dir=Path(args.results_dir) if args.results_dir else None)
    for key, value in row["ratios"].items():
        print(f"{key}: {value:.2f} of torch's time ({1 / value:.2f}x as fast)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
