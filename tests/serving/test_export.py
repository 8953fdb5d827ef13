"""ONNX export: parity with PyTorch, int8, atomicity on failure, refusal of non-transformer models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from headstart import TextClassifier
from headstart.cli import main
from headstart.errors import ModelError
from headstart.serving.export import OnnxClassifier, export_onnx


def test_onnx_matches_pytorch_on_unseen_texts(tiny_model, exported, small_data):
    texts = small_data[1].text.tolist()[:40] + ["", "x " * 500]  # empty and truncated texts too
    torch_scores = TextClassifier.load(tiny_model).predict_proba(texts)
    onnx_scores = OnnxClassifier(exported).predict_proba(texts)
    assert onnx_scores.shape == torch_scores.shape == (len(texts), 2)
    np.testing.assert_allclose(onnx_scores, torch_scores, atol=1e-4)
    meta = json.loads((exported / "headstart-onnx.json").read_text())
    assert meta["parity"]["max_abs_diff"] <= 1e-4 and set(meta["parity"]["accuracy"]) == {"pytorch", "onnx", "int8"}
    assert (exported / "tokenizer.json").exists()


def test_int8_model_runs_and_mostly_agrees(tiny_model, exported, small_data):
    texts = small_data[1].text.tolist()
    q = OnnxClassifier(exported, int8=True)
    full = OnnxClassifier(exported)
    assert q.predict(texts[:3]) and set(q.predict(texts)) <= set(q.classes_)
    agreement = np.mean(np.array(q.predict(texts)) == np.array(full.predict(texts)))
    assert agreement >= 0.8
    assert (exported / "model.int8.onnx").stat().st_size < (exported / "model.onnx").stat().st_size


def test_parity_failure_writes_nothing(tiny_model, tmp_path):
    out = tmp_path / "strict"
    with pytest.raises(ModelError, match="within"):
        export_onnx(tiny_model, out, tolerance=-1.0)  # no difference can satisfy a negative tolerance
    assert not out.exists() and not any(p.name.startswith(".strict") for p in tmp_path.iterdir())


def test_tampered_export_is_refused(exported, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    with open(copy / "model.onnx", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelError, match="changed or missing: model.onnx"):
        OnnxClassifier(copy)


@pytest.mark.parametrize("field,change", [("classes", lambda c: c[::-1]), ("threshold", lambda t: 0.9),
                                          ("task", lambda t: "multilabel")])
def test_edited_export_metadata_is_refused(exported, tmp_path, field, change):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    meta = json.loads((copy / "headstart-onnx.json").read_text())
    meta[field] = change(meta[field])
    (copy / "headstart-onnx.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="edited metadata"):
        OnnxClassifier(copy)


def test_export_onto_an_existing_export_needs_overwrite(tiny_model, exported, capsys):
    before = (exported / "model.onnx").read_bytes()
    assert main(["export", str(tiny_model), "--onnx", "--parity-texts", "4"]) == 2
    assert "--overwrite" in capsys.readouterr().err and (exported / "model.onnx").read_bytes() == before


def test_cli_refuses_tfidf_and_missing_format(tmp_path, small_data, capsys):
    train = tmp_path / "train.csv"
    small_data[0].to_csv(train, index=False)
    assert main(["fit", str(train), "--strategy", "scratch-tfidf", "-o", str(tmp_path / "t"), "--quiet"]) == 0
    assert main(["export", str(tmp_path / "t"), "--onnx"]) == 2
    assert "scratch-tfidf" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "t")]) == 2
    assert not (tmp_path / "t" / "onnx").exists()


def test_probe_exports_as_one_graph(tiny_backbone, small_data, tmp_path):
    train, test = small_data
    clf = TextClassifier(backbone=tiny_backbone, strategy="probe", progress=False, cache=False)
    clf.fit(train.text.tolist(), train.label.tolist()).save(tmp_path / "p")
    report = export_onnx(tmp_path / "p", tmp_path / "p-onnx")
    assert report.max_abs_diff <= 1e-4
    texts = test.text.tolist()[:20]
    np.testing.assert_allclose(OnnxClassifier(tmp_path / "p-onnx").predict_proba(texts),
                               TextClassifier.load(tmp_path / "p").predict_proba(texts), atol=1e-4)
