"""Issue 20 part 2, exploration: what the pool buys contrastive's head over its *tuned* embeddings.

benchmarks/self_training_variants.py asked this over frozen embeddings. Here contrastive is fitted on 8 labelled
rows per class (the samples of benchmarks/self_training.py), and its tuned encoder embeds the labelled rows, a
seeded `--pool-limit` sample of the pool and the test set once; those are cached under .cache/ (they take
minutes per data set and seed), and every variant below runs over them in seconds, without the library's
held-out check (an upper bound on what a check could keep).

    python benchmarks/self_training_tuned.py --data-dir ../shared/data --seeds 5

One JSON row per (data set, variant) with the per-seed accuracies is appended to
benchmarks/results/self-training-tuned-cpu.jsonl; the table prints mean and the gain over contrastive alone.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sidebyside import RESULTS_DIR  # noqa: E402

RESULTS = RESULTS_DIR / "self-training-tuned-cpu.jsonl"
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "self-training-tuned"
STRATEGY = "contrastive"


def cached(data_dir: Path, name: str, seed: int, n: int, pool_limit: int) -> dict[str, np.ndarray]:
    """Tuned embeddings of the labelled rows, the pool sample and the test set, with labels as class indices
    (the pool's own labels are kept to measure pseudo-labels, never to train)."""
    path = CACHE / f"{name}-n{n}-pool{pool_limit}-seed{seed}.npz"
    if path.exists():
        return dict(np.load(path))
    from headstart import TextClassifier
    from headstart.data.examples import from_lists
    from headstart.data.split import sample_per_class
    from headstart.grid import without_cross_validation
    from headstart.unlabelled.self_train import pool_texts
    from self_training import read

    train_frame, test = read(data_dir, name, "train"), read(data_dir, name, "test")
    sample = sample_per_class(from_lists(train_frame.text.tolist(), train_frame.label.tolist()), n, seed)
    pool = pool_texts(train_frame.text.tolist(), sample.texts, pool_limit, seed)
    truth = dict(zip(train_frame.text, train_frame.label))
    started = time.perf_counter()
    clf = TextClassifier(strategy=STRATEGY, seed=seed, progress=False,
                         **without_cross_validation(STRATEGY, {"device": "cpu"}))
    clf.fit(sample)
    fit_s = time.perf_counter() - started
    train = clf.encode(sample)
    index = {str(c): i for i, c in enumerate(train.classes)}
    s = clf.strategy_
    started = time.perf_counter()
    arrays = {"x_train": s.embeddings(train.texts), "y_train": train.y.astype(int),
              "x_pool": s.embeddings(pool), "y_pool": np.array([index.get(str(truth[t]), -1) for t in pool]),
              "x_test": s.embeddings(test.text.tolist()),
              "y_test": np.array([index.get(str(v), -1) for v in test.label]),
              "fit_s": np.array(fit_s)}
    arrays["embed_s"] = np.array(time.perf_counter() - started)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return arrays


# ------------------------------------------------------------------------------------------------ variants


def head(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, c: float = 1.0):
    """contrastive's head: logistic regression, C=1 (headstart.heads.fit_head)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000).fit(x, y, sample_weight=w)


def proba_of(model, x: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(x), k))
    out[:, model.classes_] = model.predict_proba(x)
    return out


def prior_em(p: np.ndarray, train_prior: np.ndarray, iterations: int = 100) -> np.ndarray:
    """Class priors of the pool by EM (Saerens et al., 2002): posteriors re-weighted by new / training prior."""
    prior = train_prior.copy()
    for _ in range(iterations):
        q = p * (prior / train_prior)
        q /= q.sum(1, keepdims=True)
        new = q.mean(0)
        if np.abs(new - prior).max() < 1e-6:
            break
        prior = new
    return prior


def adjust(p: np.ndarray, prior: np.ndarray, train_prior: np.ndarray) -> np.ndarray:
    q = p * (prior / train_prior)
    return q / q.sum(1, keepdims=True)


def v_base(d, k):
    return proba_of(head(d["x_train"], d["y_train"]), d["x_test"], k)


def v_rounds(d, k, rounds=3, per_class=32, weight=0.5, prior=False):
    model = head(d["x_train"], d["y_train"])
    taken = np.zeros(len(d["x_pool"]), bool)
    xs, ys, ws = [d["x_train"]], [d["y_train"]], [np.ones(len(d["y_train"]))]
    train_prior = np.bincount(d["y_train"], minlength=k) / len(d["y_train"])
    for _ in range(rounds):
        p = proba_of(model, d["x_pool"], k)
        quota = np.full(k, per_class)
        if prior:
            est = prior_em(p, train_prior)
            p = adjust(p, est, train_prior)
            quota = np.maximum(1, np.round(est * per_class * k)).astype(int)
        pred, conf = p.argmax(1), p.max(1)
        new = []
        for c in range(k):
            cand = np.flatnonzero((pred == c) & ~taken)
            new.append(cand[np.argsort(-conf[cand], kind="stable")][:quota[c]])
        new = np.concatenate(new).astype(int)
        taken[new] = True
        xs.append(d["x_pool"][new]); ys.append(pred[new]); ws.append(weight * conf[new])
        model = head(np.vstack(xs), np.concatenate(ys), np.concatenate(ws))
    out = proba_of(model, d["x_test"], k)
    if prior:
        est = prior_em(proba_of(model, d["x_pool"], k), train_prior)
        out = adjust(out, est, train_prior)
    return out


def v_prior(d, k):
    """Only the class prior of the pool (EM), applied to the base head's posteriors."""
    model = head(d["x_train"], d["y_train"])
    train_prior = np.bincount(d["y_train"], minlength=k) / len(d["y_train"])
    est = prior_em(proba_of(model, d["x_pool"], k), train_prior)
    return adjust(proba_of(model, d["x_test"], k), est, train_prior)


def v_softkmeans(d, k, iterations=10, tau=0.05, priors=False):
    """Prototypes from the labelled rows, refined by soft k-means over the pool (the library's
    `refine_prototypes`; `priors`: with class shares), and the test rows given to the nearest prototype."""
    from headstart.unlabelled.prototypes import refine_prototypes

    refined = refine_prototypes(d["x_train"], d["y_train"], d["x_pool"], k, 1 / tau, iterations, priors)
    logits = refined.logits(d["x_test"], 1 / tau)
    p = np.zeros((len(logits), k))
    p[:, refined.present] = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def v_em(d, k, iterations=5, weight=0.3):
    """Semi-supervised EM (Nigam et al., 2000) with the logistic head: pool rows enter once per class,
    weighted by the posterior."""
    model = head(d["x_train"], d["y_train"])
    n = len(d["x_pool"])
    for _ in range(iterations):
        p = proba_of(model, d["x_pool"], k)
        x = np.vstack([d["x_train"]] + [d["x_pool"]] * k)
        y = np.concatenate([d["y_train"]] + [np.full(n, c) for c in range(k)])
        w = np.concatenate([np.ones(len(d["y_train"]))] + [weight * p[:, c] for c in range(k)])
        model = head(x, y, w)
    return proba_of(model, d["x_test"], k)


def v_spread(d, k, neighbours=10):
    from headstart.unlabelled.selection import spread_labels

    dist = spread_labels(d["x_train"], d["y_train"], d["x_pool"], k, neighbours)
    keep = dist.sum(1) > 0
    model = head(np.vstack([d["x_train"], d["x_pool"][keep]]), np.concatenate([d["y_train"], dist[keep].argmax(1)]),
                 np.concatenate([np.ones(len(d["y_train"])), 0.5 * dist[keep].max(1)]))
    return proba_of(model, d["x_test"], k)


def v_cluster_head(d, k, weight=0.5, share=1.0, spread=False, c=1.0, shares=True):
    """The library's `cluster` pseudo-labels (prototypes with class shares) and a head on labelled + the most
    confident `share` of each predicted class's pool rows, weighted `weight` x responsibility; `spread`: the
    responsibilities averaged with label spreading's distribution first."""
    from headstart.unlabelled.prototypes import cluster_labels
    from headstart.unlabelled.selection import spread_labels

    r = cluster_labels(d["x_train"], d["y_train"], d["x_pool"], k, class_shares=shares)
    if spread:
        r = (r + spread_labels(d["x_train"], d["y_train"], d["x_pool"], k, 10)) / 2
    pred, conf = r.argmax(1), r.max(1)
    keep = []
    for cl in range(k):
        cand = np.flatnonzero(pred == cl)
        keep.append(cand[np.argsort(-conf[cand], kind="stable")][:int(np.ceil(share * len(cand)))])
    keep = np.concatenate(keep).astype(int)
    model = head(np.vstack([d["x_train"], d["x_pool"][keep]]), np.concatenate([d["y_train"], pred[keep]]),
                 np.concatenate([np.ones(len(d["y_train"])), weight * conf[keep]]), c=c)
    return proba_of(model, d["x_test"], k)


VARIANTS = {
    "contrastive alone": v_base,
    "rounds 3 x 32 (library, no check)": v_rounds,
    "rounds 3 x 64": lambda d, k: v_rounds(d, k, per_class=64),
    "pool prior (EM) only": v_prior,
    "rounds 3 x 32 + pool prior": lambda d, k: v_rounds(d, k, prior=True),
    "prototypes, no pool (control)": lambda d, k: v_softkmeans(d, k, iterations=0),
    "soft k-means prototypes": v_softkmeans,
    "soft k-means, tau 0.1": lambda d, k: v_softkmeans(d, k, tau=0.1),
    "soft k-means, tau 0.025": lambda d, k: v_softkmeans(d, k, tau=0.025),
    "soft k-means -> head": lambda d, k: v_cluster_head(d, k, shares=False),
    "soft k-means + priors": lambda d, k: v_softkmeans(d, k, priors=True),
    "soft k-means + priors, 30 it": lambda d, k: v_softkmeans(d, k, priors=True, iterations=30),
    "cluster -> head (library)": v_cluster_head,
    "cluster -> head, w 0.2": lambda d, k: v_cluster_head(d, k, weight=0.2),
    "cluster -> head, w 1": lambda d, k: v_cluster_head(d, k, weight=1.0),
    "cluster -> head, top 1/3": lambda d, k: v_cluster_head(d, k, share=1 / 3),
    "cluster -> head, top 2/3": lambda d, k: v_cluster_head(d, k, share=2 / 3),
    "cluster + spreading -> head": lambda d, k: v_cluster_head(d, k, spread=True),
    "cluster -> head, C 0.3": lambda d, k: v_cluster_head(d, k, c=0.3),
    "cluster -> head, C 3": lambda d, k: v_cluster_head(d, k, c=3.0),
    "EM head, w 0.3": v_em,
    "EM head, w 0.1": lambda d, k: v_em(d, k, weight=0.1),
    "label spreading (tuned) -> head": v_spread,
}


def cached_frozen(data_dir: Path, name: str, seed: int, n: int, pool_limit: int) -> dict[str, np.ndarray]:
    """The same rows as `cached`, embedded by the frozen backbone (what probe's head sees): the training file
    and the test set are embedded once per data set and cached."""
    from headstart.backbones import resolve_backbone
    from headstart.data.examples import from_lists
    from headstart.data.split import sample_per_class
    from headstart.embeddings import embed
    from headstart.unlabelled.self_train import pool_texts
    from self_training import read

    train_frame, test = read(data_dir, name, "train"), read(data_dir, name, "test")
    texts = list(dict.fromkeys(train_frame.text.tolist()))
    path = CACHE / f"{name}-frozen.npz"
    if not path.exists():
        ref = resolve_backbone("all-MiniLM-L6-v2")
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, x_all=embed(ref, texts, progress=False), x_test=embed(ref, test.text.tolist(), progress=False))
        tmp.replace(path)
    arrays = np.load(path)
    row = {t: i for i, t in enumerate(texts)}
    sample = sample_per_class(from_lists(train_frame.text.tolist(), train_frame.label.tolist()), n, seed)
    pool = pool_texts(train_frame.text.tolist(), sample.texts, pool_limit, seed)
    classes = sorted(set(map(str, sample.labels)))
    index = {c: i for i, c in enumerate(classes)}
    truth = dict(zip(train_frame.text, train_frame.label))
    return {"x_train": arrays["x_all"][[row[t] for t in sample.texts]],
            "y_train": np.array([index[str(v)] for v in sample.labels]),
            "x_pool": arrays["x_all"][[row[t] for t in pool]],
            "y_pool": np.array([index.get(str(truth[t]), -1) for t in pool]),
            "x_test": arrays["x_test"], "y_test": np.array([index.get(str(v), -1) for v in test.label])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--datasets", default="sst2,trec,emotion")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--pool-limit", type=int, default=4000)
    parser.add_argument("--encoder", choices=("tuned", "frozen"), default="tuned",
                        help="tuned: contrastive's encoder after its fit; frozen: the backbone as probe sees it")
    parser.add_argument("--cache-only", action="store_true", help="compute the cached embeddings, run no variant")
    parser.add_argument("--variants", default="", help="variant names separated by ';' (default: all)")
    parser.add_argument("--per-seed", action="store_true", help="also print each seed's gain")
    parser.add_argument("--no-save", action="store_true", help="print the table, append no row")
    args = parser.parse_args(argv)
    data: dict[str, list[dict[str, np.ndarray]]] = {}
    for seed in range(args.seeds):
        for name in args.datasets.split(","):
            started = time.perf_counter()
            load = cached if args.encoder == "tuned" else cached_frozen
            data.setdefault(name, []).append(load(Path(args.data_dir), name, seed, args.n, args.pool_limit))
            print(f"{name} seed {seed}: cached ({time.perf_counter() - started:.0f}s)", flush=True)
    if args.cache_only:
        return 0
    chosen = [v for v in args.variants.split(";") if v] or list(VARIANTS)
    names = list(data)
    print("variant".ljust(40) + "".join(f"{n:>16}" for n in names) + "      mean gain")
    base = {n: [float((v_base(d, int(d["y_train"].max()) + 1).argmax(1) == d["y_test"]).mean()) for d in data[n]]
            for n in names}
    for variant in chosen:
        started = time.perf_counter()
        accs = {n: [float((VARIANTS[variant](d, int(d["y_train"].max()) + 1).argmax(1) == d["y_test"]).mean())
                    for d in data[n]] for n in names}
        gains = [np.mean(accs[n]) - np.mean(base[n]) for n in names]
        print(variant.ljust(40) + "".join(f"{np.mean(accs[n]):>9.4f} {g * 100:+5.1f}" for n, g in zip(names, gains))
              + f"   {np.mean(gains) * 100:+5.2f}  ({time.perf_counter() - started:.0f}s)", flush=True)
        if args.per_seed:
            print(" " * 40 + "".join(" ".join(f"{100 * (a - b):+.1f}" for a, b in zip(accs[n], base[n])).rjust(16)
                                     for n in names))
        if not args.no_save:
            with open(RESULTS, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"variant": variant, "accuracy": accs, "alone": base, "encoder": args.encoder,
                                     "n": args.n, "pool_limit": args.pool_limit,
                                     "command": shlex.join([sys.executable, *sys.argv]),
                                     "date": datetime.datetime.now().isoformat(timespec="seconds")}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
