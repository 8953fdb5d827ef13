"""`TextClassifier` and `Seq2SeqModel` as scikit-learn estimators, against the installed scikit-learn.

sklearn's common checks (`sklearn.utils.estimator_checks`) all feed numeric matrices; for estimators whose
input is text, sklearn declines to run them (`check_estimator` yields nothing when `two_d_array=False`, as
for its own text vectorizers). So this module runs by hand the checks that never look at numeric data
(`APPLICABLE`), names every other check with the reason it cannot apply (`NOT_APPLICABLE`), and tests the
properties of the numeric checks that matter for text with text (fit returns self, idempotent, parameters
untouched, subset invariance, pickling, `check_is_fitted`).
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import NotFittedError, SkipTestWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import estimator_checks, get_tags
from sklearn.utils.validation import check_is_fitted

from headstart import ModelError, NotFittedModelError, TextClassifier
from headstart.generation import Seq2SeqModel

# Checks that read no data, or raise before reading it (check_estimators_unfitted feeds numbers to an
# unfitted estimator, which must refuse before looking at them).
APPLICABLE = ["check_estimator_cloneable", "check_estimator_repr", "check_estimator_tags_renamed",
              "check_valid_tag_types", "check_no_attributes_set_in_init", "check_get_params_invariance",
              "check_set_params", "check_estimators_unfitted", "check_do_not_raise_errors_in_init_or_set_params",
              "check_mixin_order"]
NUMERIC = "fits on a numeric matrix; the estimators take texts and refuse numbers (DataError)"
NOT_APPLICABLE = {
    # the default-value check compares to the defaults, so it runs on default instances only (below)
    "check_parameters_default_constructible": "runs separately, on default-constructed instances",
    "check_fit_score_takes_y": NUMERIC + "; fit(X, y)/score(X, y) names are tested below (Seq2SeqModel: "
                                         "fit(sources, targets), positional like every sklearn caller)",
    "check_estimators_overwrite_params": NUMERIC + "; tested with texts below",
    "check_dont_overwrite_parameters": NUMERIC + "; tested with texts below",
    "check_estimators_fit_returns_self": NUMERIC + "; tested with texts below",
    "check_fit_idempotent": NUMERIC + "; tested with texts below",
    "check_fit_check_is_fitted": NUMERIC + "; tested with texts below",
    "check_methods_subset_invariance": NUMERIC + "; tested with texts below",
    "check_methods_sample_order_invariance": NUMERIC + "; subset invariance is tested with texts below",
    "check_estimators_pickle": NUMERIC + "; tested with texts below",
    "check_readonly_memmap_input": NUMERIC + " (memory-mapped arrays are not texts)",
    "check_n_features_in_after_fitting": "texts have no feature count: n_features_in_ is not defined, "
                                         "as for sklearn's CountVectorizer",
    "check_n_features_in": "as check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit": NUMERIC + " (iris)",
    "check_estimators_dtypes": NUMERIC + " of several dtypes",
    "check_complex_data": NUMERIC + " (complex numbers)",
    "check_dtype_object": NUMERIC + " of dtype object",
    "check_estimators_empty_data_messages": NUMERIC + "; empty text lists are tested in test_classifier.py",
    "check_pipeline_consistency": NUMERIC + "; pipelines are tested with texts below",
    "check_estimators_nan_inf": "NaN and inf are numbers; texts have none",
    "check_estimator_sparse_tag": "sparse matrices are numeric features, not texts",
    "check_estimator_sparse_array": "as check_estimator_sparse_tag",
    "check_estimator_sparse_matrix": "as check_estimator_sparse_tag",
    "check_array_api_input": "array API namespaces hold numbers, not texts",
    "check_f_contiguous_array_estimator": NUMERIC + " (memory layout of numeric arrays)",
    "check_fit2d_1sample": NUMERIC, "check_fit2d_1feature": NUMERIC, "check_fit1d": NUMERIC,
    "check_fit2d_predict1d": NUMERIC, "check_dict_unchanged": NUMERIC, "check_requires_y_none": NUMERIC,
    "check_sample_weights_*": "fit takes no sample_weight",
    "check_classifier_*, check_classifiers_*, check_supervised_*, check_decision_proba_consistency, "
    "check_non_transformer_estimators_n_iter, check_estimators_partial_fit_n_features":
        NUMERIC + " (blobs, iris); accuracy on real texts is tested in test_classifier.py and the strategies",
    "check_regressor_*, check_regressors_*": NUMERIC + "; regression on texts is tested below",
}


def _estimators() -> list:
    return [TextClassifier(), TextClassifier(strategy="scratch-tfidf", task="regression", C=2.0),
            TextClassifier(strategy="probe", task="multilabel", C=0.5, no_cache=True),
            Seq2SeqModel(), Seq2SeqModel(strategy="full", epochs=1, lr=1e-3)]


@pytest.mark.parametrize("check_name", APPLICABLE)
@pytest.mark.parametrize("estimator", _estimators(), ids=repr)
def test_applicable_sklearn_checks(estimator, check_name):
    check = getattr(estimator_checks, check_name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # e.g. "does not inherit from BaseEstimator"
        check(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", [TextClassifier(), Seq2SeqModel()], ids=repr)
def test_parameters_default_constructible(estimator):
    estimator_checks.check_parameters_default_constructible(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", [TextClassifier(), Seq2SeqModel()], ids=repr)
def test_sklearn_itself_declines_the_numeric_checks(estimator):
    """The tags say text: sklearn's check_estimator runs nothing rather than feed the estimators numbers."""
    with pytest.warns(SkipTestWarning, match="requires input"):
        results = estimator_checks.check_estimator(estimator)
    assert [(r["check_name"], r["status"]) for r in results] == [("check_estimator_cloneable", "passed")]
    tags = get_tags(estimator)
    assert tags.input_tags.string and tags.input_tags.one_d_array and not tags.input_tags.two_d_array
    assert tags.target_tags.required and tags.requires_fit


