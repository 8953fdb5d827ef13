"""`TextClassifier`: the scikit-learn style face over every strategy.

`__init__` only stores arguments; checks happen in `fit`; fitted state ends in `_`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import ClassifierTags, RegressorTags, Tags

from . import params
from .augment import augment_examples, write_rows
from .backbones import DEFAULT_BACKBONE, BackboneRef, resolve_backbone
from .config import build_config
from .data.examples import Examples, check_trainable, from_lists
from .data.split import label_counts, stratified_split
from .errors import ConfigError, DataError, ModelError, expected
from .evaluation.calibration import apply_temperature, fit_temperature
from .model_folder import CLASSIFIER_KIND, ModelFolder, short_list
from .progress import progress_enabled
from .seeding import set_seed
from .strategies import FitReport, get_strategy, strategy_names
from .targets import Target
from .tasks import AUTO, CLASSIFICATION, CLASSIFIER_TASK_NAMES, LabelTask, label_task
from .unlabelled.query import DUPLICATE_COSINE, query_model
from .unlabelled.self_train import SELF_TRAIN_OPTIONS, SelfTrainConfig, check_self_trainable, self_train

# headstart.json fields that change predictions are sealed: covered by its recorded digest, so an edit is
# refused at load
CLASSIFIER_FOLDER = ModelFolder(kind=CLASSIFIER_KIND, format_version=1,
                                sealed_fields=("format_version", "task", "strategy", "classes", "threshold",
                                               "temperature", "config", "backbone", "files"),
                                libraries=("torch", "transformers", "scikit-learn"))
AUGMENT_OPTIONS = ("augment", "augment_output", "augment_lm")  # preprocessing, not strategy options
NOT_STRATEGY_OPTIONS = AUGMENT_OPTIONS + SELF_TRAIN_OPTIONS  # self-training wraps the strategy's fit


class TextClassifier(params.EstimatorParams, BaseEstimator):
    """Adapt a pre-trained backbone to a text classification (or regression) task.

    Parameters
    ----------
    backbone: a name from `headstart models`, a local Hugging Face folder, or a hub id (online).
    strategy: a registered strategy name (`headstart fit --help` lists them).
    task: 'auto' (classification, or multilabel when labels are lists) or a task of `headstart.tasks`
        (classification, multilabel, regression).
    seed: seeds sampling, splits and initialisation; the same seed gives the same model on one machine.
    threshold: decision threshold of multilabel predictions.
    **options: the strategy's options (its config dataclass fields), e.g. epochs=3, lr=1e-4, valid_fraction=0.2
        (the share held out for early stopping when no validation set is given); the augmentation options
        (augment=N, ...); the self-training options (self_train=True, self_train_rounds=3, ...:
        `headstart.unlabelled.self_train.SelfTrainConfig`), which need `fit(..., X_unlabeled=pool_texts)`.
    """

    def __init__(self, backbone: str = DEFAULT_BACKBONE, strategy: str = CLASSIFICATION.default_strategy,
                 task: str = AUTO, seed: int = 0,
                 threshold: float = 0.5, progress: bool = True, **options: Any) -> None:
        self.backbone = backbone
        self.strategy = strategy
        self.task = task
        self.seed = seed
        self.threshold = threshold
        self.progress = progress
        self._options = options

    # -- scikit-learn protocol (get_params, set_params, repr, tags: params.EstimatorParams) ----------
    kind = CLASSIFIER_KIND
    _PARAM_NAMES = ("backbone", "strategy", "task", "seed", "threshold", "progress")
    _REPR_NAMES = ("backbone", "strategy", "seed")
    _FITTED_ATTRIBUTE = "strategy_"

    def __sklearn_tags__(self) -> Tags:
        """Text in; a classifier or, for task='regression', a regressor (is_classifier, cv choice, scorers)."""
        tags = super().__sklearn_tags__()
        task = label_task(self.task) if self.task in CLASSIFIER_TASK_NAMES else None  # None: 'auto' (or a typo)
        if task is not None and not task.has_classes:
            tags.estimator_type, tags.regressor_tags = "regressor", RegressorTags()
        else:
            # labels are lists of names for multilabel ('auto' reads them as such when they are lists)
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags(multi_label=self.task == AUTO or bool(task and task.multi_label))
        return tags

    # -- fitting -----------------------------------------------------------------------------------
    def fit(self, X: Sequence[str] | Examples, y: Sequence[Any] | None = None, *,
            X_valid: Sequence[str] | Examples | None = None, y_valid: Sequence[Any] | None = None,
            X_unlabeled: Sequence[str] | None = None) -> "TextClassifier":
        """Fit on texts `X` and labels `y` (or on an `Examples`), optionally with a validation set and, with
        `self_train=True`, with unlabelled texts `X_unlabeled` to pseudo-label (`headstart.unlabelled.self_train`)."""
        strategy_cls = get_strategy(self.strategy)
        augment_options = {k: self.options[k] for k in AUGMENT_OPTIONS if k in self.options}
        self_training = build_config(SelfTrainConfig, {k: v for k, v in self.options.items() if k in SELF_TRAIN_OPTIONS})
        config = build_config(strategy_cls.config_cls,
                              {k: v for k, v in self.options.items() if k not in NOT_STRATEGY_OPTIONS})
        pool = _unlabelled_texts(X_unlabeled, self_training.self_train)
        # strategies that need no examples (zero-shot) may get only label names, through their `labels` option
        label_names = list(getattr(config, "labels", None) or [])
        if not strategy_cls.needs_examples and label_names and not len(X):
            train = Examples(texts=[], labels=[], task=CLASSIFICATION.name)
        else:
            train = X if isinstance(X, Examples) else from_lists(X, y, self.task)
            if isinstance(X, Examples) and self.task != AUTO and train.task != self.task:
                raise DataError(expected(f"data for task '{self.task}'", f"data read as '{train.task}'",
                                         "Read the file with the same --task."))
            check_trainable(train)
        if train.task not in strategy_cls.tasks:
            raise DataError(expected(f"a task that '{self.strategy}' supports ({', '.join(strategy_cls.tasks)})",
                                     f"'{train.task}'", "Choose another strategy or task."))
        if pool is not None:  # refused before anything is fitted
            check_self_trainable(strategy_cls, train.task, X_valid is not None or
                                 (getattr(config, "valid_fraction", 0.0) > 0 and len(train) >= 20),
                                 self_training.self_train_method, self_training.self_train_encoder)
        self.augmented_: list[dict[str, str]] = []
        if augment_options.get("augment"):
            train, self.augmented_ = augment_examples(train, backbone=self.backbone, seed=self.seed,
                                                      **augment_options)
        train, valid = self._validation_set(train, X_valid, y_valid, config)
        self.task_ = train.task
        self.classes_ = sorted(set(train.classes()) | set(valid.classes() if valid is not None else [])
                               | set(label_names))
        set_seed(self.seed)
        self.backbone_: BackboneRef | None = resolve_backbone(self.backbone) if strategy_cls.needs_backbone else None
        self.config_ = config
        self.temperature_ = 1.0  # a refit forgets an earlier calibration
        self.strategy_ = strategy_cls()
        valid_target = self.encode(valid) if valid is not None else None
        self.self_training_: dict[str, Any] | None = None  # what self-training did (headstart.json)
        with progress_enabled(self.progress):
            self.fit_report_ = self.strategy_.fit(self.backbone_, self.encode(train), valid_target, config, self.seed)
            if pool is not None:
                self._self_train(strategy_cls, config, self.encode(train), valid_target, pool, self_training)
        self.data_ = {"source": train.source, "fingerprint": train.fingerprint(), "n_train": len(train),
                      "n_valid": len(valid) if valid is not None else 0,
                      "label_counts": label_counts(train.labels) if self._task.has_classes else {}}
        if augment_options.get("augment"):
            self.data_["augmented_rows"] = len(self.augmented_)
        self.metrics_: dict[str, Any] = {}
        if valid is not None:
            self.metrics_["valid"] = self._summary(self.evaluate(valid))
        cv = getattr(self.strategy_, "cv_", None)  # strategies without a validation split may cross-validate
        if valid is None and cv is not None:
            self.metrics_["cv"] = {**self._summary(self._metrics(train.labels, self.encode(train), cv.scores)),
                                   "folds": cv.folds}
            self.fit_report_.notes.append(f"held-out estimate (cv_*): {cv.folds}-fold cross-validation on the "
                                          f"training rows ({cv.method}); the saved model is fitted on all of them")
        return self

    def _self_train(self, strategy_cls: type, config: Any, train: Target, valid: Target | None, pool: list[str],
                    options: SelfTrainConfig) -> None:
        """Replace the fitted strategy by its self-trained version when a round helped; record what ran."""
        inner = dataclasses.replace(config, cv_folds=0) if hasattr(config, "cv_folds") else config

        def refit(target: Target, fit_config: Any = None) -> Any:  # a whole fit (rounds of strategies without a
            fresh = strategy_cls()  # head over embeddings; the encoder step, with its own config)
            fresh.fit(self.backbone_, target, valid, fit_config or inner, self.seed)
            return fresh

        model, report, cv = self_train(self.strategy_, train, valid, pool, options, self.seed, refit)
        if cv is not None:
            model.cv_ = cv  # the held-out estimate of the model kept, not of the one without self-training
        self.strategy_ = model
        self.fit_report_.notes.extend(report.summary())
        self.fit_report_.fit_seconds += report.seconds
        self.self_training_ = report.to_dict()

    def _validation_set(self, train: Examples, X_valid: Any, y_valid: Any,
                        config: Any) -> tuple[Examples, Examples | None]:
        """(training rows, validation rows): the ones given, else a stratified `valid_fraction` of the
        training rows (from 20 on), else none."""
        if X_valid is not None:
            valid = X_valid if isinstance(X_valid, Examples) else from_lists(X_valid, y_valid, train.task)
            if valid.labels is None:
                raise DataError(expected("labels for the validation texts", "none", "Pass y_valid."))
            return train, valid
        fraction = getattr(config, "valid_fraction", 0.0)
        if fraction <= 0 or len(train) < 20:
            return train, None
        return stratified_split(train, fraction, self.seed)

    def encode(self, examples: Examples) -> Target:
        """Labels to the arrays strategies train on; unknown labels are an error that names them."""
        assert examples.labels is not None
        known = set(self.classes_)
        unknown = sorted({str(c) for label in examples.labels for c in self._task.row_classes(label) if c not in known})
        if unknown:
            raise DataError(expected(f"labels the model knows ({short_list(self.classes_)})",
                                     f"unseen label(s) {short_list(unknown)} in {examples.source}",
                                     "Evaluate on data with the training label set, or retrain with these labels."))
        y = self._task.encode(examples.labels, self.classes_)
        return Target(list(examples.texts), y, self.task_, list(self.classes_))

    def add_class(self, name: str, examples: Sequence[str]) -> "TextClassifier":
        """Add a class from a few example texts without retraining (strategies with `add_class`, e.g. prototype)."""
        self._check_fitted()
        if not hasattr(self.strategy_, "add_class"):
            able = [n for n in strategy_names() if hasattr(get_strategy(n), "add_class")]
            raise ConfigError(expected(f"a strategy that can add classes ({', '.join(able)})",
                                       f"'{self.strategy}'", "Refit with all classes, or use strategy='prototype'."))
        if name in self.classes_:
            raise DataError(expected("a new class name", f"'{name}', which the model already knows",
                                     "Choose another name."))
        self.strategy_.add_class(name, as_texts(examples))
        self.classes_ = [*self.classes_, name]  # the new class is the strategy's last column
        return self

    # -- prediction --------------------------------------------------------------------------------
    @property
    def _task(self) -> LabelTask:
        """The fitted task (`task_` holds its name, as headstart.json does)."""
        return label_task(self.task_)

    def decision_scores(self, X: Sequence[str]) -> np.ndarray:
        """Raw strategy output: probabilities (classification, multilabel) or values (regression)."""
        self._check_fitted()
        texts = as_texts(X)
        if not texts:
            return self._task.empty_scores(self.classes_)
        scores = np.asarray(self.strategy_.predict_proba(texts))
        temperature = getattr(self, "temperature_", 1.0)
        if self._task.single_label and temperature != 1.0:
            scores = apply_temperature(scores, temperature)
        return scores

    def calibrate(self, X: Sequence[str] | Examples, y: Sequence[Any] | None = None) -> "TextClassifier":
        """Fit a softmax temperature on held-out labelled data (classification only).

        Afterwards `predict_proba` returns softmax(log p / T); predictions do not change, confidences do.
        The temperature is saved in headstart.json and applied again after `load`.
        """
        self._check_fitted()
        if not self._task.single_label:
            raise ModelError(expected("a classification model", f"a {self.task_} model",
                                      "Temperature scaling applies to single-label class probabilities."))
        examples = X if isinstance(X, Examples) else from_lists(as_texts(X), y, self.task_)
        target = self.encode(examples)
        self.temperature_ = 1.0
        self.temperature_ = fit_temperature(self.decision_scores(examples.texts), target.y)
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Class probabilities, columns in the order of `classes_`."""
        self._check_fitted()
        if not self._task.has_classes:
            raise ModelError(expected("a classification model", "a regression model", "Use predict() for values."))
        return self.decision_scores(X)

    def predict(self, X: Sequence[str]) -> list[Any]:
        return self.scores_to_labels(self.decision_scores(X))

    def scores_to_labels(self, scores: np.ndarray) -> list[Any]:
        """Scores to labels: the best class, the classes over `threshold` (multilabel), or the value (regression)."""
        return self._task.decode(scores, self.classes_, self.threshold)

    def score(self, X: Sequence[str], y: Sequence[Any]) -> float:
        """Accuracy (classification), micro-F1 (multilabel) or R² (regression)."""
        return float(self.evaluate(X, y)[self._task.primary_metric])

    def evaluate(self, X: Sequence[str] | Examples, y: Sequence[Any] | None = None) -> dict[str, Any]:
        """Every metric of the task, plus the per-class table and confusion matrix.

        `X` may be an `Examples` with labels (then `y` is omitted): errors then name its file.
        """
        self._check_fitted()
        if isinstance(X, Examples) and y is None:
            if X.labels is None:
                raise DataError(expected("labelled data to evaluate on", f"no labels in {X.source}",
                                         "Name the label column (--label-col)."))
            examples = from_lists(X.texts, X.labels, self.task_)
            examples.source = X.source
        else:
            examples = from_lists(as_texts(X), y, self.task_)
        return self._metrics(examples.labels, self.encode(examples), self.decision_scores(examples.texts))

    def _metrics(self, labels: Sequence[Any] | None, target: Target, scores: np.ndarray) -> dict[str, Any]:
        return self._task.evaluate(list(labels or []), target.y, scores, self.classes_, self.threshold)

    @staticmethod
    def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in metrics.items() if not isinstance(v, dict)}

    def query(self, pool_texts: Sequence[str], n: int, strategy: str = "margin",
              labelled_texts: Sequence[str] | None = None, seed: int | None = None,
              duplicate_cosine: float = DUPLICATE_COSINE) -> tuple[np.ndarray, np.ndarray]:
        """The `n` rows of `pool_texts` worth labelling next, best first: (indices, the score that chose each).

        `strategy`: a query strategy of `headstart.unlabelled.query` (margin, entropy, least-confident, kcenter,
        cluster-margin, kmeans, random). Rows whose text is in `labelled_texts` (or repeats an earlier pool
        row) are never proposed; near-duplicates (embedding cosine >= `duplicate_cosine`) are not proposed
        together, so fewer than `n` rows may come back; `n` larger than what may be
        proposed is a DataError. `seed` defaults to the model's."""
        self._check_fitted()
        selection, _ = query_model(self, as_texts(pool_texts), n, strategy, as_texts(labelled_texts or []),
                                   self.seed if seed is None else seed, duplicate_cosine)
        return selection.indices, selection.scores

    # -- persistence -------------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        self._check_fitted()
        ref = self.backbone_
        return CLASSIFIER_FOLDER.metadata({
            "task": self.task_, "strategy": self.strategy, "seed": self.seed,
            "classes": self.classes_, "threshold": self.threshold,
            "temperature": getattr(self, "temperature_", 1.0),
            "backbone": None if ref is None else {"name": ref.name, "source": ref.source, "kind": ref.kind,
                                                  "fingerprint": ref.fingerprint()},
            "config": dataclasses.asdict(self.config_), "fit": dataclasses.asdict(self.fit_report_),
            "self_training": getattr(self, "self_training_", None),
            "metrics": self.metrics_, "data": self.data_})

    def save(self, folder: str | Path) -> Path:
        """Write the model atomically: a Hugging Face folder plus `headstart.json` with file hashes."""
        def write_files(tmp: Path) -> None:
            self.strategy_.save(tmp)
            if getattr(self, "augmented_", None):
                write_rows(self.augmented_, tmp / "augmented.csv")

        return CLASSIFIER_FOLDER.save(folder, self.metadata(), write_files)

    @classmethod
    def load(cls, folder: str | Path, verify: bool = True) -> "TextClassifier":
        """Load a saved model; with `verify`, every file is checked against the hashes in its metadata and the
        metadata fields that change predictions against their recorded digest."""
        folder = Path(folder)
        meta = CLASSIFIER_FOLDER.load(folder, verify)
        strategy_cls = get_strategy(meta["strategy"])
        obj = cls(backbone=(meta.get("backbone") or {}).get("name", DEFAULT_BACKBONE), strategy=meta["strategy"],
                  task=meta["task"], seed=meta.get("seed", 0), threshold=meta.get("threshold", 0.5),
                  **meta.get("config", {}))
        obj.config_ = build_config(strategy_cls.config_cls, meta.get("config", {}))
        obj.task_, obj.classes_ = meta["task"], meta["classes"]
        obj.strategy_ = strategy_cls.load(folder, obj.config_, meta["task"])
        obj.backbone_ = None
        known = {f.name for f in dataclasses.fields(FitReport)}  # other versions may record other fields
        obj.fit_report_ = FitReport(**{k: v for k, v in meta.get("fit", {}).items() if k in known})
        obj.metrics_, obj.data_ = meta.get("metrics", {}), meta.get("data", {})
        obj.temperature_ = float(meta.get("temperature", 1.0))
        obj.self_training_ = meta.get("self_training")
        obj.metadata_ = meta
        return obj


def _unlabelled_texts(X_unlabeled: Sequence[str] | None, wanted: bool) -> list[str] | None:
    """The pool texts when self-training is asked for; either one without the other is an error."""
    if wanted and X_unlabeled is None:
        raise ConfigError(expected("unlabelled texts to self-train on", "self_train=True without them",
                                   "Pass fit(..., X_unlabeled=texts) (CLI: --unlabeled pool.csv), or drop self_train."))
    if not wanted and X_unlabeled is not None:
        raise ConfigError(expected("self_train=True to use unlabelled texts", "X_unlabeled without it",
                                   "Add self_train=True (CLI: --self-train), or drop the unlabelled texts."))
    if X_unlabeled is None:
        return None
    texts = as_texts(X_unlabeled)
    if not texts:
        raise DataError(expected("unlabelled texts in the pool", "an empty pool", "Pass rows nobody labelled yet."))
    return texts


def as_texts(X: Sequence[str] | Examples) -> list[str]:
    """The texts to predict on, from a list (or an `Examples`); a bare string is refused, not split."""
    if isinstance(X, str):
        raise DataError(expected("a list of texts", "a single string", "Wrap it in a list: [text]."))
    return list(X.texts) if isinstance(X, Examples) else [str(t) for t in X]

