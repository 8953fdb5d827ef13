"""benchmarks/self_training_tuned.py: every variant returns a probability per class and test row, and the one
the docs call the library's is the library's `cluster` pseudo-labels with its default weight."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
bench = pytest.importorskip("self_training_tuned")


def _data(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 12)) * 3

    def draw(labels):
        x = centres[labels] + rng.normal(size=(len(labels), 12))
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    y_train, y_pool, y_test = np.repeat(np.arange(3), 3), rng.integers(0, 3, 300), rng.integers(0, 3, 90)
    return {"x_train": draw(y_train), "y_train": y_train, "x_pool": draw(y_pool), "y_pool": y_pool,
            "x_test": draw(y_test), "y_test": y_test}


@pytest.mark.parametrize("name", list(bench.VARIANTS))
def test_every_variant_gives_probabilities_per_test_row(name):
    d = _data()
    proba = bench.VARIANTS[name](d, 3)
    assert proba.shape == (90, 3) and np.isfinite(proba).all()


def test_the_library_variant_pseudo_labels_as_cluster_labels_do():
    from headstart.unlabelled.prototypes import cluster_labels

    d = _data(1)
    r = cluster_labels(d["x_train"], d["y_train"], d["x_pool"], 3)
    expected = bench.head(np.vstack([d["x_train"], d["x_pool"]]), np.concatenate([d["y_train"], r.argmax(1)]),
                          np.concatenate([np.ones(9), 0.5 * r.max(1)]))
    assert np.allclose(bench.VARIANTS["cluster -> head (library)"](d, 3), bench.proba_of(expected, d["x_test"], 3))
    assert (bench.VARIANTS["cluster -> head (library)"](d, 3).argmax(1) == d["y_test"]).mean() > 0.9
