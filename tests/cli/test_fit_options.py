"""Issue 17 section 2: `fit` options mean what they say (default strategy's options, other strategies' options,
an explicit epoch count, a held-out estimate from every strategy that can give one cheaply)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from headstart import TextClassifier
from headstart.cli import main


@pytest.fixture(scope="module")
def train_csv(tmp_path_factory, small_data):
    path = tmp_path_factory.mktemp("fit-options") / "train.csv"
    small_data[0].iloc[:60].to_csv(path, index=False)
    return path


def test_default_strategy_options_work_without_strategy(train_csv, tiny_backbone, tmp_path, capsys):
    """`headstart fit data.csv --no-cache` failed with 'unrecognized arguments' although probe is the default."""
    out = tmp_path / "m"
    assert main(["fit", str(train_csv), "--no-cache", "--backbone", tiny_backbone, "-o", str(out), "--quiet"]) == 0
    meta = json.loads((out / "headstart.json").read_text())
    assert meta["strategy"] == "probe" and meta["config"]["cache"] is False
    assert "cv_accuracy" in capsys.readouterr().out  # probe reports a held-out estimate, not valid_rows 0 alone


def test_options_of_the_config_files_strategy_work(train_csv, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"strategy": "scratch-tfidf"}))
    out = tmp_path / "m"
    assert main(["fit", str(train_csv), "--config", str(cfg), "--ngram-max", "1", "-o", str(out), "--quiet"]) == 0
    assert json.loads((out / "headstart.json").read_text())["config"]["ngram_max"] == 1


def test_another_strategys_option_names_its_strategies(train_csv, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", str(train_csv), "--strategy", "probe", "--epochs", "1", "-o", str(tmp_path / "m")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--epochs, which is an option of" in err and "finetune" in err and "lora" in err
    assert "Add --strategy finetune" in err and not (tmp_path / "m").exists()
    with pytest.raises(SystemExit):  # a switch of another strategy (probe's --no-cache under finetune)
        main(["fit", str(train_csv), "--strategy", "scratch-tfidf", "--no-cache", "-o", str(tmp_path / "m")])
    assert "--no-cache, which is an option of" in capsys.readouterr().err


def test_explicit_epochs_run_exactly_and_the_summary_says_so(train_csv, tiny_backbone, tmp_path, capsys):
    """`--strategy finetune --epochs 1` on 300 rows ran 12 epochs because min_steps=100 silently won."""
    out = tmp_path / "m"
    assert main(["fit", str(train_csv), "--strategy", "finetune", "--backbone", tiny_backbone, "--epochs", "1",
                 "--max-length", "16", "--batch-size", "16", "-o", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "note: ran 1 epoch (4 steps): as set by epochs=1" in printed  # 54 training rows, batches of 16
    meta = json.loads((out / "headstart.json").read_text())
    assert meta["config"]["epochs"] == 1 and "early" not in printed


def test_unset_epochs_stretch_and_round_trip(train_csv, tiny_backbone, tmp_path):
    texts, labels = ["good", "bad", "fine", "poor"] * 4, ["pos", "neg", "pos", "neg"] * 4
    clf = TextClassifier(backbone=tiny_backbone, strategy="finetune", max_length=16, min_steps=10, batch_size=8,
                         progress=False).fit(texts, labels)  # 16 rows: no validation split, 2 steps an epoch
    assert clf.fit_report_.notes[0] == ("ran 5 epochs (10 steps): epochs unset: stretched from 3 to reach "
                                        "min_steps=10; set --epochs to run exactly N")
    clf.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.config_.epochs is None  # 'auto' survives the round trip: a refit stretches again
    assert loaded.options["epochs"] is None


# -- held-out estimates ----------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["probe", "scratch-tfidf", "prototype"])
def test_cheap_strategies_report_a_cross_validated_estimate(strategy, small_data, tiny_backbone):
    train = small_data[0].iloc[:80]
    clf = TextClassifier(backbone=tiny_backbone, strategy=strategy, progress=False)
    clf.fit(train.text.tolist(), train.label.tolist())
    cv = clf.metrics_["cv"]
    assert cv["folds"] == 5 and cv["n"] == 80 and 0.0 <= cv["accuracy"] <= 1.0 and "macro_f1" in cv
    assert any("5-fold cross-validation" in note for note in clf.fit_report_.notes)
    off = TextClassifier(backbone=tiny_backbone, strategy=strategy, progress=False, cv_folds=0)
    assert "cv" not in off.fit(train.text.tolist(), train.label.tolist()).metrics_


def test_cross_validation_scores_each_row_from_a_model_that_never_saw_it():
    from headstart.evaluation.crossval import out_of_fold

    y = np.array([0, 1, 2] * 10)
    seen: list[tuple[set, set]] = []

    def fit_score(train_index, test_index):
        seen.append((set(train_index), set(test_index)))
        return np.tile(np.asarray(train_index).mean(), (len(test_index), 3))

    cv = out_of_fold(fit_score, y, "classification", 5, 0, "test")
    assert cv is not None and cv.folds == 5 and cv.scores.shape == (30, 3)
    assert all(not (train & test) for train, test in seen)
    assert sorted(i for _, test in seen for i in test) == list(range(30))
    assert out_of_fold(fit_score, np.array([0, 0, 1]), "classification", 5, 0, "x") is None  # a one-row class
    assert out_of_fold(fit_score, np.array([0, 0, 1, 1, 1]), "classification", 5, 0, "x").folds == 2


def test_callers_that_score_on_their_own_data_skip_cross_validation():
    from headstart.grid import without_cross_validation

    assert without_cross_validation("probe", {"C": 2.0}) == {"cv_folds": 0, "C": 2.0}
    assert without_cross_validation("probe", {"cv_folds": 3}) == {"cv_folds": 3}
    assert without_cross_validation("finetune", {"epochs": 1}) == {"epochs": 1}
