"""scikit-learn plumbing shared by the estimators (`TextClassifier`, `Seq2SeqModel`).

Each estimator stores its named constructor arguments as attributes and every other keyword in a private
`_options` dict (strategy options, validated in `fit`). These helpers implement `get_params`, `set_params`,
`__repr__` and the text-input tags over that shape, so `sklearn.base.clone`, grid search over options
(`{"C": [...]}`, `{"epochs": [1, 2]}`) and pipelines work on both. The dict is private because sklearn's
`check_no_attributes_set_in_init` allows only named parameters as public attributes after `__init__`, and
`**options` has no name of its own to sklearn.
"""

from __future__ import annotations

from typing import Any, Sequence

from sklearn.utils import InputTags, Tags


def get_params(estimator: Any, names: Sequence[str]) -> dict[str, Any]:
    """The named arguments followed by the free-form options, as `__init__` received them."""
    return {**{name: getattr(estimator, name) for name in names}, **estimator._options}


def set_params(estimator: Any, names: Sequence[str], params: dict[str, Any]) -> None:
    """Named arguments become attributes; anything else is a strategy option.

    Option names are not checked here but in `fit` (sklearn's convention), because a grid may change
    `strategy` and that strategy's options in the same call."""
    for key, value in params.items():
        if key in names:
            setattr(estimator, key, value)
        else:
            estimator._options[key] = value


def params_repr(estimator: Any, shown: Sequence[str]) -> str:
    """`Name(arg=value, ..., option=value, ...)`: the chosen named arguments, then every option."""
    parts = [f"{name}={getattr(estimator, name)!r}" for name in shown]
    parts += [f"{key}={value!r}" for key, value in estimator._options.items()]
    return f"{type(estimator).__name__}({', '.join(parts)})"


def text_tags(tags: Tags) -> Tags:
    """Tags of an estimator whose input is a 1-d sequence of strings and whose fit needs a target.

    Like sklearn's own text vectorizers, `two_d_array=False`: sklearn's common checks, which all feed
    numeric matrices, then know they cannot run it as they are (tests run the ones that apply by hand)."""
    tags.input_tags = InputTags(one_d_array=True, two_d_array=False, string=True)
    tags.target_tags.required = True
    return tags
