"""scikit-learn plumbing shared by the estimators (`TextClassifier`, `Seq2SeqModel`), written once.

Each estimator stores its named constructor arguments as attributes and every other keyword in a private
`_options` dict (strategy options, validated in `fit`). `EstimatorParams` implements `get_params`,
`set_params`, `__repr__`, the text-input tags and the fitted check over that shape, so `sklearn.base.clone`, grid search over
options (`{"C": [...]}`, `{"epochs": [1, 2]}`) and pipelines work on both. The dict is private because
sklearn's `check_no_attributes_set_in_init` allows only named parameters as public attributes after
`__init__`, and `**options` has no name of its own to sklearn.
"""

from __future__ import annotations

from typing import Any

from sklearn.utils import InputTags, Tags

from .errors import NotFittedModelError, expected


class EstimatorParams:
    """The parameter plumbing of an estimator; put it before `BaseEstimator` among the bases.

    An estimator names its constructor arguments in `_PARAM_NAMES`, the ones its repr shows in
    `_REPR_NAMES`, and the attribute that exists once it is fitted (or loaded) in `_FITTED_ATTRIBUTE`.
    """

    _PARAM_NAMES: tuple[str, ...] = ()
    _REPR_NAMES: tuple[str, ...] = ()
    _FITTED_ATTRIBUTE: str = ""
    _options: dict[str, Any]

    @property
    def options(self) -> dict[str, Any]:
        """The options given as keywords (a copy: change them with `set_params`)."""
        return dict(self._options)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Named arguments and options, so `clone` and `GridSearchCV(param_grid={"C": ...})` see both."""
        return {**{name: getattr(self, name) for name in self._PARAM_NAMES}, **self._options}

    def set_params(self, **values: Any) -> Any:
        """Named arguments become attributes; anything else is an option.

        Option names are not checked here but in `fit` (sklearn's convention), because a grid may change
        `strategy` and that strategy's options in the same call."""
        for key, value in values.items():
            if key in self._PARAM_NAMES:
                setattr(self, key, value)
            else:
                self._options[key] = value
        return self

    def __repr__(self) -> str:
        """`Name(arg=value, ..., option=value, ...)`: the chosen named arguments, then every option."""
        parts = [f"{name}={getattr(self, name)!r}" for name in self._REPR_NAMES]
        parts += [f"{key}={value!r}" for key, value in self._options.items()]
        return f"{type(self).__name__}({', '.join(parts)})"

    def __sklearn_tags__(self) -> Tags:
        """Text in (a 1-d sequence of strings), and `fit` needs a target.

        Like sklearn's own text vectorizers, `two_d_array=False`: sklearn's common checks, which all feed
        numeric matrices, then know they cannot run it as they are (tests run the ones that apply by hand)."""
        tags = super().__sklearn_tags__()  # type: ignore[misc]  (BaseEstimator's, next in the bases)
        tags.input_tags = InputTags(one_d_array=True, two_d_array=False, string=True)
        tags.target_tags.required = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, self._FITTED_ATTRIBUTE)

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedModelError(expected(f"a fitted {type(self).__name__}", "an unfitted one",
                                               "Call fit() or load() first."))

