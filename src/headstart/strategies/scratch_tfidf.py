"""`scratch-tfidf`: TF-IDF n-grams and a linear head, no pre-training at all (a baseline)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, Sequence

import numpy as np

from ..backbones import BackboneRef
from ..config import Options, opt
from ..errors import DataError, expected
from ..evaluation.crossval import CV_HELP, CrossValidation, out_of_fold
from ..heads import DenseHead, fit_head
from ..tasks import CLASSIFIER_TASK_NAMES
from .registry import Cost, FitReport, Target, register


@dataclass
class TfidfConfig(Options):
    ngram_max: int = opt(2, "longest word n-gram used as a feature", min=1)
    min_df: int = opt(1, "ignore n-grams that appear in fewer training texts than this", min=1)
    max_features: int = opt(200_000, "keep at most this many n-grams (most frequent)", min=1)
    C: float = opt(10.0, "inverse regularisation strength of the logistic regression", gt=0)
    class_weight: Literal["none", "balanced"] = opt("none", "'balanced' weights classes by inverse frequency")
    cv_folds: int = opt(5, CV_HELP, min=2, off=0)


@register
class ScratchTfidf:
    name: ClassVar[str] = "scratch-tfidf"
    config_cls: ClassVar[type] = TfidfConfig
    needs_backbone: ClassVar[bool] = False
    tasks: ClassVar[tuple[str, ...]] = CLASSIFIER_TASK_NAMES
    pretrained: ClassVar[bool] = False  # the from-scratch baseline transfer is measured against
    cost: ClassVar[Cost] = Cost.FEATURES
    row_weights: ClassVar[bool] = True

    def __init__(self) -> None:
        self.vectorizer_ = None
        self.head_: DenseHead | None = None
        self.cv_: CrossValidation | None = None  # out-of-fold scores of the last fit (not saved)

    def fit(self, backbone: BackboneRef | None, train: Target, valid: Target | None, config: TfidfConfig,
            seed: int) -> FitReport:
        start = time.perf_counter()
        self.vectorizer_, self.head_ = _fit_tfidf(train, config, seed)

        def fold_scores(fold_train: np.ndarray, fold_test: np.ndarray) -> np.ndarray:
            # vocabulary and idf are refitted too: they are learnt from the training texts
            vectorizer, head = _fit_tfidf(train.subset(fold_train), config, seed)
            return _scores(vectorizer, head, [train.texts[i] for i in fold_test])

        self.cv_ = out_of_fold(fold_scores, train.y, train.task, config.cv_folds, seed,
                               "vocabulary, idf and head refitted per fold") if valid is None and config.cv_folds else None
        return FitReport(fit_seconds=time.perf_counter() - start, trainable_parameters=self.trainable_parameters(),
                         total_parameters=self.trainable_parameters())

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        assert self.vectorizer_ is not None and self.head_ is not None, "fit first"
        return _scores(self.vectorizer_, self.head_, texts)

    def trainable_parameters(self) -> int:
        return self.head_.n_parameters() if self.head_ is not None else 0

    def save(self, folder: Path) -> None:
        assert self.vectorizer_ is not None and self.head_ is not None
        v = self.vectorizer_
        state = {"vocabulary": {k: int(i) for k, i in v.vocabulary_.items()}, "idf": v.idf_.tolist(),
                 "ngram_range": list(v.ngram_range)}
        (folder / "tfidf.json").write_text(json.dumps(state), encoding="utf-8")
        self.head_.save(folder / "head.safetensors")

    @classmethod
    def load(cls, folder: Path, config: TfidfConfig, task: str) -> "ScratchTfidf":
        from sklearn.feature_extraction.text import TfidfVectorizer

        state = json.loads((folder / "tfidf.json").read_text(encoding="utf-8"))
        v = TfidfVectorizer(ngram_range=tuple(state["ngram_range"]), vocabulary=state["vocabulary"], sublinear_tf=True)
        v.idf_ = np.asarray(state["idf"])
        obj = cls()
        obj.vectorizer_ = v
        obj.head_ = DenseHead.load(folder / "head.safetensors")
        return obj


def _fit_tfidf(train: Target, config: TfidfConfig, seed: int):
    """A fitted vectorizer and the logistic head over its features."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, config.ngram_max), min_df=config.min_df,
                                 max_features=config.max_features, sublinear_tf=True)
    try:
        x = vectorizer.fit_transform(train.texts)
    except ValueError as exc:  # sklearn's "empty vocabulary"
        raise DataError(expected("texts with words of two or more letters", f"none usable ({exc})",
                                 "Check the text column; scratch-tfidf needs words to count.")) from None
    # fit_head works on sparse input too; only the MLP path would densify, and it is not offered here
    head = fit_head(x, train.y, train.task, "logistic", config.C, class_weight=config.class_weight, seed=seed,
                    sample_weight=train.weight)
    return vectorizer, head


def _scores(vectorizer, head: DenseHead, texts: Sequence[str]) -> np.ndarray:
    x = vectorizer.transform(list(texts))
    w, b = head.weights[0], head.biases[0]
    logits = np.asarray(x @ w.T) + b  # sparse-friendly first layer, then the shared head maths
    return DenseHead([np.eye(w.shape[0])], [np.zeros(w.shape[0])], head.output).scores(logits)
