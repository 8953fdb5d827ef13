"""Active learning benchmark: headstart's query strategies and small-text's, side by side, simulated oracle.

Per data set the training file is the pool and the test file the evaluation set; the data's own labels answer
the queries. Every curve starts from the same seeded 2 labelled rows per class, and each round adds one row per
class worth of labels (n_classes rows) chosen by the query strategy, until 64 per class. The learner is the
probe (a logistic head on frozen all-MiniLM-L6-v2 embeddings): pool and test are embedded ONCE per data set
(headstart.embeddings.embed, cached on disk) and every round costs one head fit (headstart.heads.fit_head);
small-text (PoolBasedActiveLearner + SklearnClassifierFactory) runs over the SAME embeddings with the same
LogisticRegression (C, max_iter) and its own query strategies. Optionally contrastive is the learner (full
TextClassifier refits at a few checkpoints, on a pool sample: see --contrastive).

One JSON row per finished curve goes to --results (resumable: a curve already there with the same settings is
not run again). At the end it prints, per data set, accuracy against labels for every strategy and the labels
each needs to reach the accuracy random sampling reaches at 64 per class (the first round whose mean accuracy
over seeds reaches it, and the linear interpolation between that round and the one before), and the query time
of every strategy on a 10,000-row pool (banking77's training file) with cached embeddings.

    python benchmarks/active.py --data-dir /work/shared/data
    python benchmarks/active.py --datasets trec --seeds 1 --stop 8 --results /tmp/active.jsonl   # a quick look
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from headstart import TextClassifier  # noqa: E402
from headstart.backbones import resolve_backbone  # noqa: E402
from headstart.embeddings import embed  # noqa: E402
from headstart.heads import fit_head  # noqa: E402
from headstart.unlabelled.query import QUERIES, query_model, select  # noqa: E402

from active_small_text import (EMBEDDING_QUERIES, SMALL_TEXT_QUERIES, small_text_curve,  # noqa: E402
                               small_text_strategy)

RESULTS = Path(__file__).resolve().parent / "results" / "active-cpu.jsonl"
HEADSTART_QUERIES = ("margin", "entropy", "least-confident", "kcenter", "cluster-margin", "density-margin",
                     "balanced-margin", "random")
CHECKPOINTS = (2, 4, 8, 16, 32, 64)


# -- pure logic (tested in tests/benchmarks/test_active.py) -------------------------------------------------
def initial_sample(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """`per_class` rows of every class, drawn with `seed` (sorted pool indices)."""
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)]
    return np.sort(np.concatenate(chosen))


def mean_curve(rows: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(labels, mean accuracy) over the seeds' curves, at the label counts every curve has."""
    per: dict[int, list[float]] = {}
    for row in rows:
        for point in row["curve"]:
            per.setdefault(int(point["labels"]), []).append(float(point["accuracy"]))
    labels = sorted(k for k, v in per.items() if len(v) == len(rows))
    return np.array(labels), np.array([statistics.mean(per[k]) for k in labels])


def labels_needed(labels: Sequence[float], accuracy: Sequence[float],
                  target: float) -> tuple[float | None, float | None]:
    """(first label count whose accuracy reaches `target`, the linear interpolation between it and the point
    before); (None, None) when the curve never reaches it."""
    for i, (n, acc) in enumerate(zip(labels, accuracy)):
        if acc >= target:
            if i == 0:
                return float(n), float(n)
            n0, a0 = labels[i - 1], accuracy[i - 1]
            return float(n), float(n0 + (target - a0) / (acc - a0) * (n - n0))
    return None, None


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def unit_key(row: dict) -> str:
    return "|".join(str(row[k]) for k in ("dataset", "learner", "library", "strategy", "seed"))


def done_units(rows: Sequence[dict]) -> dict[str, dict]:
    """Finished curves by key; a later row with the same key replaces an earlier one."""
    return {unit_key(r): r for r in rows if r.get("benchmark") == "active"}


# -- the simulated loops ------------------------------------------------------------------------------------
Fit = Callable[[np.ndarray, np.ndarray], Any]


