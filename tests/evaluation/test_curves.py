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


def test_no_forecast_from_fewer_than_three_sizes():
    """Any two-parameter curve passes through two sizes exactly: a 'forecast' from them forecasts nothing."""
    assert fit_forecast([(8, 0.6), (8, 0.62), (64, 0.75), (64, 0.77)]) is None
    assert fit_forecast([(8, 0.6), (64, 0.75)]) is None
    assert fit_forecast([(8, 0.6), (8, 0.7)]) is None


def test_log_linear_fallback_when_the_power_law_does_not_converge(monkeypatch):
    import scipy.optimize

    def no_convergence(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found")

    monkeypatch.setattr(scipy.optimize, "curve_fit", no_convergence)
    points = [(8, 0.6), (8, 0.62), (64, 0.75), (64, 0.77), (512, 0.9), (512, 0.92)]
    f = fit_forecast(points)
    q, _ = np.polyfit(np.log([p[0] for p in points]), [p[1] for p in points], 1)
    assert f["form"] == "p + q * ln n" and f["doubling_gain"] == pytest.approx(q * math.log(2))
    assert f["rmse"] is not None and f["rmse"] > 0  # 6 points, 2 parameters: the residual means something


def test_an_exact_fit_reports_no_rmse():
    """One seed at three sizes: three points for three parameters leave no residual to judge the fit by."""
    f = fit_forecast([(8, 0.6), (64, 0.75), (512, 0.8)])
    assert f is not None and f["rmse"] is None and f["points"] == 3
    with_seeds = fit_forecast([(8, 0.6), (8, 0.62), (64, 0.75), (64, 0.74), (512, 0.8), (512, 0.82)])
    assert with_seeds["rmse"] is not None and with_seeds["rmse"] > 0


def test_one_seed_has_no_spread():
    curves = learning_curves(_cells("probe", [("8", 8, 0.7), ("64", 64, 0.8)], seeds=1))
    assert [p["std"] for p in curves["probe"]] == [None, None]
    assert learning_curves(_cells("probe", [("8", 8, 0.7)], seeds=2, noise=0.01))["probe"][0]["std"] > 0
    a = _cells("a", [("8", 8, 0.8)], seeds=1)
    rows = paired_comparisons(a + [dict(c, strategy="b", score=0.7) for c in a])
    assert rows[0]["n"] == 1 and rows[0]["std_diff"] is None and rows[0]["t_p"] is None


def test_one_seed_recommendation_says_what_it_rests_on():
    cells = (_cells("finetune", [("all", 100, 0.90)], seeds=1, fit_seconds=100.0)
             + _cells("probe", [("all", 100, 0.89)], seeds=1, fit_seconds=2.0))
    rec = recommend(learning_curves(cells))
    assert rec["strategy"] == "finetune" and rec["best_std"] is None and rec["std"] is None
    assert "spread unknown (1 seed)" in rec["reason"] and "rests on a single sample" in rec["reason"]
    assert "of the strategies within one std" not in rec["reason"]  # the old claim, with a std of 0
    assert "±" not in rec["reason"] and rec["basis"] == "one seed: spread unknown (1 seed)"


def test_recommendation_is_the_cheapest_within_the_spread_of_the_best():
    rng = np.random.default_rng(1)
    cells = (_cells("finetune", [("all", 100, 0.90)], seeds=5, noise=0.02, fit_seconds=100.0, rng=rng)
             + _cells("probe", [("all", 100, 0.89)], seeds=5, noise=0.01, fit_seconds=2.0, rng=rng)
             + _cells("scratch-tfidf", [("all", 100, 0.70)], seeds=5, noise=0.01, fit_seconds=0.1, rng=rng))
    rec = recommend(learning_curves(cells))
    assert rec["strategy"] == "probe" and rec["best"] == "finetune"
    assert "scratch-tfidf" not in rec["within"]
    assert rec["basis"] == "mean ± std over 5 seeds" and "within one std" in rec["reason"]
    assert "over 5 seeds" in rec["reason"]


def test_paired_comparison_uses_matching_seeds():
    a = _cells("a", [("8", 8, 0.8)], seeds=6, noise=0.01)
    b = [dict(c, strategy="b", score=c["score"] - 0.05 - 0.001 * c["seed"]) for c in a]
    rows = paired_comparisons(a + b[:5])  # seed 5 of b missing: only 5 pairs
    assert len(rows) == 1 and rows[0]["n"] == 5
    assert rows[0]["mean_diff"] == pytest.approx(0.052, abs=1e-9)
    assert rows[0]["wins_a"] == 5 and rows[0]["t_p"] < 0.001
    assert rows[0]["wilcoxon_p"] == pytest.approx(0.0625)  # the smallest exact two-sided p with 5 pairs
