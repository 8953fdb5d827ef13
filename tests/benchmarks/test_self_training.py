"""benchmarks/self_training.py: rows with the encoder step are kept apart from rows without it, and rows made
before the option existed are still reused for runs without it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
bench = pytest.importorskip("self_training")

from headstart.unlabelled.self_train import SelfTrainConfig  # noqa: E402


def _row(encoder: bool) -> dict:
    options = SelfTrainConfig(self_train=True, self_train_method="auto", self_train_pool_limit=4000,
                              self_train_encoder=encoder)
    row = {"dataset": "trec", "n": 8, "strategy": "contrastive", "method": "auto", "seed": 0,
           "settings": bench.settings_of("contrastive", options, 4000)}
    return {**row, "encoder": True} if encoder else row


def test_the_encoder_step_has_its_own_key_label_and_settings():
    without, with_step = _row(False), _row(True)
    assert bench.label(without) == "auto=cluster" and bench.label(with_step) == "auto=cluster+encoder"
    assert bench.key(without) != bench.key(with_step)
    assert without["settings"] != with_step["settings"]


def test_rows_made_before_the_option_match_a_run_without_it():
    settings = _row(False)["settings"]
    assert "self_train_encoder" not in settings["self_train"], "older rows (no such key) are reused"
    assert _row(True)["settings"]["self_train"]["self_train_encoder"] is True


def test_rows_checked_on_a_validation_split_are_kept_apart():
    options = SelfTrainConfig(self_train=True, self_train_method="auto", self_train_pool_limit=4000,
                              self_train_encoder=True)
    row = {**_row(True), "settings": bench.settings_of("contrastive", options, 4000, valid_rows=200)}
    assert bench.label(row) == "auto=cluster+encoder+valid200"
    assert bench.key(row) != bench.key(_row(True)) and row["settings"] != _row(True)["settings"]
