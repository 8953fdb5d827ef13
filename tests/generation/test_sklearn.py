"""`Seq2SeqModel` under scikit-learn's model selection, on the tiny random decoder (the unfitted checks of
`sklearn.utils.estimator_checks` run in tests/test_sklearn.py)."""

from __future__ import annotations

from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils.validation import check_is_fitted

from headstart.generation import Seq2SeqModel

from .conftest import FAST, PAIRS

SOURCES = [s for s, _ in PAIRS] * 2
TARGETS = [t for _, t in PAIRS] * 2


def _model(tiny_decoder: str) -> Seq2SeqModel:
    return Seq2SeqModel(task="translate", backbone=tiny_decoder, strategy="full", progress=False,
                        **{**FAST, "epochs": 1})


def test_grid_search_over_epochs(tiny_decoder):
    search = GridSearchCV(_model(tiny_decoder), {"epochs": [1, 2]}, cv=2).fit(SOURCES, TARGETS)
    assert [p["epochs"] for p in search.cv_results_["params"]] == [1, 2]
    best = search.best_estimator_
    check_is_fitted(best)
    assert best.config_.epochs == search.best_params_["epochs"]
    # the option reached training: 12 pairs in batches of 4 is 3 steps an epoch
    assert best.fit_report_["steps"] == 3 * search.best_params_["epochs"]
    assert len(search.predict(SOURCES[:2])) == 2


def test_cross_val_score_and_clone(tiny_decoder):
    model = _model(tiny_decoder)
    scores = cross_val_score(model, SOURCES, TARGETS, cv=2)  # BLEU from score(), plain KFold
    assert scores.shape == (2,) and ((scores >= 0) & (scores <= 100)).all()
    fitted = clone(model).fit(SOURCES, TARGETS)
    again = clone(fitted)
    assert again.get_params() == model.get_params() and not hasattr(again, "backend_")
