"""What to label next: query strategies over a pool of unlabelled rows.

Every strategy takes the model's class probabilities (n, k) and/or L2-normalised embeddings (n, d) of the
pool and returns the rows to label, best first, with the score that chose each (higher: more worth
labelling). `select` applies the rules every strategy shares:

* rows whose text is already labelled are never proposed, and of several identical pool texts only one is;
* near-duplicates (cosine >= `duplicate_cosine`, 0.95 by default, on the embeddings) are not proposed
  together: a row that close to one already chosen is skipped. When that leaves fewer than `n` rows the
  selection is shorter and `Selection.notes` says so;
* `n` larger than the rows that may be proposed is an error that says how many there are (no clipping);
* the same inputs and seed give the same rows.

Adding a strategy is one decorated function here (`@query_strategy`). Work stays O(n x d) in memory:
kcenter keeps one running min-distance vector, near-duplicate checks compare against the chosen rows only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..backbones import resolve_backbone
from ..embeddings import embed
from ..errors import ConfigError, DataError, ModelError, expected
from ..tasks import label_task

DUPLICATE_COSINE = 0.95
# cluster-margin clusters this many times n of the most uncertain rows into n clusters (Citovsky et al. 2021
# cluster the whole pool once; clustering the uncertain candidates keeps a 10,000-row pool under a second)
CANDIDATES_PER_ROW = 10
_CHUNK = 4096  # rows per block when comparing the pool with the labelled rows
DENSITY_NEIGHBOURS = 10  # density-margin: how many nearest pool rows define how typical a row is


@dataclass
class QueryInput:
    """What a strategy sees: the rows that may be proposed (already filtered) and the labelled rows."""

    proba: np.ndarray | None  # (m, k) class probabilities, or None
    embeddings: np.ndarray | None  # (m, d) L2-normalised, or None
    labelled_embeddings: np.ndarray | None  # (l, d) L2-normalised embeddings of labelled rows, or None
    rng: np.random.Generator


@dataclass
class Selection:
    """Rows chosen from the pool (indices into the pool passed to `select`), best first."""

    indices: np.ndarray
    scores: np.ndarray
    strategy: str
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class QueryStrategy:
    """A registered strategy: `choose(inputs, n, keep)` returns at most n (row, score) pairs, best first.
    It must ask `keep(row)` before taking a row: False means a near-duplicate of a row already taken (pass
    over it); True records the row as taken. Each strategy asks at most n times for a True."""

    name: str
    help: str
    needs_proba: bool
    needs_embeddings: bool
    choose: Callable[[QueryInput, int, Callable[[int], bool]], list[tuple[int, float]]]


QUERIES: dict[str, QueryStrategy] = {}


def query_strategy(name: str, help: str, proba: bool = False, embeddings: bool = False):
    """Register `fn(inputs, n, keep) -> [(row, score), ...]` (at most n rows) as query strategy `name`."""
    def register(fn: Callable[[QueryInput, int, Callable[[int], bool]], list[tuple[int, float]]]):
        QUERIES[name] = QueryStrategy(name, help, proba, embeddings, fn)
        return fn
    return register


def get_query(name: str) -> QueryStrategy:
    if name not in QUERIES:
        raise ConfigError(expected(f"a query strategy ({', '.join(QUERIES)})", f"'{name}'",
                                   "Pick one of them (--query)."))
    return QUERIES[name]


# -- uncertainty ---------------------------------------------------------------------------------------
def margin_uncertainty(proba: np.ndarray) -> np.ndarray:
    """1 - (top probability - second probability): 1 when the two best classes tie, 0 when one is certain."""
    if proba.shape[1] < 2:
        return np.zeros(len(proba))
    top2 = np.partition(proba, -2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy(proba: np.ndarray) -> np.ndarray:
    p = np.clip(proba, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def _ranked(scores: np.ndarray, n: int, keep: Callable[[int], bool]) -> list[tuple[int, float]]:
    """The n best-scoring rows that `keep` accepts; ties go to the earlier row (a stable sort)."""
    return [(int(i), s) for i, s in _ranked_rows(scores, np.arange(len(scores)), n, keep)]


def _ranked_rows(scores: np.ndarray, rows: np.ndarray, n: int,
                 keep: Callable[[int], bool]) -> list[tuple[int, float]]:
    """(position in `scores`, score) of the n best that `keep` accepts, `keep` asked with the pool row."""
    chosen: list[tuple[int, float]] = []
    for i in np.argsort(-scores, kind="stable"):
        if len(chosen) == n:
            break
        if keep(int(rows[i])):
            chosen.append((int(i), float(scores[i])))
    return chosen


@query_strategy("margin", "smallest gap between the two most likely classes (score: 1 - gap)", proba=True)
def _margin(q: QueryInput, n: int, keep: Callable[[int], bool]) -> list[tuple[int, float]]:
    return _ranked(margin_uncertainty(q.proba), n, keep)


@query_strategy("entropy", "highest entropy of the class probabilities", proba=True)
def _entropy(q: QueryInput, n: int, keep: Callable[[int], bool]) -> list[tuple[int, float]]:
    return _ranked(entropy(q.proba), n, keep)


@query_strategy("least-confident", "lowest top probability (score: 1 - top probability)", proba=True)
def _least_confident(q: QueryInput, n: int, keep: Callable[[int], bool]) -> list[tuple[int, float]]:
    return _ranked(1.0 - q.proba.max(axis=1), n, keep)


@query_strategy("random", "uniformly at random (the baseline; score: the random key)")
def _random(q: QueryInput, n: int, keep: Callable[[int], bool]) -> list[tuple[int, float]]:
    return _ranked(q.rng.random(_rows(q)), n, keep)


# -- diversity -----------------------------------------------------------------------------------------
def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """(cluster of each row, centres) by k-means++ seeding and Lloyd iterations, in numpy: sklearn's KMeans
    costs seconds of set-up per call at these sizes, and the benchmark calls it every round."""
    k = max(1, min(k, len(x)))
    sq = (x * x).sum(axis=1)
    centres = [int(rng.integers(len(x)))]
    d2 = np.clip(sq - 2 * x @ x[centres[0]] + sq[centres[0]], 0, None)
    for _ in range(1, k):
        total = d2.sum()
        row = int(rng.choice(len(x), p=d2 / total)) if total > 0 else int(rng.integers(len(x)))
        centres.append(row)
        d2 = np.minimum(d2, np.clip(sq - 2 * x @ x[row] + sq[row], 0, None))
    c = x[centres].astype(np.float64)
    labels = np.zeros(len(x), int)
    for step in range(iters):
        dist = sq[:, None] - 2 * x @ c.T + (c * c).sum(axis=1)[None, :]
        new = dist.argmin(axis=1)
        if step and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = labels == j
            if members.any():  # an emptied cluster keeps its centre
                c[j] = x[members].mean(axis=0)
    return labels, c


@query_strategy("kmeans", "k-means on the pool embeddings into n clusters, the row nearest each centre, largest "
                "cluster first: a cold start needs no model (score: the share of the pool its cluster holds)",
                embeddings=True)
def _kmeans(q: QueryInput, n: int, keep: Callable[[int], bool]) -> list[tuple[int, float]]:
    x = q.embeddings
    labels, centres = kmeans(x, n, q.rng)
    sizes = np.bincount(labels, minlength=len(centres))
    chosen: list[tuple[int, float]] = []
    for j in np.argsort(-sizes, kind="stable"):
        members = np.flatnonzero(labels == j)
        if not len(members):
            continue
        for row in members[np.argsort(-(x[members] @ centres[j]), kind="stable")]:  # nearest the centre first
            if keep(int(row)):
                chosen.append((int(row), float(sizes[j] / len(x))))
                break
        if len(chosen) == n:
            break
    return chosen


def min_distances(x: np.ndarray, centres: np.ndarray | None) -> np.ndarray:
    """Euclidean distance of each row of x to its nearest centre (inf without centres), in blocks of rows so
    memory stays O(len(x) + block x len(centres))."""
    out = np.full(len(x), np.inf)
    if centres is None or not len(centres):
        return out
    for start in range(0, len(x), _CHUNK):
        cos = x[start:start + _CHUNK] @ centres.T
        out[start:start + _CHUNK] = np.sqrt(np.clip(2.0 - 2.0 * cos.max(axis=1), 0.0, None))
    return out


@query_strategy("kcenter", "greedy k-center on the embeddings: each pick is the row farthest from the labelled "
                "rows and the rows picked before it (score: that distance)", embeddings=True)
def _kcenter(q: QueryInput, n: int, keep: Callable[[int], bool]) -> list[tuple[int, float]]:
    x = q.embeddings
    dist = min_distances(x, q.labelled_embeddings)
    chosen: list[tuple[int, float]] = []
    if np.isinf(dist).all():  # no labelled centre: a seeded first pick
        dist[:] = 0.0
        first = int(q.rng.integers(len(x)))
        dist[first] = np.inf
    while len(chosen) < n:
        row = int(np.argmax(dist))
        if dist[row] == -np.inf:
            break  # nothing left that may be chosen
        score = float(dist[row])
        if keep(row):
            chosen.append((row, score if np.isfinite(score) else 2.0))
            dist = np.minimum(dist, np.sqrt(np.clip(2.0 - 2.0 * (x @ x[row]), 0.0, None)))
        dist[row] = -np.inf
    return chosen


def _round_robin(queues: list[list[int]], n: int, keep: Callable[[int], bool], scores: np.ndarray,
                 turn_order: Callable[[list[list[int]]], list[list[int]]] = lambda live: live,
                 ) -> list[tuple[int, float]]:
    """Up to n (row, score) pairs taken one per queue per turn (the first row of each that `keep` accepts),
    queues visited in `turn_order` of the non-empty ones, decided at the start of each turn."""
    chosen: list[tuple[int, float]] = []
    while len(chosen) < n and any(queues):
        for queue in turn_order([queue for queue in queues if queue]):
            while queue:
                row = int(queue.pop(0))
                if keep(row):
                    chosen.append((row, float(scores[row])))
                    break
            if len(chosen) == n:
                break
    return chosen


@query_strategy("cluster-margin", "the most uncertain rows (margin), spread over clusters of their embeddings: "
                "k-means on the 10n most uncertain into n clusters, then one row per cluster in turn, smallest "
                "cluster first (score: 1 - margin)", proba=True, embeddings=True)
def _cluster_margin(q: QueryInput, n: int, keep: Callable[[int], bool]) -> list[tuple[int, float]]:
    uncertainty = margin_uncertainty(q.proba)
    candidates = np.argsort(-uncertainty, kind="stable")[:max(n, CANDIDATES_PER_ROW * n)]
    k = min(n, len(candidates))
    clusters, _ = kmeans(q.embeddings[candidates], k, q.rng)
    # each cluster's candidates, most uncertain first; clusters visited smallest first, round robin
    members = [list(candidates[clusters == c]) for c in range(k)]
    members.sort(key=len)
    chosen = _round_robin(members, n, keep, uncertainty)
    if len(chosen) < n:  # the candidates ran out (near-duplicates): the rest of the pool by margin
        in_candidates = np.zeros(len(uncertainty), bool)
        in_candidates[candidates] = True
        rest = np.flatnonzero(~in_candidates)
        chosen += [(int(rest[i]), s) for i, s in _ranked_rows(uncertainty[rest], rest, n - len(chosen), keep)]
    return chosen


@query_strategy("balanced-margin", "the most uncertain rows (margin), taken in turn from each class the model "
                "predicts, so classes it rarely predicts (often the rare ones) still get rows (score: 1 - margin)",
                proba=True)
def _balanced_margin(q: QueryInput, n: int, keep: Callable[[int], bool]) -> list[tuple[int, float]]:
    uncertainty = margin_uncertainty(q.proba)
    predicted = q.proba.argmax(axis=1)
    queues = []
    for c in np.unique(predicted):
        rows = np.flatnonzero(predicted == c)
        queues.append(list(rows[np.argsort(-uncertainty[rows], kind="stable")]))
    # each turn visits the classes most uncertain first
    return _round_robin(queues, n, keep, uncertainty,
                        turn_order=lambda live: sorted(live, key=lambda queue: -uncertainty[queue[0]]))


def density(x: np.ndarray, neighbours: int = DENSITY_NEIGHBOURS) -> np.ndarray:
    """Mean cosine of each row to its `neighbours` nearest other rows (x L2-normalised): high in dense regions
    of the pool, low for outliers. Blocks of rows keep memory O(block x len(x))."""
    m = min(neighbours, len(x) - 1)
    out = np.zeros(len(x))
    if m < 1:
        return out
    for start in range(0, len(x), _CHUNK):
        cos = x[start:start + _CHUNK] @ x.T
        cos[np.arange(len(cos)), np.arange(start, start + len(cos))] = -np.inf  # not its own neighbour
        out[start:start + _CHUNK] = np.partition(cos, -m, axis=1)[:, -m:].mean(axis=1)
    return out


@query_strategy("density-margin", "margin weighted by how typical a row is: (1 - gap) x the mean cosine to its "
                f"{DENSITY_NEIGHBOURS} nearest pool rows, so outliers the model is unsure of are not preferred "
                "(Settles & Craven 2008)", proba=True, embeddings=True)
def _density_margin(q: QueryInput, n: int, keep: Callable[[int], bool]) -> list[tuple[int, float]]:
    return _ranked(margin_uncertainty(q.proba) * np.clip(density(q.embeddings), 0.0, None), n, keep)


def _rows(q: QueryInput) -> int:
    return len(q.proba) if q.proba is not None else len(q.embeddings)  # type: ignore[arg-type]


# -- the shared rules ----------------------------------------------------------------------------------
def normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


def proposable(texts: Sequence[str], labelled_texts: Sequence[str] = ()) -> np.ndarray:
    """Indices of pool rows that may be proposed: the first of each distinct text, none already labelled."""
    seen = set(labelled_texts)
    keep = []
    for i, text in enumerate(texts):
        if text not in seen:
            seen.add(text)
            keep.append(i)
    return np.asarray(keep, dtype=int)


def select(strategy: str, n: int, *, proba: np.ndarray | None = None, embeddings: np.ndarray | None = None,
           labelled_embeddings: np.ndarray | None = None, texts: Sequence[str] | None = None,
           labelled_texts: Sequence[str] = (), seed: int = 0,
           duplicate_cosine: float = DUPLICATE_COSINE) -> Selection:
    """Choose `n` pool rows to label with `strategy` (see `QUERIES`); indices refer to the pool as passed.

    proba: (m, k) class probabilities of the pool; embeddings: (m, d) its embeddings (normalised here);
    labelled_embeddings: embeddings of the rows already labelled (kcenter's first centres); texts and
    labelled_texts: pool and labelled texts, for the never-propose-a-labelled-text and identical-text rules.
    """
    q = get_query(strategy)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
        raise ConfigError(expected("a number of rows to propose >= 1", repr(n), "Pass -n 1 or more."))
    sizes = {len(a) for a in (proba, embeddings, texts) if a is not None}
    if len(sizes) > 1:
        raise DataError(expected("one row of probabilities, embeddings and text per pool row",
                                 f"lengths {sorted(sizes)}", "Pass arrays of the same pool."))
    if q.needs_proba and proba is None:
        raise ConfigError(expected(f"class probabilities for '{strategy}'", "none",
                                   "Use a classification model, or --query kcenter/random (no probabilities)."))
    if q.needs_embeddings and embeddings is None:
        raise ConfigError(expected(f"embeddings of the pool for '{strategy}'", "none", "Pass embeddings."))
    m = sizes.pop() if sizes else 0
    allowed = proposable(texts, labelled_texts) if texts is not None else np.arange(m)
    if n > len(allowed):
        left_out = m - len(allowed)
        why = f" ({left_out} more are already labelled or repeat another row's text)" if left_out else ""
        raise DataError(expected(f"-n at most the {len(allowed)} pool rows that may be proposed{why}", f"-n {n}",
                                 f"Pass -n {len(allowed)} or less, or a larger pool."))
    x = normalise(embeddings[allowed]) if embeddings is not None else None
    inputs = QueryInput(proba=None if proba is None else np.asarray(proba, dtype=np.float64)[allowed],
                        embeddings=x,
                        labelled_embeddings=None if labelled_embeddings is None or not len(labelled_embeddings)
                        else normalise(labelled_embeddings),
                        rng=np.random.default_rng(seed))
    chosen = np.zeros((n, x.shape[1]) if x is not None else (0, 0), dtype=np.float32)  # rows kept so far
    kept = skipped = 0

    def keep(row: int) -> bool:
        nonlocal kept, skipped
        if x is not None:
            if kept and float(np.max(chosen[:kept] @ x[row])) >= duplicate_cosine:
                skipped += 1
                return False
            chosen[kept] = x[row]
        kept += 1
        return True

    picked = q.choose(inputs, n, keep)
    selection = Selection(indices=allowed[np.asarray([r for r, _ in picked], dtype=int)],
                          scores=np.asarray([s for _, s in picked], dtype=np.float64), strategy=strategy)
    if len(picked) < n:
        selection.notes.append(f"proposed {len(picked)} rows, not {n}: the other candidates are near-duplicates "
                               f"(cosine >= {duplicate_cosine:g}) of rows already proposed")
    elif skipped:
        selection.notes.append(f"{skipped} near-duplicate row(s) (cosine >= {duplicate_cosine:g} to a row already "
                               "proposed) passed over")
    return selection


# -- a fitted model's inputs -----------------------------------------------------------------------------
def model_embeddings(clf: Any, texts: Sequence[str]) -> np.ndarray:
    """The features a fitted classifier's strategy sees when it has them (probe, contrastive: its `embeddings`),
    else mean-pooled embeddings of its backbone (`headstart.embeddings.embed`, cached on disk)."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, 1), np.float32)
    own = getattr(clf.strategy_, "embeddings", None)
    if callable(own):
        return normalise(own(texts))
    ref = getattr(clf, "backbone_", None) or resolve_backbone(clf.backbone)
    return embed(ref, texts, progress=False)


def query_model(clf: Any, texts: Sequence[str], n: int, strategy: str = "margin",
                labelled_texts: Sequence[str] = (), seed: int = 0,
                duplicate_cosine: float = DUPLICATE_COSINE) -> tuple[Selection, np.ndarray | None]:
    """Choose `n` of `texts` to label next with a fitted classifier: (selection, the pool's class probabilities
    or None for a model without classes).

    Strategies that need class probabilities need a single-label classification model; kcenter, kmeans and
    random work with any task (they use the embeddings only). Embeddings are always computed: they decide
    what counts as a near-duplicate.
    """
    q = get_query(strategy)
    task = label_task(clf.task_)
    if q.needs_proba and not task.single_label:
        able = [name for name, s in QUERIES.items() if not s.needs_proba]
        raise ModelError(expected(f"a single-label classification model for --query {strategy} (it ranks by class "
                                  "probabilities)", f"a {clf.task_} model",
                                  f"Use --query {' or '.join(able)}, which need no class probabilities."))
    texts = list(texts)
    proba = clf.predict_proba(texts) if task.single_label else None
    selection = select(strategy, n, proba=proba, embeddings=model_embeddings(clf, texts),
                       labelled_embeddings=model_embeddings(clf, labelled_texts)
                       if labelled_texts and q.needs_embeddings else None,  # only diversity uses them
                       texts=texts, labelled_texts=list(labelled_texts), seed=seed, duplicate_cosine=duplicate_cosine)
    return selection, proba