def test_estimator_type_follows_the_task():
    assert is_classifier(TextClassifier()) and not is_regressor(TextClassifier())
    assert get_tags(TextClassifier(task="multilabel")).classifier_tags.multi_label
    assert not get_tags(TextClassifier(task="classification")).classifier_tags.multi_label
    assert is_regressor(TextClassifier(task="regression")) and not is_classifier(TextClassifier(task="regression"))
    assert get_tags(Seq2SeqModel()).estimator_type is None


@pytest.mark.parametrize("estimator", [TextClassifier(), Seq2SeqModel()], ids=repr)
def test_unfitted_is_sklearns_not_fitted_error_and_a_model_error(estimator):
    with pytest.raises(NotFittedError, match="fit"):
        estimator.predict(["a text"])
    with pytest.raises(ModelError):  # so the CLI still exits with code 2
        estimator.predict(["a text"])
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)
    assert issubclass(NotFittedModelError, ModelError) and issubclass(NotFittedModelError, NotFittedError)


@pytest.mark.parametrize("estimator", [TextClassifier(strategy="scratch-tfidf", seed=4, C=3.0, ngram_max=1),
                                       Seq2SeqModel(strategy="full", seed=2, epochs=1, num_beams=2)], ids=repr)
def test_clone_round_trips_named_arguments_and_options(estimator):
    cloned = clone(estimator)
    assert cloned is not estimator and cloned.get_params() == estimator.get_params()
    assert cloned.options == estimator.options and cloned.options
    assert repr(cloned) == repr(estimator)
    estimator._repr_html_()  # the notebook view over the same parameters renders


def test_fit_score_method_names():
    import inspect

    for method in (TextClassifier.fit, TextClassifier.score):
        assert list(inspect.signature(method).parameters)[1:3] == ["X", "y"]


def test_set_params_options_and_named_together():
    clf = TextClassifier().set_params(strategy="scratch-tfidf", C=0.25, seed=3)
    assert (clf.strategy, clf.seed, clf.options) == ("scratch-tfidf", 3, {"C": 0.25})
    clf.options["C"] = 99.0  # a copy: the estimator's parameters change only through set_params
    assert clf.get_params()["C"] == 0.25


