"""Loading and serving safely: pickles only on request, hashes checked at load, loopback by default."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from headstart.cli import main
from headstart.cli.serve import ServeArgs, _is_loopback


@pytest.fixture(scope="module")
def pickled_backbone(tiny_backbone, tmp_path_factory):
    """The tiny backbone with its weights as a pickled pytorch_model.bin only."""
    import torch
    from safetensors.torch import load_file

    folder = tmp_path_factory.mktemp("pickled")
    src = Path(tiny_backbone)
    for f in src.iterdir():
        if f.suffix != ".safetensors":
            shutil.copy(f, folder / f.name)
    torch.save(load_file(str(src / "model.safetensors")), folder / "pytorch_model.bin")
    return folder


def test_fit_refuses_pickled_backbone_without_opt_in(pickled_backbone, small_data, tmp_path, capsys):
    train = tmp_path / "train.csv"
    small_data[0].iloc[:60].to_csv(train, index=False)
    args = ["fit", str(train), "--strategy", "finetune", "--backbone", str(pickled_backbone), "--epochs", "1",
            "--quiet", "-o", str(tmp_path / "m")]
    assert main(args) == 2
    assert "--allow-pickle" in capsys.readouterr().err and not (tmp_path / "m").exists()
    assert main(args + ["--allow-pickle"]) == 0
    assert (tmp_path / "m" / "model.safetensors").exists()  # what we save is always safetensors


def test_serve_refuses_a_modified_model(tiny_model, tmp_path, capsys):
    copy = tmp_path / "m"
    shutil.copytree(tiny_model, copy, ignore=shutil.ignore_patterns("onnx"))
    with open(copy / "model.safetensors", "ab") as fh:
        fh.write(b"\0")
    assert main(["serve", str(copy)]) == 2
    assert "changed or missing: model.safetensors" in capsys.readouterr().err


def test_server_binds_to_loopback_unless_told():
    assert ServeArgs().host == "127.0.0.1"
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0")
