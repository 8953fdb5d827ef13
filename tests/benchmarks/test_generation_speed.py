"""benchmarks/generation_speed.py: both training sides and both generation sides do the same counted work on a
tiny random Llama, and a side that does more (or decodes differently) fails the equal-work check."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
sidebyside = pytest.importorskip("sidebyside")
speed = pytest.importorskip("generation_speed")

from tests.generation.conftest import PAIRS, tiny_decoder  # noqa: E402,F401  (the fixture is used by name)


@pytest.fixture
def config(tiny_decoder, tmp_path) -> dict:  # noqa: F811
    # uneven lengths, so that grouping and padding can differ between the sides
    rows = [{"source": s + " and" * (i % 5), "target": t} for i, (s, t) in enumerate(PAIRS * 2)]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {"dataset": "custom", "task": "translate", "pairs_file": str(path), "backbone": tiny_decoder,
            "device": "cpu", "rows": 10, "epochs": 1, "batch_size": 4, "lr": 1e-3, "seed": 0, "max_length": 64,
            "max_source_length": 32, "max_target_length": 16, "max_new_tokens": 5, "gen_batch_size": 4,
            "gen_inputs": 7}


def _run(side: str, config: dict) -> "sidebyside.Run":
    clock = sidebyside.Clock()
    work = speed.SIDES[side](config, clock)
    assert clock.entered and clock.seconds > 0
    return sidebyside.Run(side, clock.seconds, work.compared(), work.info, 0.0, 1)


def test_training_sides_count_the_same_work(config):
    trainer, headstart = _run("training:trainer", config), _run("training:headstart", config)
    work = sidebyside.check_equal_work([trainer, headstart])
    assert work["steps"] == 3 and work["examples"] == 10 and work["epochs"] == 1.0  # ceil(10 / 4) steps, 1 epoch
    assert work["tokens"] > 10 and work["longest_batch"] > 0
    assert headstart.info["loss"].startswith("target-only") and trainer.info["grouping"] == "random batches"
    # the same counted rows and tokens; the prompt's shared prefix is computed once per batch by headstart
    assert 0 < headstart.info["body_tokens"] <= work["tokens"]
    if headstart.info["loss"] == "target-only+shared-prefix":
        assert headstart.info["body_tokens"] < work["tokens"]
    assert trainer.info["padded_tokens"] >= work["tokens"] and headstart.info["padded_tokens"] >= work["tokens"]


def test_a_training_side_with_more_epochs_fails_the_check(config):
    one = _run("training:headstart", config)
    two = _run("training:trainer", dict(config, epochs=2))
    with pytest.raises(sidebyside.UnequalWork, match="steps"):
        sidebyside.check_equal_work([one, two])


def test_fewer_pairs_fail_the_check(config):
    with pytest.raises(sidebyside.UnequalWork, match="rows"):
        sidebyside.check_equal_work([_run("training:headstart", config),
                                     _run("training:trainer", dict(config, rows=8))])


def test_generation_sides_give_identical_outputs(config):
    one, batched = _run("generation:one-by-one", config), _run("generation:batched", config)
    work = sidebyside.check_equal_work([one, batched])
    assert work["rows"] == 7 and work["generated_tokens"] > 0
    assert one.info["padding"] != batched.info["padding"]  # recorded, not compared: it is what is measured


def test_different_outputs_fail_the_generation_check(config):
    with pytest.raises(sidebyside.UnequalWork, match="outputs_sha256|generated_tokens"):
        sidebyside.check_equal_work([_run("generation:one-by-one", config),
                                     _run("generation:batched", dict(config, max_new_tokens=2))])


def test_tokens_per_second_uses_the_counted_tokens():
    row = {"work": {"tokens": 600}, "sides": {"a": {"seconds": {"median": 2.0}}, "b": {"seconds": {"median": 3.0}}}}
    assert speed.tokens_per_second(row, "tokens") == {"a": 300.0, "b": 200.0}
