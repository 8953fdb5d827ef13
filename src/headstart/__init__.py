"""headstart: transfer learning from pre-trained language models for small labelled data sets."""

__version__ = "0.1.0"

# before anything imports torch: libgomp reads its thread settings once, when torch loads (see threads.py)
from . import threads as _threads  # noqa: E402

_threads.apply()

from .backbones import DEFAULT_BACKBONE, load_model, load_tokenizer, resolve_backbone  # noqa: E402
from .classifier import TextClassifier  # noqa: E402
from .data import Examples, Pipeline, read_examples  # noqa: E402
from .errors import BackboneError, ConfigError, DataError, HeadstartError, ModelError, NotFittedModelError  # noqa: E402
from .estimators import load_estimator  # noqa: E402
from .strategies import get_strategy, register, strategy_names  # noqa: E402

__all__ = ["TextClassifier", "load_estimator", "Examples", "Pipeline", "read_examples", "resolve_backbone", "load_model",
           "load_tokenizer", "DEFAULT_BACKBONE", "get_strategy", "register", "strategy_names", "HeadstartError",
           "DataError", "BackboneError", "ConfigError", "ModelError", "NotFittedModelError"]
