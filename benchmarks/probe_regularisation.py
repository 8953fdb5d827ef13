"""How the probe's inverse regularisation C changes its accuracy (the logistic head on frozen all-MiniLM-L6-v2
embeddings, what `probe` fits; headstart.heads.fit_head), on the shared data sets:

* every training row, and a seeded sample of 2,000, for C in --Cs;
* banking77 at 2 labelled rows per class, then those plus 77 rows drawn at random from the rest of the training
  file (what the active-learning benchmark's random query adds in its first round): with C=1 the uneven new rows
  let the larger classes' intercepts take over (docs/unlabelled.md).

Embeddings come from headstart's cache (computed once). Accuracy and macro-F1 on the full test files. One JSON row
per run is appended to benchmarks/results/probe-regularisation-cpu.jsonl.

    python benchmarks/probe_regularisation.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from headstart import resolve_backbone  # noqa: E402
from headstart.embeddings import embed  # noqa: E402
from headstart.heads import fit_head  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "probe-regularisation-cpu.jsonl"


def scores(x, y, x_test, y_test, c: float, class_weight: str | None = None) -> dict:
    from sklearn.metrics import f1_score

    head = fit_head(x, y, "classification", "logistic", c, class_weight=class_weight, seed=0, max_iter=3000)
    predicted = head.scores(x_test).argmax(axis=1)
    return {"accuracy": round(float((predicted == y_test).mean()), 4),
            "macro_f1": round(float(f1_score(y_test, predicted, average="macro")), 4)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--datasets", default="sst2,trec,emotion,banking77,sms_spam")
    p.add_argument("--Cs", default="1,10,100")
    args = p.parse_args(argv)
    ref, cs = resolve_backbone(None), [float(c) for c in args.Cs.split(",")]
    row = {"benchmark": "probe-regularisation", "command": shlex.join([sys.executable, *sys.argv]),
           "date": datetime.datetime.now().isoformat(timespec="seconds"), "backbone": ref.name, "results": {}}
    for name in args.datasets.split(","):
        train = pd.read_csv(Path(args.data_dir) / name / "train.csv").dropna().astype({"text": str, "label": str})
        test = pd.read_csv(Path(args.data_dir) / name / "test.csv").dropna().astype({"text": str, "label": str})
        classes = sorted(set(train.label))
        index = {c: i for i, c in enumerate(classes)}
        x, y = embed(ref, train.text.tolist()), train.label.map(index).to_numpy()
        keep = test.label.isin(index)
        x_test, y_test = embed(ref, test.text[keep].tolist()), test.label[keep].map(index).to_numpy()
        sample = np.random.default_rng(0).choice(len(y), min(2000, len(y)), replace=False)
        out = {}
        for rows, label in ((np.arange(len(y)), f"all {len(y)}"), (sample, f"sample {len(sample)}")):
            out[label] = {f"C={c:g}": scores(x[rows], y[rows], x_test, y_test, c) for c in cs}
        if name == "banking77":
            rng = np.random.default_rng(0)
            first = np.concatenate([rng.choice(np.flatnonzero(y == k), 2, replace=False) for k in range(len(classes))])
            rest = np.setdiff1d(np.arange(len(y)), first)
            more = np.concatenate([first, np.random.default_rng(1).choice(rest, len(classes), replace=False)])
            for rows, label in ((first, "2 per class"), (more, f"2 per class + {len(classes)} random rows")):
                out[label] = {f"C={c:g}": scores(x[rows], y[rows], x_test, y_test, c) for c in cs}
                out[label]["C=1 balanced"] = scores(x[rows], y[rows], x_test, y_test, 1.0, "balanced")
        row["results"][name] = out
        for label, by_c in out.items():
            print(f"{name:10s} {label:30s} " + "  ".join(f"{k}: {v['accuracy']:.4f} (F1 {v['macro_f1']:.4f})"
                                                        for k, v in by_c.items()), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