def headstart_curve(strategy: str, x: np.ndarray, y: np.ndarray, texts: np.ndarray, x_test: np.ndarray,
                    y_test: np.ndarray, start: int, stop: int, seed: int, c: float, max_iter: int,
                    duplicate_cosine: float) -> dict:
    """One curve: fit the head, score the test set, query n_classes rows, repeat until `stop` per class."""
    k = int(y.max()) + 1
    labelled = initial_sample(y, start, seed)
    curve, fit_s, query_s = [], 0.0, []
    needs_proba = QUERIES[strategy].needs_proba
    round_ = 0
    while True:
        t = time.perf_counter()
        head = fit_head(x[labelled], y[labelled], "classification", "logistic", c, seed=seed, max_iter=max_iter)
        fit_s += time.perf_counter() - t
        accuracy = float((head.scores(x_test).argmax(axis=1) == y_test).mean())
        curve.append({"labels": int(len(labelled)), "per_class": len(labelled) / k, "accuracy": round(accuracy, 5)})
        if len(labelled) >= stop * k:
            break
        mask = np.ones(len(x), bool)
        mask[labelled] = False
        pool = np.flatnonzero(mask)
        t = time.perf_counter()
        selection = select(strategy, k, proba=head.scores(x[pool]) if needs_proba else None, embeddings=x[pool],
                           labelled_embeddings=x[labelled], texts=list(texts[pool]),
                           labelled_texts=list(texts[labelled]), seed=seed * 1000 + round_,
                           duplicate_cosine=duplicate_cosine)
        query_s.append(time.perf_counter() - t)
        labelled = np.concatenate([labelled, pool[selection.indices]])
        round_ += 1
    return {"curve": curve, "fit_s": round(fit_s, 3), "query_s": [round(s, 4) for s in query_s]}


def contrastive_curve(strategy: str, texts: np.ndarray, y: np.ndarray, test_texts: np.ndarray, y_test: np.ndarray,
                      checkpoints: Sequence[int], seed: int, backbone: str, classes: list[str]) -> dict:
    """Contrastive as the learner: a full TextClassifier refit at each checkpoint (labels per class), the rows
    to reach the next one queried with the model's own probabilities and embeddings."""
    k = len(classes)
    labelled = initial_sample(y, checkpoints[0], seed)
    curve, fit_s, query_s = [], 0.0, []
    for i, per_class in enumerate(checkpoints):
        t = time.perf_counter()
        clf = TextClassifier(backbone=backbone, strategy="contrastive", seed=seed, progress=False)
        clf.fit(list(texts[labelled]), [classes[j] for j in y[labelled]])
        fit_s += time.perf_counter() - t
        predicted = clf.predict(list(test_texts))
        accuracy = float(np.mean([p == classes[j] for p, j in zip(predicted, y_test)]))
        curve.append({"labels": int(len(labelled)), "per_class": len(labelled) / k, "accuracy": round(accuracy, 5)})
        if i == len(checkpoints) - 1:
            break
        mask = np.ones(len(texts), bool)
        mask[labelled] = False
        pool = np.flatnonzero(mask)
        t = time.perf_counter()
        selection, _ = query_model(clf, list(texts[pool]), (checkpoints[i + 1] - per_class) * k, strategy,
                                   list(texts[labelled]), seed * 1000 + i)
        query_s.append(time.perf_counter() - t)
        labelled = np.concatenate([labelled, pool[selection.indices]])
    return {"curve": curve, "fit_s": round(fit_s, 3), "query_s": [round(s, 4) for s in query_s]}


