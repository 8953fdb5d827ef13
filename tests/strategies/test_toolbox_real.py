"""End to end on the real pre-trained backbone (all-MiniLM-L6-v2) with small samples of the shipped SST-2 data.

Marked slow as well as real_model: each trains the 22M-parameter model for a few dozen steps, which takes
well over 20 s on a shared 2-core CPU (run them with `-m slow`). The accuracy floors guard against no-op
fits (chance is 0.5; with 128 training texts these strategies reach 0.6-0.8 on the first 200 test rows)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from headstart import TextClassifier

pytestmark = [pytest.mark.real_model, pytest.mark.slow]


@pytest.fixture(scope="module")
def sst2(demo_frames):
    train, test = demo_frames
    import pandas as pd

    sample = pd.concat([train[train.label == c].sample(64, random_state=0) for c in sorted(set(train.label))])
    return sample.text.tolist(), sample.label.tolist(), test.text.tolist()[:200], test.label.tolist()[:200]


def test_lora_on_the_real_model(sst2, tmp_path):
    texts, labels, test_texts, test_labels = sst2
    clf = TextClassifier(strategy="lora", seed=0, progress=False, epochs=3, max_length=64, batch_size=16,
                         patience=0).fit(texts, labels)
    report = clf.fit_report_
    assert report.trainable_parameters < 0.02 * report.total_parameters
    accuracy = clf.score(test_texts, test_labels)
    assert accuracy >= 0.6, accuracy
    clf.save(tmp_path / "m")
    assert sum(f.stat().st_size for f in (tmp_path / "m").iterdir()) < 5e6  # adapter + head, not the backbone
    loaded = TextClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.decision_scores(test_texts[:50]), clf.decision_scores(test_texts[:50]))


@pytest.mark.parametrize("name,options", [("head-only", {"lr": 3e-3, "epochs": 4}), ("bitfit", {"epochs": 2})])
def test_frozen_feature_strategies_learn_on_real_features(name, options, sst2):
    texts, labels, test_texts, test_labels = sst2
    clf = TextClassifier(strategy=name, seed=0, progress=False, max_length=64, batch_size=16, patience=0,
                         **options).fit(texts, labels)
    assert clf.score(test_texts, test_labels) >= 0.58


def test_pretrain_on_the_real_model(demo_frames, tmp_path):
    from headstart.cli import main

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(demo_frames[0].text.tolist()[:400]), encoding="utf-8")
    out = tmp_path / "adapted"
    assert main(["pretrain", str(corpus), "-o", str(out), "--max-steps", "10", "--head-warmup-steps", "20",
                 "--batch-size", "16", "--max-length", "32", "--lr", "5e-5", "--quiet"]) == 0
    report = json.loads((out / "pretrain_report.json").read_text())
    assert report["source_backbone"] == "all-MiniLM-L6-v2" and report["steps"] == 10
    assert report["after"]["loss"] < report["before"]["loss"]
    probe = TextClassifier(backbone=str(out), strategy="probe", progress=False)
    probe.fit(demo_frames[0].text.tolist()[:100], demo_frames[0].label.tolist()[:100])
    assert probe.score(demo_frames[1].text.tolist()[:100], demo_frames[1].label.tolist()[:100]) > 0.6
