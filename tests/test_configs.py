"""Every shipped config file is validated against the dataclasses it fills."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from headstart.backbones import resolve_backbone
from headstart.cli.fit import FitArgs
from headstart.config import build_config, load_config_file
from headstart.strategies import get_strategy

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.json"))


def test_configs_are_shipped():
    assert CONFIGS


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_config_is_valid(path):
    data = load_config_file(path)
    unknown = set(data) - {f.name for f in dataclasses.fields(FitArgs)} - {"options", "columns"}
    assert not unknown, unknown
    strategy = get_strategy(data["strategy"])
    build_config(strategy.config_cls, data.get("options", {}))
    if strategy.needs_backbone:
        resolve_backbone(data.get("backbone"))