def summarise(rows: Sequence[dict], dataset: str, learner: str = "probe") -> dict[str, Any]:
    """Per strategy (library:strategy): mean curve over seeds, seeds, and the labels needed to reach random's
    accuracy at the end of its curve; `best` names headstart's and small-text's strategy needing fewest."""
    curves: dict[str, list[dict]] = {}
    for row in rows:
        if row.get("benchmark") == "active" and row["dataset"] == dataset and row["learner"] == learner:
            curves.setdefault(f"{row['library']}:{row['strategy']}", []).append(row)
    out: dict[str, Any] = {"strategies": {}, "target": None, "best": {}}
    reference = curves.get("headstart:random")
    if reference:
        labels, accuracy = mean_curve(reference)
        out["target"] = float(accuracy[-1]) if len(accuracy) else None
        out["target_labels"] = int(labels[-1]) if len(labels) else None
    for name, group in sorted(curves.items()):
        labels, accuracy = mean_curve(group)
        first, interpolated = labels_needed(labels, accuracy, out["target"]) if out["target"] is not None \
            else (None, None)
        out["strategies"][name] = {"labels": labels.tolist(), "accuracy": accuracy.tolist(), "seeds": len(group),
                                   "needed_first": first, "needed_interpolated": interpolated,
                                   "query_s_per_round": statistics.mean(
                                       [statistics.mean(r["query_s"]) for r in group if r["query_s"]] or [0.0])}
    for library in ("headstart", "small-text"):
        ranked = [(v["needed_interpolated"], -v["accuracy"][-1], k) for k, v in out["strategies"].items()
                  if k.startswith(library + ":") and not k.endswith("random") and not k.endswith("RandomSampling")
                  and v["needed_interpolated"] is not None and v["accuracy"]]
        if ranked:
            out["best"][library] = min(ranked)[2]
    return out


def print_summary(rows: Sequence[dict], datasets: Sequence[str]) -> None:
    for name in datasets:
        for learner in ("probe", "contrastive"):
            summary = summarise(rows, name, learner)
            if not summary["strategies"]:
                continue
            any_row = next(r for r in rows if r.get("dataset") == name and r.get("learner") == learner)
            k = any_row["classes"]
            print(f"\n{name} ({k} classes, pool {any_row['pool_rows']}, test {any_row['test_rows']}), learner "
                  f"{learner}: test accuracy (mean over seeds) by labels per class")
            points = sorted({int(round(n / k)) for v in summary["strategies"].values() for n in v["labels"]}
                            & set(CHECKPOINTS))
            print(f"{'strategy':34s} {'seeds':>5s} " + " ".join(f"{p:>6d}" for p in points)
                  + "  labels to reach random@end (first / interpolated)  query s/round")
            for strategy, v in summary["strategies"].items():
                by = dict(zip((int(round(n / k)) for n in v["labels"]), v["accuracy"]))
                cells = " ".join(f"{by[p]:6.3f}" if p in by else f"{'':6s}" for p in points)
                needed = (f"{v['needed_first']:.0f} / {v['needed_interpolated']:.0f}" if v["needed_first"] is not None
                          else "not reached")
                print(f"{strategy:34s} {v['seeds']:5d} {cells}  {needed:>24s}  {v['query_s_per_round']:.3f}")
            if summary["target"] is not None:
                target_labels = summary["target_labels"]
                line = [f"random reaches {summary['target']:.3f} at {target_labels} labels"]
                for library, best in summary["best"].items():
                    v = summary["strategies"][best]
                    line.append(f"{library} best {best.split(':', 1)[1]} needs {v['needed_interpolated']:.0f} "
                                f"({v['needed_interpolated'] / target_labels:.0%} of random's)")
                print("; ".join(line))
    for row in rows:
        if row.get("benchmark") == "active-query-time":
            cells = ", ".join(f"{k} {v:.2f} s" for k, v in row["seconds"].items())
            print(f"\nquery time, {row['dataset']} pool of {row['pool_rows']} rows, n={row['n']} (embeddings cached): "
                  f"{cells}")


