"""benchmarks/self_training_variants.py: the labelled samples are the library's, and every variant fits and
predicts on separable toy features (pseudo-labels then help, not hurt)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
bench = pytest.importorskip("self_training_variants")


def test_the_labelled_sample_is_the_librarys():
    from headstart.data.examples import from_lists
    from headstart.data.split import sample_per_class

    labels = ["a", "b", "c"] * 20
    y = np.array([{"a": 0, "b": 1, "c": 2}[v] for v in labels])
    ours = bench.per_class_sample(y, 4, seed=3)
    theirs = sample_per_class(from_lists([f"t{i}" for i in range(60)], labels), 4, 3)
    assert [f"t{i}" for i in ours] == list(theirs.texts)


def test_every_variant_predicts_and_pseudo_labels_help_on_separable_clusters():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 3
    y = np.repeat(np.arange(3), 200)
    x = centres[y] + rng.normal(size=(600, 16))
    labelled = bench.per_class_sample(y, 2, seed=0)
    pool = np.setdiff1d(np.arange(600), labelled)
    for name, variant in bench.VARIANTS.items():
        predicted = bench.fit_variant(variant, x[labelled], y[labelled], x[pool], 3)(x)
        assert predicted.shape == (600,) and (predicted == y).mean() > 0.9, name
