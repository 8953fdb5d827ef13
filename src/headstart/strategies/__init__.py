"""Strategies: each module in this folder registers one (or a family) by name; see registry.py."""

import importlib
import pkgutil

from .registry import (Cost, FitReport, GenerationStrategy, Strategy, Target, TorchExport, exports_torch, get_strategy,
                       register, registered, strategy_names)

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "registry" and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Cost", "FitReport", "GenerationStrategy", "Strategy", "Target", "TorchExport", "exports_torch", "get_strategy", "register", "registered", "strategy_names"]