# -- data, timing, the run ----------------------------------------------------------------------------------
class DataSet:
    """A pool (training file) and a test file, labels as class indices, embedded once."""

    def __init__(self, data_dir: Path, name: str, backbone: str, pool_limit: int, test_limit: int, seed: int = 0):
        train, test = (pd.read_csv(data_dir / name / f"{split}.csv").dropna(subset=["text", "label"])
                       .astype({"text": str, "label": str}) for split in ("train", "test"))
        if pool_limit and len(train) > pool_limit:
            train = train.sample(pool_limit, random_state=seed)
        if test_limit and len(test) > test_limit:
            test = test.sample(test_limit, random_state=seed)
        self.name, self.classes = name, sorted(set(train.label))
        index = {c: i for i, c in enumerate(self.classes)}
        test = test[test.label.isin(index)]
        self.texts, self.test_texts = train.text.to_numpy(), test.text.to_numpy()
        self.y, self.y_test = train.label.map(index).to_numpy(), test.label.map(index).to_numpy()
        self.backbone = backbone
        self._x: np.ndarray | None = None
        self._x_test: np.ndarray | None = None

    def embedded(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(pool embeddings, test embeddings, seconds it took); computed once, cached on disk after."""
        start = time.perf_counter()
        if self._x is None:
            ref = resolve_backbone(self.backbone)
            self._x = embed(ref, list(self.texts), progress=None)
            self._x_test = embed(ref, list(self.test_texts), progress=None)
        assert self._x_test is not None
        return self._x, self._x_test, time.perf_counter() - start


def environment() -> dict[str, Any]:
    import torch

    return {"torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()}


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1)


def query_timing(data: DataSet, n: int, c: float, max_iter: int, seed: int = 0) -> dict:
    """Seconds each strategy takes to choose `n` rows of the whole pool (embeddings cached), a head fitted on 8
    labelled rows per class; small-text's over the same pool and head."""
    from sklearn.linear_model import LogisticRegression
    from small_text import SklearnClassifier, SklearnDataset

    x, _, _ = data.embedded()
    labelled = initial_sample(data.y, 8, seed)
    mask = np.ones(len(x), bool)
    mask[labelled] = False
    pool = np.flatnonzero(mask)
    head = fit_head(x[labelled], data.y[labelled], "classification", "logistic", c, seed=seed, max_iter=max_iter)
    seconds: dict[str, float] = {}
    for name in HEADSTART_QUERIES:
        t = time.perf_counter()
        needs = QUERIES[name].needs_proba
        select(name, n, proba=head.scores(x[pool]) if needs else None, embeddings=x[pool],
               labelled_embeddings=x[labelled], texts=list(data.texts[pool]), labelled_texts=list(data.texts[labelled]),
               seed=seed)
        seconds[f"headstart:{name}"] = round(time.perf_counter() - t, 3)
    clf = SklearnClassifier(LogisticRegression(C=c, max_iter=max_iter), int(data.y.max()) + 1)
    dataset = SklearnDataset(x, data.y, target_labels=np.arange(int(data.y.max()) + 1))
    clf.fit(dataset[labelled])
    for name in SMALL_TEXT_QUERIES:
        kwargs = {"embeddings": x[np.concatenate([pool, labelled])]} if name in EMBEDDING_QUERIES else {}
        t = time.perf_counter()
        small_text_strategy(name).query(clf, dataset, pool, labelled, data.y[labelled], n=n, **kwargs)
        seconds[f"small-text:{name}"] = round(time.perf_counter() - t, 3)
    return {"pool_rows": int(len(pool)), "n": n, "seconds": seconds}


def per_dataset(spec: Sequence[str], name: str, default: Any, cast: Callable[[str], Any] = int) -> Any:
    """The value for data set `name` in DATASET:VALUE entries (e.g. banking77:1), else `default`."""
    for entry in spec:
        dataset, _, value = entry.partition(":")
        if dataset == name:
            return cast(value)
    return default


def plan(args: argparse.Namespace, name: str) -> list[tuple[str, str, str, int]]:
    """(learner, library, strategy, seed) of every curve of one data set, with this run's cuts applied; seed by
    seed, so that a run stopped at the deadline leaves whole seeds of every strategy."""
    seeds = per_dataset(args.seeds_for, name, args.seeds)
    skip = {entry.partition(":")[2] for entry in args.skip if entry.partition(":")[0] == name}
    strategies = [("headstart", q) for q in args.queries] + [("small-text", q) for q in args.small_text]
    # DATASET/STRATEGY:SEEDS entries give a slow strategy fewer seeds than the rest
    wanted = {q: per_dataset(args.seeds_for, f"{name}/{q}", seeds) for _, q in strategies}
    units = [("probe", library, q, seed) for seed in range(max([seeds, *wanted.values()]))
             for library, q in strategies if q not in skip and seed < wanted[q]]
    if name in args.contrastive_sets:
        units += [("contrastive", "headstart", q, s) for s in range(args.contrastive_seeds)
                  for q in args.contrastive_queries]
    return units


def settings(args: argparse.Namespace, learner: str, name: str) -> dict[str, Any]:
    base = {"start": args.start, "step": "n_classes", "pool_limit": args.pool_limit, "test_limit": args.test_limit,
            "backbone": args.backbone or "all-MiniLM-L6-v2"}
    if learner == "contrastive":
        return {**base, "checkpoints": args.checkpoints, "pool_limit": args.contrastive_pool,
                "test_limit": args.contrastive_test}
    return {**base, "stop": args.stop, "C": args.C, "max_iter": per_dataset(args.max_iter_for, name, args.max_iter),
            "duplicate_cosine": args.duplicate_cosine}


def run_unit(args, data: DataSet, learner: str, library: str, strategy: str, seed: int) -> dict:
    if learner == "contrastive":
        return contrastive_curve(strategy, data.texts, data.y, data.test_texts, data.y_test, args.checkpoints, seed,
                                 args.backbone or "all-MiniLM-L6-v2", data.classes)
    x, x_test, _ = data.embedded()
    max_iter = per_dataset(args.max_iter_for, data.name, args.max_iter)
    if library == "headstart":
        return headstart_curve(strategy, x, data.y, data.texts, x_test, data.y_test, args.start, args.stop, seed,
                               args.C, max_iter, args.duplicate_cosine)
    return small_text_curve(strategy, x, data.y, x_test, data.y_test, initial_sample(data.y, args.start, seed),
                            args.stop, seed, args.C, max_iter)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--datasets", default="sst2,trec,emotion,banking77")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--seeds-for", default="", help="DATASET:SEEDS or DATASET/STRATEGY:SEEDS entries overriding "
                                                    "--seeds, e.g. banking77:1,trec/GreedyCoreset:1")
    p.add_argument("--start", type=int, default=2, help="labelled rows per class to start from")
    p.add_argument("--stop", type=int, default=64, help="labelled rows per class to stop at")
    p.add_argument("--queries", default=",".join(HEADSTART_QUERIES))
    p.add_argument("--small-text", default=",".join(SMALL_TEXT_QUERIES), help="small-text strategies ('' for none)")
    p.add_argument("--skip", default="", help="DATASET:STRATEGY pairs left out (too slow there), e.g. "
                                               "banking77:GreedyCoreset (headstart and small-text names differ)")
    p.add_argument("--C", type=float, default=1.0, help="inverse regularisation of the head (probe's default)")
    p.add_argument("--max-iter", type=int, default=2000, help="lbfgs iterations of the head (both libraries)")
    p.add_argument("--max-iter-for", default="", help="DATASET:ITERATIONS entries overriding --max-iter")
    p.add_argument("--duplicate-cosine", type=float, default=0.95)
    p.add_argument("--pool-limit", type=int, default=0, help="pool rows sampled from the training file (0: all)")
    p.add_argument("--test-limit", type=int, default=0, help="test rows sampled (0: all)")
    p.add_argument("--contrastive-sets", default="", help="data sets where contrastive is also the learner")
    p.add_argument("--contrastive-seeds", type=int, default=1)
    p.add_argument("--contrastive-queries", default="margin,random")
    p.add_argument("--checkpoints", default="2,4,8,16", help="labels per class where contrastive is refitted")
    p.add_argument("--contrastive-pool", type=int, default=2000, help="pool rows sampled for contrastive")
    p.add_argument("--contrastive-test", type=int, default=500, help="test rows sampled for contrastive")
    p.add_argument("--query-time", default="banking77", help="data set whose pool times every query ('' to skip)")
    p.add_argument("--query-n", type=int, default=50, help="rows chosen in the query-time measurement")
    p.add_argument("--backbone", default="")
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--deadline", default="", help="UTC time HH:MM after which no new curve starts")
    args = p.parse_args(argv)
    split = lambda v: [s for s in v.split(",") if s]  # noqa: E731
    for name in ("datasets", "queries", "small_text", "skip", "contrastive_sets", "contrastive_queries", "seeds_for",
                 "max_iter_for"):
        setattr(args, name, split(getattr(args, name)))
    args.checkpoints = [int(v) for v in split(args.checkpoints)]
    unknown = sorted(set(args.queries) - set(QUERIES)) + sorted(set(args.small_text) - set(SMALL_TEXT_QUERIES))
    if unknown:
        p.error(f"unknown strategies {unknown}")
    return args


