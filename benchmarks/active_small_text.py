"""benchmarks/active.py's anchor: small-text's query strategies in the same simulated loop, over the same
embeddings and head (LogisticRegression with the same C and max_iter)."""

from __future__ import annotations

import time

import numpy as np

# small-text's strategies by the name printed here (kcenter-like: GreedyCoreset; cold-start-like: EmbeddingKMeans)
SMALL_TEXT_QUERIES = ("BreakingTies", "PredictionEntropy", "LeastConfidence", "GreedyCoreset", "EmbeddingKMeans",
                      "RandomSampling")
EMBEDDING_QUERIES = ("GreedyCoreset", "EmbeddingKMeans")


def small_text_strategy(name: str):
    import small_text

    return getattr(small_text, name)()


def small_text_curve(strategy: str, x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                     labelled: np.ndarray, stop: int, seed: int, c: float, max_iter: int) -> dict:
    """The same loop (from the `labelled` start rows) through small-text's PoolBasedActiveLearner over the same embeddings and head."""
    from sklearn.linear_model import LogisticRegression
    from small_text import PoolBasedActiveLearner, SklearnClassifierFactory, SklearnDataset

    np.random.seed(seed)  # small-text's RandomSampling and EmbeddingKMeans draw from numpy's global generator
    k = int(y.max()) + 1
    factory = SklearnClassifierFactory(LogisticRegression(C=c, max_iter=max_iter), k)
    learner = PoolBasedActiveLearner(factory, small_text_strategy(strategy),
                                     SklearnDataset(x, y, target_labels=np.arange(k)))
    t = time.perf_counter()
    learner.initialize_data(labelled, y[labelled])
    fit_s, query_s, curve = time.perf_counter() - t, [], []
    test = SklearnDataset(x_test, y_test, target_labels=np.arange(k))
    while True:
        accuracy = float((np.asarray(learner.classifier.predict(test)) == y_test).mean())
        n = len(learner.indices_labeled)
        curve.append({"labels": int(n), "per_class": n / k, "accuracy": round(accuracy, 5)})
        if n >= stop * k:
            break
        kwargs = {}
        if strategy in EMBEDDING_QUERIES:  # the frozen embeddings, in the order small-text's query expects
            mask = np.ones(len(x), bool)
            mask[learner.indices_labeled] = False
            kwargs = {"embeddings": x[np.concatenate([np.flatnonzero(mask), learner.indices_labeled])]}
        t = time.perf_counter()
        queried = learner.query(num_samples=k, query_strategy_kwargs=kwargs)
        query_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        learner.update(y[queried])
        fit_s += time.perf_counter() - t
    return {"curve": curve, "fit_s": round(fit_s, 3), "query_s": [round(s, 4) for s in query_s]}
