"""headstart: transfer learning from pre-trained language models for small labelled data sets."""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# before anything imports torch: libgomp reads its thread settings once, when torch loads (see threads.py)
from . import threads as _threads  # noqa: E402

_threads.apply()

# The public names load on first use (PEP 562), so that `import headstart` stays light: the `headstart` command's
# supervisor (launch.py) imports this package and must not load torch only to start the real command.
_PUBLIC = {"TextClassifier": "classifier", "load_estimator": "estimators", "Examples": "data", "Pipeline": "data",
           "read_examples": "data", "resolve_backbone": "backbones", "load_model": "backbones",
           "load_tokenizer": "backbones", "DEFAULT_BACKBONE": "backbones", "get_strategy": "strategies",
           "register": "strategies", "strategy_names": "strategies", "HeadstartError": "errors",
           "DataError": "errors", "BackboneError": "errors", "ConfigError": "errors", "ModelError": "errors",
           "NotFittedModelError": "errors"}
__all__ = list(_PUBLIC)

if TYPE_CHECKING:
    from .backbones import DEFAULT_BACKBONE, load_model, load_tokenizer, resolve_backbone
    from .classifier import TextClassifier
    from .data import Examples, Pipeline, read_examples
    from .errors import BackboneError, ConfigError, DataError, HeadstartError, ModelError, NotFittedModelError
    from .estimators import load_estimator
    from .strategies import get_strategy, register, strategy_names


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        # `import headstart; headstart.strategies...` worked while this file imported them; it still does
        if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
            return importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module 'headstart' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value  # later lookups find it directly
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
