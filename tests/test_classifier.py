"""The scikit-learn face: parameters, fitted state, errors, atomic save and integrity checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from headstart import DataError, ModelError, TextClassifier
from headstart.io import atomic_folder


def test_init_only_stores_arguments():
    clf = TextClassifier(backbone="no-such-model", strategy="no-such-strategy", lr=1.0)
    assert clf.get_params()["backbone"] == "no-such-model" and clf.get_params()["lr"] == 1.0
    assert not hasattr(clf, "strategy_")
    clf.set_params(strategy="probe", C=2.0)
    assert clf.strategy == "probe" and clf.options["C"] == 2.0


def test_sklearn_clone_roundtrip():
    from sklearn.base import clone

    clf = TextClassifier(strategy="scratch-tfidf", seed=4, C=3.0)
    cloned = clone(clf)
    assert cloned.get_params() == clf.get_params()


def test_unfitted_predict_is_a_clear_error():
    with pytest.raises(ModelError, match="fit"):
        TextClassifier().predict(["x"])


@pytest.mark.parametrize("texts,labels,message", [
    ([], [], "at least one text"),
    ("one string", ["a"], "single string"),
    (["a", "b"], ["x"], "2 labels"),
    (["a", "b", "c"], ["x", "x", "x"], "at least two classes"),
    (["a", " ", "c"], ["x", "y", "x"], "non-empty texts"),
    (["a", 3, "c"], ["x", "y", "x"], "every text to be a string"),
])
def test_bad_training_input(texts, labels, message):
    with pytest.raises(DataError, match=message):
        TextClassifier(strategy="scratch-tfidf").fit(texts, labels)


def test_unknown_strategy_and_option():
    from headstart import ConfigError

    with pytest.raises(ConfigError, match="strategy among"):
        TextClassifier(strategy="nope").fit(["a", "b"], ["x", "y"])
    with pytest.raises(ConfigError, match="unknown option"):
        TextClassifier(strategy="scratch-tfidf", nope=1).fit(["a", "b"], ["x", "y"])


@pytest.fixture(scope="module")
def fitted(small_data):
    train, _ = small_data
    return TextClassifier(strategy="scratch-tfidf").fit(train.text.tolist(), train.label.tolist())


def test_evaluate_reports_every_metric(fitted, small_data):
    _, test = small_data
    metrics = fitted.evaluate(test.text.tolist(), test.label.tolist())
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(metrics)
    assert sum(map(sum, metrics["confusion_matrix"]["matrix"])) == len(test)
    assert fitted.score(test.text.tolist(), test.label.tolist()) == metrics["accuracy"]


def test_unseen_label_at_evaluate(fitted):
    with pytest.raises(DataError, match="unseen label"):
        fitted.evaluate(["a fine film"], ["neutral"])


def test_predict_empty_list(fitted):
    assert fitted.predict([]) == []


def test_save_writes_metadata_and_loads(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "headstart.json").read_text())
    assert meta["strategy"] == "scratch-tfidf" and meta["classes"] == ["negative", "positive"]
    assert meta["data"]["n_train"] > 0 and "files" in meta and meta["versions"]["headstart"]


def test_tampered_model_is_refused(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    (tmp_path / "m" / "tfidf.json").write_text("{}")
    with pytest.raises(ModelError, match="changed or missing"):
        TextClassifier.load(tmp_path / "m")


def test_load_missing_folder(tmp_path):
    with pytest.raises(ModelError, match="headstart.json"):
        TextClassifier.load(tmp_path / "nothing")


def test_interrupted_save_leaves_nothing(fitted, tmp_path, monkeypatch):
    target = tmp_path / "m"

    def boom(folder):
        (folder / "partial.bin").write_bytes(b"x")
        raise RuntimeError("disk full")

    monkeypatch.setattr(fitted.strategy_, "save", boom)
    with pytest.raises(RuntimeError):
        fitted.save(target)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_save_keeps_previous_model(tmp_path):
    target = tmp_path / "m"
    with atomic_folder(target) as tmp:
        (tmp / "v").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as tmp:
            (tmp / "v").write_text("2")
            raise RuntimeError
    assert (target / "v").read_text() == "1"


def test_multilabel_and_regression_predictions(small_data):
    train, test = small_data
    texts = train.text.tolist()
    multi = [[l, "long"] if len(t) > 100 else [l] for t, l in zip(texts, train.label)]
    clf = TextClassifier(strategy="scratch-tfidf").fit(texts, multi)
    assert clf.task_ == "multilabel" and clf.classes_ == ["long", "negative", "positive"]
    assert all(isinstance(p, list) for p in clf.predict(test.text.tolist()))
    values = [float(len(t)) for t in texts]
    reg = TextClassifier(strategy="scratch-tfidf", task="regression").fit(texts, values)
    preds = reg.predict(test.text.tolist())
    assert all(isinstance(v, float) for v in preds)
    with pytest.raises(ModelError, match="regression"):
        reg.predict_proba(["x"])
    assert np.isfinite(reg.score(test.text.tolist(), [float(len(t)) for t in test.text]))


def _edit_metadata(folder, **changes):
    path = folder / "headstart.json"
    meta = json.loads(path.read_text())
    for key, change in changes.items():
        meta[key] = change(meta[key]) if callable(change) else change
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize("changes", [
    {"classes": lambda c: c[::-1]},  # the reported case: every prediction inverted, loaded with exit 0
    {"temperature": 5.0},
    {"threshold": 0.9},
    {"task": "multilabel"},
    {"strategy": "probe"},
    {"config": lambda c: {**c, "C": 100.0}},
])
def test_edited_metadata_is_refused_like_edited_weights(fitted, tmp_path, changes):
    fitted.save(tmp_path / "m")
    _edit_metadata(tmp_path / "m", **changes)
    with pytest.raises(ModelError, match="edited metadata"):
        TextClassifier.load(tmp_path / "m")


def test_edited_metadata_exits_2_in_the_cli(fitted, tmp_path, small_data, capsys):
    from headstart.cli import main

    fitted.save(tmp_path / "m")
    _edit_metadata(tmp_path / "m", classes=lambda c: c[::-1])
    small_data[1].to_csv(tmp_path / "test.csv", index=False)
    assert main(["evaluate", str(tmp_path / "m"), str(tmp_path / "test.csv")]) == 2
    assert "edited metadata" in capsys.readouterr().err


def test_fields_outside_the_digest_may_change_and_a_calibrated_model_round_trips(fitted, tmp_path, small_data):
    train, test = small_data
    fitted.calibrate(train.text[150:].tolist(), train.label[150:].tolist())  # temperature set before save
    try:
        fitted.save(tmp_path / "m")
    finally:
        fitted.temperature_ = 1.0
    _edit_metadata(tmp_path / "m", metrics={"note": "edited by hand"})
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.temperature_ != 1.0 and loaded.metrics_ == {"note": "edited by hand"}


def test_a_model_saved_without_a_digest_loads_with_a_warning(fitted, tmp_path, small_data):
    from headstart.io import UncheckedMetadataWarning

    fitted.save(tmp_path / "m")
    path = tmp_path / "m" / "headstart.json"
    meta = json.loads(path.read_text())
    del meta["metadata_digest"]  # as written by headstart before the digest existed
    path.write_text(json.dumps(meta))
    with pytest.warns(UncheckedMetadataWarning, match="no metadata digest"):
        loaded = TextClassifier.load(tmp_path / "m")
    texts = small_data[1].text.tolist()
    assert loaded.predict(texts) == fitted.predict(texts)


def test_save_refuses_a_folder_it_did_not_write(fitted, tmp_path):
    from headstart import ConfigError

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="did not write"):
        fitted.save(tmp_path / "d")
    assert (tmp_path / "d" / "notes.txt").read_text() == "mine"


def test_saved_model_files_honour_the_umask(fitted, tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        fitted.save(tmp_path / "m")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [tmp_path / "m", *(tmp_path / "m").rglob("*")]}
    assert modes.pop("m") == 0o755 and modes and set(modes.values()) == {0o644}, modes