# -- with texts: fitted behaviour the numeric checks would have covered ------------------------------
@pytest.fixture(scope="module")
def texts(small_data):
    train, test = small_data
    return train.text.tolist()[:120], train.label.tolist()[:120], test.text.tolist()[:40]


def _tfidf(**options) -> TextClassifier:
    return TextClassifier(strategy="scratch-tfidf", progress=False, **options)


def test_fit_returns_self_is_idempotent_and_leaves_parameters(texts):
    X, y, X_test = texts
    clf = _tfidf(C=1.0)
    before = clf.get_params()
    init_attributes = set(vars(clf))
    assert clf.fit(X, y) is clf
    check_is_fitted(clf)
    assert clf.get_params() == before
    added = set(vars(clf)) - init_attributes
    assert added and all(a.endswith("_") and not a.startswith("_") for a in added), added
    first = clf.predict_proba(X_test)
    np.testing.assert_allclose(clf.fit(X, y).predict_proba(X_test), first, rtol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(X_test[5:17]), first[5:17], rtol=1e-6)  # subset invariance
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(restored.predict_proba(X_test), first, rtol=1e-6)
    assert not hasattr(clone(clf), "strategy_")


def test_cross_val_score(texts):
    X, y, _ = texts
    scores = cross_val_score(_tfidf(), X, y, cv=3)
    assert scores.shape == (3,) and ((scores >= 0) & (scores <= 1)).all()
    f1 = cross_val_score(_tfidf(), X, y, cv=3, scoring="f1_macro")
    assert f1.shape == (3,) and ((f1 >= 0) & (f1 <= 1)).all()


def test_grid_search_over_a_strategy_option(texts):
    X, y, X_test = texts
    search = GridSearchCV(_tfidf(), {"C": [0.01, 100.0], "ngram_max": [1]}, cv=2).fit(X, y)
    assert search.best_params_["C"] in (0.01, 100.0)
    assert len(search.cv_results_["params"]) == 2
    best = search.best_estimator_
    assert best.config_.C == search.best_params_["C"] and best.config_.ngram_max == 1  # honoured, not dropped
    assert list(search.classes_) == best.classes_ and len(search.predict(X_test)) == len(X_test)


def test_grid_search_over_strategies_and_their_options(texts):
    X, y, _ = texts
    grid = [{"strategy": ["scratch-tfidf"], "C": [1.0]}, {"strategy": ["scratch-tfidf"], "ngram_max": [1, 2]}]
    search = GridSearchCV(_tfidf(), grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 3


def _lower(texts):
    return [t.lower() for t in texts]


def test_inside_a_pipeline(texts):
    X, y, X_test = texts
    pipe = Pipeline([("lower", FunctionTransformer(_lower)), ("clf", _tfidf())])
    assert is_classifier(pipe)
    assert len(pipe.fit(X, y).predict(X_test)) == len(X_test)
    assert 0 <= pipe.score(X, y) <= 1
    search = GridSearchCV(pipe, {"clf__C": [0.1, 10.0]}, cv=2).fit(X, y)
    assert search.best_estimator_.named_steps["clf"].config_.C == search.best_params_["clf__C"]
    assert cross_val_score(pipe, X, y, cv=2).shape == (2,)


def test_regression_cross_validates_with_kfold(texts):
    X, _, _ = texts
    values = [float(len(t.split())) for t in X]
    reg = TextClassifier(strategy="scratch-tfidf", task="regression", progress=False)
    scores = cross_val_score(reg, X, values, cv=3)  # a regressor: plain KFold, R² from score()
    assert scores.shape == (3,) and np.isfinite(scores).all()


def test_multilabel_with_an_explicit_splitter(texts):
    X, y, _ = texts
    labels = [[lab] + (["long"] if len(t) > 60 else []) for t, lab in zip(X, y)]
    clf = TextClassifier(strategy="scratch-tfidf", task="multilabel", progress=False)
    # sklearn's type_of_target refuses lists of label lists, so cv=int cannot stratify them: pass a splitter
    scores = cross_val_score(clf, X, labels, cv=KFold(2, shuffle=True, random_state=0))
    assert scores.shape == (2,) and ((scores >= 0) & (scores <= 1)).all()
