"""Augmentation of scarce classes: new examples from the instruct LM and from simple text edits, kept
only when their embedding is closer to their own class centroid than to any other class's.

A class is scarce when it has fewer examples than the largest class; when every class has the same
count (the usual few-shot set-up) every class is scarce. Every kept row is returned (and written to a
CSV) so the user can inspect what the model trained on.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .backbones import DEFAULT_BACKBONE, resolve_backbone
from .data.examples import Examples
from .embeddings import embed
from .errors import ConfigError, expected
from .instruct_lm import DEFAULT_LM
from .io import atomic_write_text
from .tasks import label_task


def word_dropout(text: str, rng: np.random.Generator, p: float = 0.15) -> str:
    words = text.split()
    kept = [w for w in words if rng.random() >= p]
    return " ".join(kept if len(kept) >= max(1, len(words) // 2) else words)


def word_swap(text: str, rng: np.random.Generator) -> str:
    """Swap two neighbouring words."""
    words = text.split()
    if len(words) < 2:
        return text
    i = int(rng.integers(0, len(words) - 1))
    words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def span_shuffle(text: str, rng: np.random.Generator, width: int = 3) -> str:
    """Shuffle the words inside one short span (no synonyms needed, meaning mostly kept)."""
    words = text.split()
    if len(words) < 3:
        return text
    i = int(rng.integers(0, max(1, len(words) - width + 1)))
    span = words[i:i + width]
    rng.shuffle(span)
    words[i:i + width] = span
    return " ".join(words)


EDITS = {"edit:dropout": word_dropout, "edit:swap": word_swap, "edit:shuffle": span_shuffle}


def edit_candidates(texts: Sequence[str], n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """`n` (text, source) candidates made by random edits of random texts."""
    names = list(EDITS)
    out = []
    for _ in range(n):
        name = names[int(rng.integers(0, len(names)))]
        out.append((EDITS[name](texts[int(rng.integers(0, len(texts)))], rng), name))
    return out


def keep_closer_to_own(candidates: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Boolean mask: candidate i is kept when its similarity to its own class centroid beats every other.

    candidates (m, d) and centroids (k, d) are normalised; labels (m,) index into centroids.
    """
    sims = candidates @ centroids.T
    own = sims[np.arange(len(labels)), labels]
    sims[np.arange(len(labels)), labels] = -np.inf
    return own > sims.max(axis=1)


def augment_examples(train: Examples, augment: int, *, backbone: str = DEFAULT_BACKBONE, seed: int = 0,
                     augment_output: str = "", augment_lm: str = DEFAULT_LM) -> tuple[Examples, list[dict[str, str]]]:
    """Add up to `augment` filtered new examples to every scarce class; returns (examples, generated rows).

    `augment_lm='none'` uses text edits only. Rows are also written to `augment_output` when given.
    """
    augment = int(augment)
    if augment < 0:
        raise ConfigError(expected("augment >= 0", str(augment), "Pass the number of new examples per class."))
    if not label_task(train.task).single_label or not train.labels:
        raise ConfigError(expected("labelled classification data to augment", f"task '{train.task}'",
                                   "Use augmentation with single-label classification."))
    rng = np.random.default_rng(seed)
    classes = sorted(set(train.labels))
    counts = {c: train.labels.count(c) for c in classes}
    top = max(counts.values())
    scarce = [c for c in classes if counts[c] < top] or classes
    by_class = {c: [t for t, l in zip(train.texts, train.labels) if l == c] for c in classes}
    candidates: list[tuple[str, str, str]] = []  # (text, label, source)
    if augment_lm and augment_lm != "none":
        from .instruct_lm import load_lm, paraphrase
        from .seeding import pick_device

        device = pick_device("auto")
        model, tokenizer = load_lm(augment_lm, device)
        sources = [(by_class[c][int(rng.integers(0, len(by_class[c])))], c) for c in scarce for _ in range(augment)]
        outputs = paraphrase(model, tokenizer, [t for t, _ in sources], seed=seed, device=device)
        candidates += [(o, c, "lm") for o, (_, c) in zip(outputs, sources)]
    for c in scarce:
        candidates += [(t, c, s) for t, s in edit_candidates(by_class[c], augment, rng)]
    known = set(train.texts)
    seen: set[str] = set()
    unique = []
    for text, label, source in candidates:
        text = text.strip()
        if text and text not in known and text not in seen:
            seen.add(text)
            unique.append((text, label, source))
    rows: list[dict[str, str]] = []
    if unique:
        ref = resolve_backbone(backbone)
        x = embed(ref, train.texts, progress=False)
        index = {c: i for i, c in enumerate(classes)}
        y = np.asarray([index[l] for l in train.labels])
        centroids = np.stack([x[y == i].mean(0) for i in range(len(classes))])
        centroids /= np.clip(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12, None)
        cand_x = embed(ref, [t for t, _, _ in unique], progress=False)
        keep = keep_closer_to_own(cand_x, np.asarray([index[l] for _, l, _ in unique]), centroids)
        taken = {c: 0 for c in scarce}
        for (text, label, source), ok in zip(unique, keep):
            if ok and taken[label] < augment:
                taken[label] += 1
                rows.append({"text": text, "label": label, "source": source})
    if augment_output:
        write_rows(rows, Path(augment_output))
    augmented = Examples(texts=train.texts + [r["text"] for r in rows], labels=train.labels + [r["label"] for r in rows],
                         task=train.task, source=f"{train.source} + {len(rows)} augmented")
    return augmented, rows


def write_rows(rows: list[dict[str, Any]], path: Path) -> None:
    """The generated rows as a CSV (text,label,source), written atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["text", "label", "source"])
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())
