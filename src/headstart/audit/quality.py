"""Data quality checks: duplicates, near duplicates, conflicting labels, leakage, class balance,
text length (in backbone tokens) and non-text noise.

Every check returns a plain dict (see `make_check`) so that the audit is one self-describing JSON
document: a count, the affected row numbers, a few examples and a suggested action.
Row numbers are 0-based positions among the data rows of the file (the header is not counted).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from typing import Any, Sequence

import numpy as np

MAX_ROWS_STORED = 5000  # affected rows listed per check in audit.json (counts are always complete)

URL = re.compile(r"(?:https?://|www\.)\S+", re.I)
TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>|&(?:[a-z]+|#\d+);", re.I)
LETTER = re.compile(r"[^\W\d_]", re.U)


def make_check(name: str, title: str, rows: Sequence[int], action: str, examples: list[dict[str, Any]],
               severity: str = "warning", count: int | None = None, **details: Any) -> dict[str, Any]:
    """One audit finding. `severity` applies when the count is non-zero ('ok' otherwise)."""
    rows = sorted({int(r) for r in rows})
    count = len(rows) if count is None else int(count)
    return {"name": name, "title": title, "count": count, "severity": severity if count else "ok",
            "action": action if count else "nothing to do", "examples": examples,
            "rows": rows[:MAX_ROWS_STORED], "rows_truncated": len(rows) > MAX_ROWS_STORED, **details}


def skipped_check(name: str, title: str, why: str) -> dict[str, Any]:
    return {"name": name, "title": title, "count": 0, "severity": "skipped", "action": why, "examples": [],
            "rows": [], "rows_truncated": False}


def normalise_text(text: str) -> str:
    """The key exact duplicates share: NFKC, lower case, collapsed whitespace."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _clip(text: str, n: int = 160) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _label_str(label: Any) -> str:
    return "|".join(map(str, label)) if isinstance(label, (list, tuple)) else str(label)


# -- exact and near duplicates -------------------------------------------------------------------------
def exact_groups(texts: Sequence[str]) -> list[list[int]]:
    """Groups (2+ rows) of texts equal after `normalise_text`, in order of first appearance."""
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(texts):
        by_key[normalise_text(text)].append(i)
    return [rows for rows in by_key.values() if len(rows) > 1]


def similar_pairs(a: np.ndarray, b: np.ndarray | None, threshold: float, block: int = 1024) -> list[tuple[int, int, float]]:
    """Pairs (i, j, cosine) with similarity >= threshold between rows of normalised `a` and `b`.

    With `b=None`, pairs within `a` (i < j). Blocked matrix products keep memory at block x n.
    """
    pairs: list[tuple[int, int, float]] = []
    other = a if b is None else b
    for start in range(0, len(a), block):
        sims = a[start:start + block] @ other.T
        if b is None:  # keep the strict upper triangle only
            rows = np.arange(start, min(start + block, len(a)))
            sims[rows[:, None] >= np.arange(len(other))[None, :]] = -1.0
        hit_i, hit_j = np.nonzero(sims >= threshold)
        pairs.extend((start + int(i), int(j), float(sims[i, j])) for i, j in zip(hit_i, hit_j))
    return pairs


