"""Embedding runtimes (torch, onnx, onnx-int8): the choice, the cache key, the export check and its fallback,
corrupt cached exports, and that saved models keep the runtime they were fitted with."""

from __future__ import annotations

import json

import numpy as np
import pytest

from headstart import BackboneError, ConfigError, TextClassifier, resolve_backbone
from headstart import runtime as rt
from headstart.cli import main
from headstart.embeddings import EmbeddingCache, cache_name, embed, text_key
from headstart.backbones import cache_root

TEXTS = ["a good film", "a bad film", "something else entirely", "the plot is thin but the actors are warm"]


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    """An empty HEADSTART_CACHE: exports and failure records of other tests are not seen."""
    monkeypatch.setenv("HEADSTART_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_onnx_vectors_match_torch_on_the_tiny_backbone(tiny_backbone):
    ref = resolve_backbone(tiny_backbone)
    torch_vecs = embed(ref, TEXTS, cache=False, progress=False, runtime="torch")
    onnx_vecs = embed(ref, TEXTS, cache=False, progress=False, runtime="onnx")
    int8_vecs = embed(ref, TEXTS, cache=False, progress=False, runtime="onnx-int8")
    np.testing.assert_allclose(onnx_vecs, torch_vecs, atol=1e-4)  # same pooling and normalisation
    np.testing.assert_allclose(np.linalg.norm(int8_vecs, axis=1), 1.0, atol=1e-5)
    assert _cos(int8_vecs, torch_vecs).min() >= rt.PARITY_THRESHOLDS["onnx-int8"][1]
    report = json.loads((rt.export_dir(ref, "onnx-int8") / rt.REPORT_FILE).read_text())
    assert report["mean_cosine"] >= rt.PARITY_THRESHOLDS["onnx-int8"][0] and report["texts"] == rt.PARITY_TEXTS


def test_each_runtime_has_its_own_cache_and_never_gets_torch_vectors(tiny_backbone):
    ref = resolve_backbone(tiny_backbone)
    texts = ["only in this test: one", "only in this test: two"]
    # plant unmistakable vectors in the torch cache: a runtime reading that file would return them
    planted = {text_key(t): np.full(32, 0.5, np.float32) for t in texts}
    store = EmbeddingCache(cache_root() / "embeddings" / cache_name(ref, "torch", 256, True))
    store.put_many(planted)
    store.close()
    np.testing.assert_array_equal(embed(ref, texts, progress=False, runtime="torch"), np.full((2, 32), 0.5))
    int8 = embed(ref, texts, progress=False, runtime="onnx-int8")
    assert not np.allclose(int8, 0.5) and np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    assert len({cache_name(ref, r, 256, True) for r in rt.RUNTIMES}) == 3
    assert (cache_root() / "embeddings" / cache_name(ref, "onnx-int8", 256, True)).exists()


def test_auto_means_the_one_default_constant(tiny_backbone, monkeypatch):
    ref = resolve_backbone(tiny_backbone)
    assert rt.resolve_runtime(ref, "auto") == rt.DEFAULT_RUNTIME
    monkeypatch.setattr(rt, "DEFAULT_RUNTIME", "onnx")
    assert rt.resolve_runtime(ref, "auto") == "onnx"
    monkeypatch.setattr(rt, "DEFAULT_RUNTIME", "torch")
    assert rt.resolve_runtime(ref, "auto", preferred="onnx") == "onnx"  # a loaded model keeps its runtime


def test_unknown_runtime_and_gpu_device_are_refused(tiny_backbone):
    ref = resolve_backbone(tiny_backbone)
    with pytest.raises(ConfigError, match="runtime one of"):
        rt.resolve_runtime(ref, "tensorrt")
    with pytest.raises(ConfigError, match="expected runtime one of"):
        TextClassifier(backbone=tiny_backbone, strategy="probe", runtime="gpu").fit(["a", "b"] * 5, ["x", "y"] * 5)
    with pytest.raises(ConfigError, match="--device cpu"):
        rt.resolve_runtime(ref, "onnx-int8", device="cuda")
    assert rt.resolve_runtime(ref, "auto", device="cuda") == "torch"


def _break_export(monkeypatch):
    import headstart.onnx_graph as export

    calls = []

    def fail(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("Exporting the operator 'aten::weird' to ONNX is not supported")

    monkeypatch.setattr(export, "export_graph", fail)
    return calls


def test_default_falls_back_to_torch_with_one_warning(tiny_backbone, fresh_cache, monkeypatch, capsys):
    ref = resolve_backbone(tiny_backbone)
    calls = _break_export(monkeypatch)
    monkeypatch.setattr(rt, "DEFAULT_RUNTIME", "onnx-int8")
    vectors = embed(ref, TEXTS, cache=False, progress=False)  # runtime auto
    np.testing.assert_allclose(vectors, embed(ref, TEXTS, cache=False, progress=False, runtime="torch"), atol=1e-6)
    err = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(err) == 1 and "onnx-int8 unavailable" in err[0] and "using torch" in err[0] and "aten::weird" in err[0]
    rt._RESOLVED.clear()
    assert rt.resolve_runtime(ref, "auto") == "torch"
    assert len(calls) == 1  # the failure is remembered in the cache: no second export attempt


def test_explicit_runtime_is_refused_when_the_backbone_cannot_be_exported(tiny_backbone, fresh_cache, monkeypatch):
    ref = resolve_backbone(tiny_backbone)
    _break_export(monkeypatch)
    with pytest.raises(BackboneError) as info:
        rt.resolve_runtime(ref, "onnx-int8")
    message = str(info.value)
    assert message.startswith("expected a backbone that exports to ONNX") and "export failed" in message
    assert "--runtime torch" in message


def test_explicit_runtime_is_refused_when_the_parity_check_fails(tiny_backbone, fresh_cache, monkeypatch, capsys):
    ref = resolve_backbone(tiny_backbone)
    monkeypatch.setitem(rt.PARITY_THRESHOLDS, "onnx-int8", (1.01, 1.01))  # no export can pass this
    with pytest.raises(BackboneError, match="parity check failed"):
        rt.resolve_runtime(ref, "onnx-int8")
    assert not (rt.export_dir(ref, "onnx-int8") / rt.MODEL_FILE).exists()  # a failed export is not kept
    assert rt.resolve_runtime(ref, "auto", preferred="onnx-int8") == "torch"
    assert "parity check failed" in capsys.readouterr().err


def test_corrupt_cached_export_is_rebuilt_not_loaded(tiny_backbone, fresh_cache, capsys):
    ref = resolve_backbone(tiny_backbone)
    path = rt.onnx_model(ref, "onnx")
    good = rt.sha256_file(path)
    path.write_bytes(path.read_bytes()[:1000] + b"garbage")  # a truncated copy: loading it would crash
    rt._VERIFIED.clear()  # as in a new process
    rebuilt = rt.onnx_model(ref, "onnx")
    assert "does not match its sha256 digest; rebuilding" in capsys.readouterr().err
    digest = (rebuilt.parent / rt.DIGEST_FILE).read_text().split()[0]
    assert rt.sha256_file(rebuilt) == digest and rebuilt.stat().st_size > 1007
    assert good  # the rebuilt export loads and embeds
    vectors = rt.OnnxSession(rebuilt).encode(rt.load_tokenizer_for(ref), TEXTS, 64)
    assert vectors.shape == (len(TEXTS), 32)
    (rebuilt.parent / rt.DIGEST_FILE).unlink()  # a missing digest counts as corrupt too
    rt._VERIFIED.clear()
    rt.onnx_model(ref, "onnx")
    assert "rebuilding" in capsys.readouterr().err and (rebuilt.parent / rt.DIGEST_FILE).exists()


@pytest.mark.parametrize("strategy", ["probe", "prototype", "zero-shot"])
def test_saved_models_record_and_reuse_their_runtime(strategy, tiny_backbone, small_data, tmp_path, monkeypatch):
    train, test = small_data
    clf = TextClassifier(backbone=tiny_backbone, strategy=strategy, runtime="onnx-int8", progress=False)
    clf.fit(train.text.tolist()[:60], train.label.tolist()[:60])
    assert clf.strategy_.runtime_ == "onnx-int8"
    assert "embedding runtime onnx-int8" in clf.fit_report_.notes
    before = clf.predict_proba(test.text.tolist()[:20])
    clf.save(tmp_path / "m")
    record = json.loads((tmp_path / "m" / rt.RECORD_FILE).read_text())
    assert record["used"] == "onnx-int8" and record["requested"] == "onnx-int8"
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.strategy_.runtime_ == "onnx-int8"
    np.testing.assert_allclose(loaded.predict_proba(test.text.tolist()[:20]), before, atol=1e-4)


def test_a_probe_fitted_with_int8_features_still_exports_to_onnx(tiny_backbone, small_data, tmp_path):
    from headstart.serving.export import OnnxClassifier, export_onnx

    train, test = small_data
    clf = TextClassifier(backbone=tiny_backbone, strategy="probe", runtime="onnx-int8", max_length=64, progress=False)
    clf.fit(train.text.tolist()[:60], train.label.tolist()[:60]).save(tmp_path / "m")
    report = export_onnx(tmp_path / "m")  # parity against the PyTorch features the exported graph computes
    assert report.max_abs_diff <= report.tolerance
    assert OnnxClassifier(tmp_path / "m" / "onnx").predict(test.text.tolist()[:5])


def test_loaded_auto_model_keeps_the_runtime_it_was_fitted_with(tiny_backbone, small_data, tmp_path, monkeypatch):
    train, _ = small_data
    monkeypatch.setattr(rt, "DEFAULT_RUNTIME", "onnx")
    clf = TextClassifier(backbone=tiny_backbone, strategy="probe", progress=False)
    clf.fit(train.text.tolist()[:60], train.label.tolist()[:60]).save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / rt.RECORD_FILE).read_text()) == {"requested": "auto", "used": "onnx",
                                                                         "default": "onnx"}
    monkeypatch.setattr(rt, "DEFAULT_RUNTIME", "torch")  # the default changed since: the model still uses onnx
    loaded = TextClassifier.load(tmp_path / "m")
    import headstart.embeddings as emb

    seen = []
    real = emb.get_encoder
    monkeypatch.setattr(emb, "get_encoder", lambda ref, device="cpu", runtime="torch": seen.append(runtime) or
                        real(ref, device, runtime))
    loaded.predict(["a text never embedded before in this session"])
    assert seen == ["onnx"]


