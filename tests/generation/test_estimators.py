"""One model folder and one place that picks the estimator: `load_estimator` reads the folder's kind."""

from __future__ import annotations

import json

import pytest

from headstart import TextClassifier, load_estimator
from headstart.errors import ModelError
from headstart.generation import Seq2SeqModel
from headstart.model_folder import CLASSIFIER_KIND, GENERATION_KIND

from .conftest import FAST, PAIRS


@pytest.fixture(scope="module")
def folders(tiny_decoder, small_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("estimators")
    train, _ = small_data
    TextClassifier(strategy="scratch-tfidf", progress=False).fit(train.text.tolist(), train.label.tolist()).save(
        root / "classifier")
    Seq2SeqModel(backbone=tiny_decoder, strategy="zero-shot", progress=False, **FAST).fit(
        [s for s, _ in PAIRS], [t for _, t in PAIRS]).save(root / "generation")
    return root


def test_the_folder_kind_picks_the_estimator(folders):
    assert isinstance(load_estimator(folders / "classifier"), TextClassifier)
    assert isinstance(load_estimator(folders / "generation"), Seq2SeqModel)
    # classifier folders keep their layout: no `kind` field, which reads as a classifier
    assert "kind" not in json.loads((folders / "classifier" / "headstart.json").read_text())
    assert json.loads((folders / "generation" / "headstart.json").read_text())["kind"] == GENERATION_KIND


def test_a_folder_of_another_kind_is_refused_by_name(folders):
    with pytest.raises(ModelError, match="classifier model folder.*generation model"):
        load_estimator(folders / "generation", kinds=(CLASSIFIER_KIND,))
    with pytest.raises(ModelError, match="generation model folder"):
        Seq2SeqModel.load(folders / "classifier")
    with pytest.raises(ModelError, match="classifier model folder"):
        TextClassifier.load(folders / "generation")
    with pytest.raises(ModelError, match="headstart.json"):
        load_estimator(folders / "nothing")


@pytest.mark.parametrize("name", ["classifier", "generation"])
def test_both_estimators_refuse_a_newer_format_and_edited_files(folders, tmp_path, name):
    import shutil

    copy = shutil.copytree(folders / name, tmp_path / name)
    meta = json.loads((copy / "headstart.json").read_text())
    (copy / "headstart.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ModelError, match="Upgrade headstart"):
        load_estimator(copy)
    (copy / "headstart.json").write_text(json.dumps(meta))
    victim = next(p for p in sorted(copy.rglob("*")) if p.is_file() and p.name != "headstart.json")
    victim.write_bytes(victim.read_bytes() + b" ")
    with pytest.raises(ModelError, match="changed or missing"):
        load_estimator(copy)


def test_the_shared_plumbing_behaves_the_same_on_both(tiny_decoder):
    from sklearn.base import clone

    for estimator in (TextClassifier(strategy="probe", C=2.0), Seq2SeqModel(backbone=tiny_decoder, epochs=2)):
        copy = clone(estimator).set_params(seed=3)
        assert copy.get_params()["seed"] == 3 and copy.options == estimator.options
        assert repr(estimator).startswith(type(estimator).__name__ + "(") and "=" in repr(estimator)
        with pytest.raises(ModelError, match="unfitted"):
            estimator.predict(["a"])
