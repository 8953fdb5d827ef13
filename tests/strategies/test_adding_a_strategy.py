"""Adding a strategy is one module: the worked example of docs/strategies.md, imported as a module of its
own, is picked up by `fit --strategy`, `compare`, `export --onnx` and the shared matrix with no other edit."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

from headstart.cli import main
from headstart.serving.export import OnnxClassifier
from headstart.strategies import exports_torch, get_strategy, registry, strategy_names

from . import test_matrix

DOC = Path(__file__).resolve().parents[2] / "docs" / "strategies.md"


@pytest.fixture
def last_layer(tmp_path, monkeypatch):
    """The docs' module written to a folder on sys.path and imported; the registry is restored afterwards."""
    source = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    (tmp_path / "last_layer_strategy.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_REGISTRY", {k: list(v) for k, v in registry._REGISTRY.items()})
    importlib.import_module("last_layer_strategy")
    yield "last-layer"
    sys.modules.pop("last_layer_strategy", None)


def test_the_new_module_is_first_class(last_layer, tiny_backbone, small_data, tmp_path, capsys):
    assert last_layer in strategy_names() and exports_torch(get_strategy(last_layer))
    train, test = small_data
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    fast = ["--epochs", "1", "--min-steps", "0", "--max-length", "32", "--batch-size", "16"]

    assert main(["fit", str(tmp_path / "train.csv"), "--strategy", last_layer, "--backbone", tiny_backbone,
                 "-o", str(tmp_path / "m"), "--quiet", *fast]) == 0
    assert main(["export", str(tmp_path / "m"), "--onnx", "--parity-texts", "16"]) == 0
    assert OnnxClassifier(tmp_path / "m" / "onnx").predict(test.text.tolist()[:8])

    (tmp_path / "options.json").write_text('{"last-layer": {"epochs": 1, "min_steps": 0, "max_length": 32}}')
    assert main(["compare", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"), "--strategies",
                 f"scratch-tfidf,{last_layer}", "--sizes", "16", "--seeds", "1", "--backbone", tiny_backbone,
                 "--options", str(tmp_path / "options.json"), "--no-final", "-o", str(tmp_path / "cmp")]) == 0
    assert last_layer in (tmp_path / "cmp" / "results.csv").read_text()
    capsys.readouterr()


def test_the_matrix_covers_the_new_module(last_layer, tiny_backbone, small_data, tmp_path):
    assert (last_layer, "classification") in test_matrix.label_cases()  # the matrix's own rule finds it
    test_matrix.test_fit_predict_save_load(last_layer, "classification", tiny_backbone, small_data, tmp_path)
