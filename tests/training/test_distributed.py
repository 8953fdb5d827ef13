"""`finetune` and `lora` under torchrun with 2 CPU processes (gloo): it trains, rank 0 alone saves, quality matches 1 process."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from headstart import TextClassifier

SRC = str(Path(__file__).resolve().parents[2] / "src")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


POSITIVE = ["great", "wonderful", "best", "beautiful", "funny"]
NEGATIVE = ["bad", "worst", "boring", "dull", "mess"]


def _easy_data(n: int, seed: int, leading_markers: bool = False) -> pd.DataFrame:
    """Sentiment decided by one marker word among filler: learnable by the tiny model in a few steps.
    With `leading_markers`, three marker words open every text instead: easier still (for adapters)."""
    rng = random.Random(seed)
    filler = "the film a story and it of this with as its".split()
    rows = []
    for i in range(n):
        label = "positive" if i % 2 else "negative"
        markers = POSITIVE if i % 2 else NEGATIVE
        if leading_markers:
            words = markers[:3] + rng.sample(filler, 3)
        else:
            words = rng.sample(filler, 5) + [rng.choice(markers)]
            rng.shuffle(words)
        rows.append({"text": " ".join(words), "label": label})
    return pd.DataFrame(rows)


# (training rows, epochs, learning rate, leading markers): low-rank adapters start at zero and, on the tiny
# model's random weights, need a larger step, more passes and an easier task (as in the matrix's "learns" test)
SETTINGS = {"finetune": (320, "3", "2e-3", False), "lora": (120, "15", "1e-2", True)}


def _fit(tmp: Path, backbone: str, strategy: str, out: str, processes: int) -> subprocess.CompletedProcess:
    args = ["-m", "headstart", "fit", str(tmp / "train.csv"), "--strategy", strategy, "--backbone", backbone,
            "--epochs", SETTINGS[strategy][1], "--batch-size", "16", "--lr", SETTINGS[strategy][2],
            "--max-length", "32", "--patience", "0", "--min-steps", "0",
            "--device", "cpu", "-o", str(tmp / out), "--quiet"]
    env = dict(os.environ, PYTHONPATH=SRC, OMP_NUM_THREADS="1")
    if processes > 1:
        args = ["-m", "torch.distributed.run", "--nproc_per_node", str(processes), "--master_addr", "127.0.0.1",
                "--master_port", str(free_port()), *args]
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow  # two torch processes plus a reference run: minutes on a shared 2-core machine
@pytest.mark.parametrize("strategy", list(SETTINGS))
def test_two_process_ddp_trains_like_one(tmp_path, tiny_backbone, strategy):
    rows, _, _, leading = SETTINGS[strategy]
    _easy_data(rows, 0, leading).to_csv(tmp_path / "train.csv", index=False)
    test = _easy_data(100, 1, leading)
    single = _fit(tmp_path, tiny_backbone, strategy, "one", 1)
    assert single.returncode == 0, single.stderr[-2000:]
    double = _fit(tmp_path, tiny_backbone, strategy, "two", 2)
    assert double.returncode == 0, double.stderr[-2000:]
    assert double.stdout.count(f"fitting '{strategy}'") == 1 and double.stdout.count("saved to") == 1  # rank 0 only
    meta = json.loads((tmp_path / "two" / "headstart.json").read_text())
    assert any("2 processes" in note for note in meta["fit"]["notes"])
    scores = {name: TextClassifier.load(tmp_path / name).score(test.text, test.label) for name in ("one", "two")}
    assert scores["one"] >= 0.75 and scores["two"] >= 0.75, scores  # chance is 0.5
    assert abs(scores["one"] - scores["two"]) <= 0.05, scores