def _linked_groups(n: int, pairs: Sequence[tuple[int, int]]) -> list[list[int]]:
    """The groups (2+ rows, sorted) that `pairs` link, directly or through other rows, by their first row."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    links = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(links)), (links[:, 0], links[:, 1])), shape=(n, n))
    _, component = connected_components(graph)  # weakly connected: a link joins its rows either way round
    groups: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(component.tolist()):
        groups[c].append(i)
    return [g for g in groups.values() if len(g) > 1]


def duplicate_checks(texts: Sequence[str], labels: Sequence[Any] | None, vectors: np.ndarray | None,
                     threshold: float, n_examples: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Exact duplicates, near duplicates and duplicates with conflicting labels.

    Returns the checks and the groups (for --fix): {'exact': [[rows]], 'near': [[rows]]}.
    """
    exact = exact_groups(texts)
    redundant = [r for g in exact for r in g[1:]]
    examples = [{"rows": g[:10], "text": _clip(texts[g[0]]), "copies": len(g),
                 **({"labels": sorted({_label_str(labels[r]) for r in g})} if labels is not None else {})}
                for g in sorted(exact, key=len, reverse=True)[:n_examples]]
    checks = [make_check("exact_duplicates", "exact duplicates", redundant,
                         "drop the repeated copies (--fix keeps the first of each group); they over-weight those "
                         "texts and leak between train/validation splits", examples, groups=len(exact))]
    near: list[list[int]] = []
    if vectors is None:
        checks.append(skipped_check("near_duplicates", "near duplicates", "no embeddings (near duplicates not checked)"))
    else:
        repeated = set(redundant)
        keep = [i for i in range(len(texts)) if i not in repeated]  # one row per exact group
        pairs = similar_pairs(vectors[keep], None, threshold)
        near = [[keep[i] for i in g] for g in _linked_groups(len(keep), [(i, j) for i, j, _ in pairs])]
        best = sorted(pairs, key=lambda p: -p[2])
        examples = [{"rows": [keep[i], keep[j]], "similarity": round(s, 4), "text_a": _clip(texts[keep[i]]),
                     "text_b": _clip(texts[keep[j]]),
                     **({"labels": [_label_str(labels[keep[i]]), _label_str(labels[keep[j]])]} if labels is not None else {})}
                    for i, j, s in best[:n_examples]]
        checks.append(make_check("near_duplicates", f"near duplicates (cosine >= {threshold:g})",
                                 [r for g in near for r in g[1:]],
                                 "review: paraphrases are fine, but templated or boilerplate texts inflate scores; raise "
                                 "--near-threshold if these are legitimate", examples, groups=len(near), pairs=len(pairs),
                                 threshold=threshold))
    if labels is not None:
        conflicts = [(kind, g) for kind, groups in (("exact", exact), ("near", near)) for g in groups
                     if len({_label_str(labels[r]) for r in g}) > 1]
        examples = [{"kind": kind, "rows": g[:10], "text": _clip(texts[g[0]]),
                     "labels": dict(Counter(_label_str(labels[r]) for r in g))} for kind, g in conflicts[:n_examples]]
        checks.append(make_check("conflicting_labels", "duplicates with conflicting labels",
                                 [r for _, g in conflicts for r in g],
                                 "relabel or drop: the same text cannot teach two answers (--fix keeps a clear majority "
                                 "label of exact duplicates, otherwise drops the group)", examples, severity="problem",
                                 groups=len(conflicts)))
    return checks, {"exact": exact, "near": near}


def leakage_check(train_texts: Sequence[str], test_texts: Sequence[str], train_vectors: np.ndarray | None,
                  test_vectors: np.ndarray | None, threshold: float, n_examples: int) -> dict[str, Any]:
    """Test rows that also appear, exactly or nearly, in the training data.

    `rows` are the TRAINING rows involved (what --fix drops); `test_rows` the test rows affected.
    """
    train_keys: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(train_texts):
        train_keys[normalise_text(text)].append(i)
    test_keys = [normalise_text(text) for text in test_texts]
    exact = {j: train_keys[k] for j, k in enumerate(test_keys) if k in train_keys}  # test row -> train rows
    near: dict[int, tuple[int, float]] = {}
    if train_vectors is not None and test_vectors is not None:
        for j, i, sim in similar_pairs(test_vectors, train_vectors, threshold):
            if j not in exact and (j not in near or sim > near[j][1]):
                near[j] = (i, sim)
    examples = [{"kind": "exact", "test_row": j, "train_rows": rows[:5], "text": _clip(test_texts[j])}
                for j, rows in list(exact.items())[:n_examples]]
    examples += [{"kind": "near", "test_row": j, "train_rows": [i], "similarity": round(s, 4),
                  "test_text": _clip(test_texts[j]), "train_text": _clip(train_texts[i])}
                 for j, (i, s) in sorted(near.items(), key=lambda kv: -kv[1][1])[:n_examples]]
    train_rows = [r for rows in exact.values() for r in rows] + [i for i, _ in near.values()]
    test_rows = sorted(set(exact) | set(near))
    check = make_check("leakage", "test rows also in training data", train_rows,
                       "drop the training copies (--fix does) or the test rows; leaked rows make test scores "
                       "optimistic", examples, severity="problem", count=len(test_rows))
    check.update(test_rows=test_rows[:MAX_ROWS_STORED], exact_test_rows=len(exact), near_test_rows=len(near),
                 n_test=len(test_texts), threshold=threshold)
    return check