def past_deadline(deadline: str) -> bool:
    if not deadline:
        return False
    now = datetime.datetime.now(datetime.timezone.utc)
    hour, minute = (int(v) for v in deadline.split(":"))
    return (now.hour, now.minute) >= (hour, minute)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    # a capped --max-iter-for (banking77) stops lbfgs early on purpose, for both libraries alike
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", message="Default distance metric has changed")
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    command = shlex.join([sys.executable.rsplit("/", 1)[-1], "benchmarks/active.py", *(argv or sys.argv[1:])])
    backbone = args.backbone or str(resolve_backbone("all-MiniLM-L6-v2").path)
    env = environment()
    print(f"active learning: {', '.join(args.datasets)}; torch threads {env['torch_threads']}; load average "
          f"{env['load_avg'][0]:.2f}; results {results}", flush=True)
    stopped = False
    for name in args.datasets:
        done = done_units(read_rows(results))
        data = DataSet(Path(args.data_dir), name, backbone, args.pool_limit, args.test_limit)
        contrastive_data = None
        for learner, library, strategy, seed in plan(args, name):
            key = unit_key({"dataset": name, "learner": learner, "library": library, "strategy": strategy,
                            "seed": seed})
            wanted = settings(args, learner, name)
            if key in done and done[key]["settings"] == wanted:
                continue
            if past_deadline(args.deadline):
                stopped = True
                break
            source = data
            if learner == "contrastive":
                contrastive_data = contrastive_data or DataSet(Path(args.data_dir), name, backbone,
                                                               args.contrastive_pool, args.contrastive_test)
                source = contrastive_data
            embed_s = source.embedded()[2] if learner == "probe" else 0.0
            load_before = os.getloadavg()
            start = time.perf_counter()
            measured = run_unit(args, source, learner, library, strategy, seed)
            row = {"benchmark": "active", "command": command,
                   "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                   "dataset": name, "learner": learner, "library": library, "strategy": strategy, "seed": seed,
                   "settings": wanted, "classes": len(source.classes), "pool_rows": len(source.texts),
                   "test_rows": len(source.test_texts), **measured, "seconds": round(time.perf_counter() - start, 2),
                   "query_s_total": round(sum(measured["query_s"]), 3), "embed_s": round(embed_s, 1),
                   "torch_threads": env["torch_threads"], "load_avg_before": load_before,
                   "load_avg_after": os.getloadavg(), "peak_rss_mb": peak_rss_mb()}
            with open(results, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
            final = row["curve"][-1]
            print(f"{name} {learner} {library}:{strategy} seed {seed}: {final['accuracy']:.3f} at "
                  f"{final['per_class']:g}/class ({row['seconds']:.0f} s, query {row['query_s_total']:.1f} s)",
                  flush=True)
        if stopped:
            print(f"deadline {args.deadline} UTC reached: stopped; run again to resume", flush=True)
            break
        if args.query_time and name == args.query_time and not any(
                r.get("benchmark") == "active-query-time" and r["dataset"] == name for r in read_rows(results)):
            timing = query_timing(data, args.query_n, args.C, per_dataset(args.max_iter_for, name, args.max_iter))
            row = {"benchmark": "active-query-time", "command": command, "dataset": name, **timing,
                   "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                   "torch_threads": env["torch_threads"], "load_avg_after": os.getloadavg(),
                   "peak_rss_mb": peak_rss_mb()}
            with open(results, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
    print_summary(read_rows(results), args.datasets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
