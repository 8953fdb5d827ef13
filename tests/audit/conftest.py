"""Planted-problem data sets for the audit tests."""

from __future__ import annotations

import random

import pytest

POSITIVE = ["great", "wonderful", "funny", "moving", "beautiful", "charming", "brilliant", "delightful"]
NEGATIVE = ["awful", "boring", "dull", "terrible", "stupid", "tedious", "mess", "worst"]
FILLER = ["the", "film", "story", "actors", "plot", "movie", "script", "cast", "director", "scenes"]


def synthetic_reviews(n: int, seed: int = 0) -> list[dict]:
    """Two classes told apart by their sentiment words; filler words are shared."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        words = rng.sample(POSITIVE if label == "positive" else NEGATIVE, 3) + rng.sample(FILLER, 4)
        rng.shuffle(words)
        rows.append({"text": " ".join(words) + f" {i}", "label": label})
    return rows


@pytest.fixture()
def planted(tmp_path):
    """Clean synthetic rows plus planted problems; returns (train path, test path, what was planted)."""
    import pandas as pd

    rows = synthetic_reviews(240)
    planted = {}
    planted["exact_dup"] = [len(rows), len(rows) + 1]
    rows += [dict(rows[3]), {"text": rows[5]["text"].upper() + "  ", "label": rows[5]["label"]}]  # copies of 3 and 5
    planted["conflict"] = [7, len(rows)]
    rows.append({"text": rows[7]["text"], "label": "negative" if rows[7]["label"] == "positive" else "positive"})
    planted["noise"] = list(range(len(rows), len(rows) + 3))
    rows += [{"text": "https://example.com/x?y=1", "label": "positive"},
             {"text": "<div><br/></div>", "label": "negative"},
             {"text": "0123 4567 8901 22", "label": "positive"}]
    planted["empty"] = [len(rows)]
    rows.append({"text": "", "label": "negative"})
    test = synthetic_reviews(40, seed=1)
    for k, row in enumerate(test):
        row["text"] = row["text"] + " test"
    planted["leaked_train"] = [10, 11]
    test += [dict(rows[10]), dict(rows[11])]
    train_path, test_path = tmp_path / "train.csv", tmp_path / "test.csv"
    pd.DataFrame(rows).to_csv(train_path, index=False)
    pd.DataFrame(test).to_csv(test_path, index=False)
    return train_path, test_path, planted