# -- labels and lengths ---------------------------------------------------------------------------------
def balance_checks(labels: Sequence[Any], imbalance_ratio: float, tiny_class: int) -> list[dict[str, Any]]:
    counts = Counter(_label_str(label) for label in labels)
    ranked = counts.most_common()
    largest, smallest = ranked[0], ranked[-1]
    ratio = largest[1] / max(smallest[1], 1)
    imbalanced = ratio >= imbalance_ratio and len(ranked) > 1
    rows_of_small = [i for i, label in enumerate(labels) if counts[_label_str(label)] == smallest[1]]
    checks = [make_check("class_imbalance", f"class imbalance (largest/smallest >= {imbalance_ratio:g})",
                         rows_of_small if imbalanced else [],
                         "use --class-weight balanced, collect more of the small classes, or judge by macro-F1",
                         [{"largest": largest[0], "largest_count": largest[1], "smallest": smallest[0],
                           "smallest_count": smallest[1], "ratio": round(ratio, 2)}] if imbalanced else [],
                         count=len(ranked) if imbalanced else 0, ratio=round(ratio, 3), label_counts=dict(ranked))]
    tiny = {c: n for c, n in counts.items() if n < tiny_class}
    checks.append(make_check("tiny_classes", f"classes with fewer than {tiny_class} rows",
                             [i for i, label in enumerate(labels) if _label_str(label) in tiny],
                             "collect more examples, merge the class into a neighbour, or drop it; a handful of rows "
                             "cannot be learnt or evaluated reliably", [{"class": c, "rows": n} for c, n in tiny.items()],
                             count=len(tiny), classes=tiny))
    return checks


def short_text_check(texts: Sequence[str], min_words: int, n_examples: int) -> dict[str, Any]:
    rows = [i for i, t in enumerate(texts) if len(t.split()) < min_words]
    empty = sum(1 for i in rows if not texts[i].strip())
    return make_check("short_texts", f"empty or very short texts (< {min_words} words)", rows,
                      "check these rows; drop empty ones (--fix drops empty texts)",
                      [{"row": i, "text": texts[i]} for i in rows[:n_examples]], empty=empty, min_words=min_words)


def token_lengths(tokenizer: Any, texts: Sequence[str], batch: int = 2048) -> np.ndarray:
    """Tokens per text, special tokens included, without truncation."""
    lengths: list[int] = []
    for start in range(0, len(texts), batch):
        enc = tokenizer(list(texts[start:start + batch]), add_special_tokens=True, truncation=False, verbose=False)
        lengths.extend(len(ids) for ids in enc["input_ids"])
    return np.asarray(lengths, dtype=np.int64)


def long_text_check(texts: Sequence[str], lengths: np.ndarray, max_tokens: int, backbone: str,
                    n_examples: int) -> dict[str, Any]:
    over = np.nonzero(lengths > max_tokens)[0]
    lost = int((lengths[over] - max_tokens).sum()) if len(over) else 0
    order = over[np.argsort(-lengths[over])] if len(over) else over
    return make_check("long_texts", f"texts longer than {max_tokens} tokens of {backbone}", over.tolist(),
                      "fine if the start carries the label; otherwise raise --max-length, or split long texts into "
                      "chunks", [{"row": int(i), "tokens": int(lengths[i]), "text": _clip(texts[i])} for i in order[:n_examples]],
                      max_tokens=max_tokens, tokens_truncated=lost,
                      token_stats={"mean": float(lengths.mean()), "p95": float(np.percentile(lengths, 95)),
                                   "max": int(lengths.max())} if len(lengths) else {})


def noise_kind(text: str) -> str | None:
    """Why a text looks like non-text noise, or None."""
    stripped = text.strip()
    if not stripped:
        return None  # reported as short/empty
    without_urls = URL.sub(" ", stripped)
    if URL.search(stripped) and not LETTER.search(without_urls):
        return "url only"
    tags = sum(len(m.group(0)) for m in TAG.finditer(stripped))
    if tags and tags / len(stripped) >= 0.3:
        return "markup"
    visible = [c for c in stripped if not c.isspace()]
    digits = sum(c.isdigit() for c in visible)
    if visible and digits / len(visible) >= 0.5:
        return "mostly digits"
    if not LETTER.search(stripped):
        return "no letters"
    return None


def noise_check(texts: Sequence[str], n_examples: int) -> dict[str, Any]:
    kinds = {i: k for i, t in enumerate(texts) if (k := noise_kind(t))}
    return make_check("noise", "non-text noise (URL only, markup, mostly digits, no letters)", list(kinds),
                      "drop or clean these rows (--fix drops them; `headstart fit --strip-html` removes markup)",
                      [{"row": i, "kind": k, "text": _clip(texts[i])} for i, k in list(kinds.items())[:n_examples]],
                      kinds=dict(Counter(kinds.values())), row_kinds={str(i): k for i, k in list(kinds.items())[:MAX_ROWS_STORED]})