def test_cli_runtime_option(tiny_backbone, small_data, tmp_path, capsys):
    train, test = small_data
    train.to_csv(tmp_path / "train.csv", index=False)
    test[["text"]].to_csv(tmp_path / "new.csv", index=False)
    with pytest.raises(SystemExit) as info:
        main(["fit", str(tmp_path / "train.csv"), "--strategy", "probe", "--runtime", "gpu", "-o", str(tmp_path / "x")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--runtime" in err and "onnx-int8" in err and not (tmp_path / "x").exists()
    with pytest.raises(SystemExit):
        main(["fit", "--strategy", "probe", "--help"])
    assert "--runtime {auto,torch,onnx,onnx-int8}" in capsys.readouterr().out
    out = tmp_path / "m"
    assert main(["fit", str(tmp_path / "train.csv"), "--strategy", "probe", "--backbone", tiny_backbone,
                 "--runtime", "onnx-int8", "-o", str(out), "--quiet"]) == 0
    assert json.loads((out / "headstart.json").read_text())["config"]["runtime"] == "onnx-int8"
    assert json.loads((out / rt.RECORD_FILE).read_text())["used"] == "onnx-int8"
    assert main(["predict", str(out), str(tmp_path / "new.csv"), "-o", str(tmp_path / "p.csv"), "--quiet"]) == 0


def test_cli_refuses_an_explicit_runtime_it_cannot_honour(tiny_backbone, small_data, tmp_path, fresh_cache,
                                                          monkeypatch, capsys):
    train, _ = small_data
    train.to_csv(tmp_path / "train.csv", index=False)
    _break_export(monkeypatch)
    code = main(["fit", str(tmp_path / "train.csv"), "--strategy", "probe", "--backbone", tiny_backbone,
                 "--runtime", "onnx-int8", "-o", str(tmp_path / "m"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "expected a backbone that exports to ONNX" in err and "--runtime torch" in err
    assert not (tmp_path / "m").exists()


def test_audit_embeds_with_the_chosen_runtime(tiny_backbone, small_data, tmp_path):
    from headstart.audit.core import AuditConfig, audit_data

    train, _ = small_data
    train.iloc[:80].to_csv(tmp_path / "train.csv", index=False)
    audit = audit_data(str(tmp_path / "train.csv"), config=AuditConfig(backbone=tiny_backbone, runtime="onnx",
                                                                       label_errors=False), progress=False)
    assert audit["backbone"]["runtime"] == "onnx"


@pytest.mark.real_model
def test_onnx_only_backbone_refuses_torch():
    ref = resolve_backbone("paraphrase-MiniLM-L3-v2")
    assert rt.resolve_runtime(ref, "auto") == "onnx"
    with pytest.raises(BackboneError, match="ships as ONNX only"):
        rt.resolve_runtime(ref, "torch")


@pytest.mark.real_model
def test_minilm_int8_export_keeps_the_vectors():
    """all-MiniLM-L6-v2 (the default backbone): the int8 graph passes its export check, and on held-out
    sentences (not the parity sample) stays close to PyTorch."""
    import pandas as pd

    from headstart.resources import DEMO_TRAIN

    ref = resolve_backbone("all-MiniLM-L6-v2")
    assert rt.resolve_runtime(ref, "onnx-int8") == "onnx-int8"
    texts = pd.read_csv(DEMO_TRAIN).text.tolist()[:96]
    cos = _cos(embed(ref, texts, cache=False, progress=False, runtime="onnx-int8"),
               embed(ref, texts, cache=False, progress=False, runtime="torch"))
    assert cos.mean() >= 0.98 and cos.min() >= 0.90
