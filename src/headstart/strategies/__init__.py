"""Strategies: each module in this folder registers one (or a family) by name."""

import importlib
import pkgutil

from .registry import FitReport, Strategy, Target, get_strategy, register, strategies_for, strategy_names

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "registry" and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["FitReport", "Strategy", "Target", "get_strategy", "register", "strategies_for", "strategy_names"]
