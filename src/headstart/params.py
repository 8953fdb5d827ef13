"""scikit-learn parameter plumbing shared by the estimators (`TextClassifier`, `Seq2SeqModel`).

Each estimator stores its named constructor arguments as attributes and every other keyword in an
`options` dict (strategy options, validated in `fit`). These helpers implement `get_params`,
`set_params` and `__repr__` over that shape, so `sklearn.base.clone` and grid search work on both.
"""

from __future__ import annotations

from typing import Any, Sequence


def get_params(estimator: Any, names: Sequence[str]) -> dict[str, Any]:
    """The named arguments followed by the free-form options, as `__init__` received them."""
    return {**{name: getattr(estimator, name) for name in names}, **estimator.options}


def set_params(estimator: Any, names: Sequence[str], params: dict[str, Any]) -> None:
    """Named arguments become attributes; anything else is a strategy option."""
    for key, value in params.items():
        if key in names:
            setattr(estimator, key, value)
        else:
            estimator.options[key] = value


def params_repr(estimator: Any, shown: Sequence[str]) -> str:
    """`Name(arg=value, ..., option=value, ...)`: the chosen named arguments, then every option."""
    parts = [f"{name}={getattr(estimator, name)!r}" for name in shown]
    parts += [f"{key}={value!r}" for key, value in estimator.options.items()]
    return f"{type(estimator).__name__}({', '.join(parts)})"
