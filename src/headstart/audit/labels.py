"""Likely label errors: out-of-fold probabilities from K-fold cross-validation, ranked by confident
learning (cleanlab). Each row is predicted by a model that never saw it, so a confident disagreement
with the given label is evidence of a mislabelled row rather than of memorisation."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..tasks import label_task
from .quality import _clip, make_check, skipped_check

FitPredict = Callable[[list[int], list[int]], np.ndarray]  # (train rows, held-out rows) -> probabilities


def out_of_fold_probabilities(y: np.ndarray, n_classes: int, fit_predict: FitPredict, folds: int,
                              seed: int) -> np.ndarray:
    """(n, n_classes) probabilities, each row predicted by the fold model that did not train on it."""
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(y, minlength=n_classes).min())
    folds = max(2, min(folds, smallest)) if smallest >= 2 else 2
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    probs = np.zeros((len(y), n_classes), dtype=np.float64)
    import warnings

    with warnings.catch_warnings():  # 'least populated class has only 1 member' is reported by tiny_classes
        warnings.simplefilter("ignore", UserWarning)
        splits = list(splitter.split(np.zeros(len(y)), y))
    for train_rows, held_out in splits:
        probs[held_out] = fit_predict(train_rows.tolist(), held_out.tolist())
    return probs


def logistic_fit_predict(x: Any, y: np.ndarray, n_classes: int, C: float = 1.0) -> FitPredict:
    """Logistic regression on fixed features (embeddings, or a sparse TF-IDF matrix): seconds for thousands of
    rows."""
    from sklearn.linear_model import LogisticRegression

    def fit_predict(train_rows: list[int], held_out: list[int]) -> np.ndarray:
        model = LogisticRegression(C=C, max_iter=1000)
        model.fit(x[train_rows], y[train_rows])
        out = np.zeros((len(held_out), n_classes))
        out[:, model.classes_] = model.predict_proba(x[held_out])  # classes missing from a fold stay at 0
        return out

    return fit_predict


def tfidf_fit_predict(texts: Sequence[str], y: np.ndarray, n_classes: int, C: float = 3.0) -> FitPredict:
    """Logistic regression on word 1-2-gram TF-IDF: sees wording the sentence embedding blurs."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(list(texts))  # unsupervised: no leak
    return logistic_fit_predict(x, y, n_classes, C)


def averaged_fit_predict(*members: FitPredict) -> FitPredict:
    """Mean of several predictors' probabilities: errors of different feature views partly cancel."""

    def fit_predict(train_rows: list[int], held_out: list[int]) -> np.ndarray:
        return np.mean([m(train_rows, held_out) for m in members], axis=0)

    return fit_predict


def classifier_fit_predict(params: dict[str, Any], texts: Sequence[str], labels: Sequence[Any],
                           classes: list[str]) -> FitPredict:
    """Cross-validate the user's own strategy (from --model): slower, but audits what will be trained."""
    from ..classifier import TextClassifier

    def fit_predict(train_rows: list[int], held_out: list[int]) -> np.ndarray:
        clf = TextClassifier(**{**params, "progress": False})
        clf.fit([texts[i] for i in train_rows], [labels[i] for i in train_rows])
        probs = clf.predict_proba([texts[i] for i in held_out])
        out = np.zeros((len(held_out), len(classes)))
        out[:, [classes.index(c) for c in clf.classes_]] = probs  # a class missing from a fold stays at 0
        return out

    return fit_predict


def rank_label_issues(y: np.ndarray, probs: np.ndarray, method: str = "self_confidence") -> tuple[np.ndarray, np.ndarray]:
    """(flagged rows ranked most-likely-wrong first, label quality score of every row) via cleanlab."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    probs = np.clip(probs, 1e-6, 1.0)
    probs = probs / probs.sum(axis=1, keepdims=True)
    flagged = find_label_issues(labels=y, pred_probs=probs, return_indices_ranked_by=method)
    scores = get_label_quality_scores(labels=y, pred_probs=probs, method=method)
    return np.asarray(flagged, dtype=np.int64), np.asarray(scores, dtype=np.float64)


def label_error_check(texts: Sequence[str], labels: Sequence[Any], fit_predict_factory: Callable[[np.ndarray, list[str]], FitPredict],
                      folds: int, seed: int, n_examples: int, method_name: str) -> dict[str, Any]:
    """The likely-label-errors check of the audit (single-label classification only)."""
    classes = sorted({str(label) for label in labels})
    if len(classes) < 2:
        return skipped_check("label_errors", "likely label errors", "needs at least two classes")
    index = {c: i for i, c in enumerate(classes)}
    y = np.asarray([index[str(label)] for label in labels], dtype=np.int64)
    if len(y) < 2 * len(classes):
        return skipped_check("label_errors", "likely label errors",
                             f"too few rows ({len(y)}) for cross-validation over {len(classes)} classes")
    probs = out_of_fold_probabilities(y, len(classes), fit_predict_factory(y, classes), folds, seed)
    flagged, scores = rank_label_issues(y, probs)
    suggested = probs.argmax(axis=1)
    issues = [{"row": int(i), "text": _clip(texts[i]), "label": classes[y[i]], "suggested_label": classes[suggested[i]],
               "label_probability": round(float(probs[i, y[i]]), 4),
               "suggested_probability": round(float(probs[i, suggested[i]]), 4)} for i in flagged]
    oof_accuracy = float((suggested == y).mean())
    check = make_check("label_errors", "likely label errors (confident learning, out-of-fold)", flagged.tolist(),
                       "review the ranked rows and relabel real mistakes (--fix relabels them with the suggested label "
                       "unless --label-fix drop/none)", issues[:n_examples], severity="problem",
                       method=method_name, folds=folds, ranked_by="self_confidence", oof_accuracy=round(oof_accuracy, 4))
    # the full ranking (most suspicious first) is kept so --fix and benchmarks need not recompute it
    check["ranked"] = [{"row": d["row"], "suggested_label": d["suggested_label"],
                        "label_probability": d["label_probability"]} for d in issues]
    check["quality_scores"] = [round(float(s), 5) for s in scores]
    return check


def check_labels_usable(labels: Sequence[Any] | None, task: str) -> str | None:
    """Why label-based checks cannot run (None when they can)."""
    if labels is None:
        return "the data has no label column"
    if not label_task(task).single_label:
        return f"label checks need single-label classification (the data reads as {task})"
    return None

