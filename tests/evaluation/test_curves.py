"""The comparison's maths on synthetic curves: interpolation on log size, transfer gain, power-law
forecast, paired tests and the recommendation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from headstart.evaluation.curves import (fit_forecast, interpolate_needed, learning_curves, paired_comparisons,
                                         recommend, transfer_gain)


def _cells(strategy, curve, seeds=3, noise=0.0, fit_seconds=1.0, rng=None):
    rng = rng or np.random.default_rng(0)
    cells = []
    for size, n, score in curve:
        for seed in range(seeds):
            cells.append({"strategy": strategy, "size": size, "seed": seed, "n_per_class": n, "n_train": 2 * n,
                          "score": score + (rng.normal(0, noise) if noise else 0.0), "fit_seconds": fit_seconds,
                          "trainable_parameters": 10})
    return cells


def test_interpolation_is_linear_in_log_size():
    curve = [(8, 0.5), (64, 0.7), (512, 0.8)]
    relation, n = interpolate_needed(curve, 0.6)
    assert relation == "=" and n == pytest.approx(math.sqrt(8 * 64))
    assert interpolate_needed(curve, 0.75) == ("=", pytest.approx(math.sqrt(64 * 512)))
    assert interpolate_needed(curve, 0.45) == ("<=", 8)
    assert interpolate_needed(curve, 0.81) == (">", 512)


def test_transfer_gain_against_the_best_baseline_envelope():
    cells = (_cells("probe", [("8", 8, 0.70), ("64", 64, 0.85)])
             + _cells("scratch-a", [("8", 8, 0.50), ("64", 64, 0.70)])
             + _cells("scratch-b", [("8", 8, 0.55), ("64", 64, 0.60)]))
    curves = learning_curves(cells)
    gains = {g["size"]: g for g in transfer_gain(curves, ["scratch-a", "scratch-b"])}
    # probe@8 = 0.70: the envelope is 0.55 at 8 and 0.70 at 64, so scratch needs exactly 64 (8x)
    assert gains["8"]["relation"] == "=" and gains["8"]["scratch_needs"] == pytest.approx(64)
    assert gains["8"]["ratio"] == pytest.approx(8)
    assert gains["64"]["relation"] == ">" and "more than the largest size tried" in gains["64"]["text"]
    assert {g["strategy"] for g in gains.values()} == {"probe"}
    with_all = [dict(c, size="all") if c["size"] == "64" else c for c in cells]
    gains = {g["size"]: g for g in transfer_gain(learning_curves(with_all), ["scratch-a", "scratch-b"])}
    assert "more than all" in gains["all"]["text"]


def test_power_law_forecast_recovers_a_known_curve():
    a, b, c = 0.9, 0.5, 0.5
    sizes = [4, 8, 16, 32, 64, 128, 256, 1024]
    points = [(n, a - b * n ** -c) for n in sizes]
    f = fit_forecast(points)
    assert f["form"] == "a - b * n^-c"
    assert f["params"]["a"] == pytest.approx(a, abs=1e-3) and f["params"]["c"] == pytest.approx(c, abs=1e-2)
    expected_gain = b * (1024 ** -c - 2048 ** -c)
    assert f["doubling_gain"] == pytest.approx(expected_gain, rel=0.05)
    assert f["rmse"] < 1e-3


def test_two_sizes_fall_back_to_log_linear_and_one_size_gives_none():
    f = fit_forecast([(8, 0.6), (8, 0.62), (64, 0.75), (64, 0.77)])
    assert f["form"] == "p + q * ln n"
    q = (0.76 - 0.61) / math.log(8)
    assert f["doubling_gain"] == pytest.approx(q * math.log(2))
    assert fit_forecast([(8, 0.6), (8, 0.7)]) is None


def test_recommendation_is_the_cheapest_within_the_spread_of_the_best():
    rng = np.random.default_rng(1)
    cells = (_cells("finetune", [("all", 100, 0.90)], seeds=5, noise=0.02, fit_seconds=100.0, rng=rng)
             + _cells("probe", [("all", 100, 0.89)], seeds=5, noise=0.01, fit_seconds=2.0, rng=rng)
             + _cells("scratch-tfidf", [("all", 100, 0.70)], seeds=5, noise=0.01, fit_seconds=0.1, rng=rng))
    rec = recommend(learning_curves(cells))
    assert rec["strategy"] == "probe" and rec["best"] == "finetune"
    assert "scratch-tfidf" not in rec["within"]


def test_paired_comparison_uses_matching_seeds():
    a = _cells("a", [("8", 8, 0.8)], seeds=6, noise=0.01)
    b = [dict(c, strategy="b", score=c["score"] - 0.05 - 0.001 * c["seed"]) for c in a]
    rows = paired_comparisons(a + b[:5])  # seed 5 of b missing: only 5 pairs
    assert len(rows) == 1 and rows[0]["n"] == 5
    assert rows[0]["mean_diff"] == pytest.approx(0.052, abs=1e-9)
    assert rows[0]["wins_a"] == 5 and rows[0]["t_p"] < 0.001
    assert rows[0]["wilcoxon_p"] == pytest.approx(0.0625)  # the smallest exact two-sided p with 5 pairs
