"""User-facing errors. Each kind of user mistake has its own type; every message says
what was expected, what arrived and what to do. The CLI maps all of them to exit code 2."""

from __future__ import annotations

from sklearn.exceptions import NotFittedError


class HeadstartError(Exception):
    """Base class of every error caused by the user's input or environment."""


class DataError(HeadstartError):
    """A data file or in-memory data set is missing, malformed or unusable."""


class BackboneError(HeadstartError):
    """A pre-trained backbone cannot be found or loaded."""


class ConfigError(HeadstartError):
    """An option or configuration value is invalid."""


class ModelError(HeadstartError):
    """A saved model folder is missing, incomplete or cannot be used as asked."""


class NotFittedModelError(ModelError, NotFittedError):
    """An estimator was used before `fit` or `load`: scikit-learn's `NotFittedError` (which
    `check_is_fitted` callers and sklearn's own checks expect) and a `ModelError` (CLI exit code 2)."""


def expected(what: str, got: str, fix: str) -> str:
    """Compose the standard three-part message: expected / got / what to do."""
    return f"expected {what}; got {got}. {fix}"
