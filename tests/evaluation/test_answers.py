"""What `headstart compare` prints: no invented spread or fit quality when the grid cannot measure them."""

from __future__ import annotations

from headstart.evaluation.answers import format_results
from headstart.evaluation.curves import forecasts, learning_curves, paired_comparisons, recommend

from .test_curves import _cells


def _results(cells):
    curves = learning_curves(cells)
    return {"metric": "accuracy", "curves": curves, "baselines": ["scratch-tfidf"],
            "paired": paired_comparisons(cells), "transfer_gain": [], "forecast": forecasts(cells),
            "recommendation": recommend(curves), "skipped": []}


def test_one_seed_two_sizes_prints_no_spread_no_forecast():
    cells = (_cells("probe", [("8", 8, 0.70), ("64", 64, 0.80)], seeds=1, fit_seconds=2.0)
             + _cells("scratch-tfidf", [("8", 8, 0.55), ("64", 64, 0.65)], seeds=1, fit_seconds=0.1))
    text = format_results(_results(cells))
    assert "±" not in text and "0.0000" not in text
    assert "spread unknown (1 seed)" in text
    assert "rmse" not in text and "forecast: none" in text and "3 or more sizes" in text
    assert "rests on: one seed: spread unknown (1 seed)" in text


def test_one_seed_three_sizes_forecast_has_no_rmse():
    cells = _cells("probe", [("8", 8, 0.70), ("64", 64, 0.80), ("512", 512, 0.84)], seeds=1)
    text = format_results(_results(cells))
    forecast = text[text.index("forecast:"):]
    assert "0.0000" not in forecast and "no more points than the curve has parameters" in forecast


def test_several_seeds_keep_the_spread_and_say_so():
    cells = (_cells("probe", [("8", 8, 0.70), ("64", 64, 0.80), ("512", 512, 0.84)], seeds=3, noise=0.01)
             + _cells("scratch-tfidf", [("8", 8, 0.55), ("64", 64, 0.65)], seeds=3, noise=0.01))
    text = format_results(_results(cells))
    assert "mean ± std over seeds" in text and " ± 0.0" in text
    assert "no forecast for scratch-tfidf: fewer than 3 sizes" in text
    assert "rests on: mean ± std over 3 seeds" in text


def test_mixed_seed_counts_mark_the_single_seed_cells():
    cells = _cells("probe", [("8", 8, 0.70)], seeds=3, noise=0.01) + _cells("probe", [("64", 64, 0.8)], seeds=1)
    text = format_results(_results(cells))
    assert "0.8000 (1 seed)" in text and "'(1 seed)': spread unknown" in text
