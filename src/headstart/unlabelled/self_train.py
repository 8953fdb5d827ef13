"""Self-training: learn from the rows nobody labelled, for any classification strategy.

Rounds of pseudo-labelling: the current model labels the pool, the rows it is most sure of are added, a
class-balanced share per predicted class (`per_class` more each round), each weighted below a real row
(`weight` x its calibrated confidence), and the model is refitted. A held-out check scores every round and
keeps the last round that helped; the first round that hurts is undone and ends the run.

Two ways to refit (`Learner`):
* over embeddings, for strategies with `embeddings`, `refit_head` and `head_scores` (probe, contrastive):
  the encoder is embedded once (labelled rows, pool, validation rows) and only the head is refitted, so a
  round costs one head fit;
* the whole strategy, for the others (finetune, lora, prototype, scratch-tfidf...): every round is a full
  fit on the labelled plus pseudo-labelled rows (weights through `Target.weight`).

Three ways to choose pseudo-labels (`method`):
* `rounds`: the model's own predictions, confidence calibrated by a temperature (fitted on the validation
  split, or on the out-of-fold scores of the cross-validated check);
* `propagate`: label spreading (scikit-learn's LabelSpreading, a kNN graph over labelled + pool embeddings),
  its normalised label distribution as confidence; strategies with embeddings only;
* `cluster`: class prototypes refined by soft k-means with class shares over the pool embeddings
  (`prototypes.cluster_labels`); by default each round adds the next most confident 1/rounds of every
  class's pool rows, so the last round has them all; strategies with embeddings only.
`auto` is `cluster` for strategies whose embeddings are tuned to cluster by class (contrastive) and `rounds`
for the others (measured in docs/unlabelled-self-training.md).

The encoder step (`self_train_encoder`, strategies with `retune_config`: contrastive): after the rounds, the
strategy is fitted again whole, from the pre-trained backbone, on the labelled rows plus the first round's
pseudo-labelled rows, so the pool shapes the encoder too, not only the head; judged on the validation split
when there is one, else kept unchecked (see `_encoder_step`).

The held-out check (the rule): with a validation split (given, or held out by the strategy's
`valid_fraction`), every round is scored on it. Without one, the whole procedure is cross-validated on the
labelled rows (k folds: each fold's model self-trains from the other folds' rows and the pool, and scores the
fold), which is cheap for strategies refitted over embeddings and for `Cost.FEATURES`/`Cost.FROZEN` ones;
a gradient strategy refitted whole without a validation split is refused (k more fine-tunings per round).
For contrastive, refitted over its tuned embeddings, the encoder has seen every labelled row, so the
cross-validated scores are optimistic, equally so with and without self-training. Rounds are compared on
accuracy, ties broken by the lower log-loss; a tie on both keeps the round.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal, Sequence

import numpy as np

from ..config import Options, opt
from ..errors import ConfigError, DataError, expected
from ..evaluation.calibration import apply_temperature, fit_temperature, negative_log_likelihood
from ..evaluation.crossval import CrossValidation, fold_splits
from ..strategies.registry import Cost
from ..targets import Target
from ..tasks import CLASSIFICATION
from .prototypes import cluster_labels
from .selection import select_balanced, spread_labels


@dataclass
class SelfTrainConfig(Options):
    """Self-training options (`TextClassifier(self_train=True, self_train_rounds=3, ...)`, `fit --self-train`)."""

    self_train: bool = opt(False, "learn from unlabelled rows too (fit(..., X_unlabeled=...), CLI --unlabeled)")
    self_train_method: Literal["auto", "rounds", "propagate", "cluster"] = opt(
        "auto", "how pool rows get pseudo-labels: 'rounds' (the model's calibrated predictions), 'propagate' "
                "(label spreading over embeddings), 'cluster' (class prototypes refined over the pool's "
                "embeddings); the last two need a strategy with embeddings (probe, contrastive); auto: cluster "
                "for contrastive (its embeddings cluster by class), else rounds")
    self_train_rounds: int = opt(3, "rounds of pseudo-labelling; each is kept only if the held-out check does not "
                                    "get worse", min=1, max=10)
    self_train_per_class: int = opt(0, "pool rows added per predicted class and round (0: 4 x the smallest "
                                       "labelled class; method cluster: 1/rounds of the class's pool rows)", min=0)
    self_train_weight: float = opt(0.5, "weight of a pseudo-labelled row relative to a real one (times its "
                                        "calibrated confidence)", gt=0, max=1)
    self_train_min_confidence: float = opt(0.0, "skip pool rows whose calibrated confidence is below this",
                                           min=0, lt=1)
    self_train_encoder: bool = opt(False, "also re-tune the encoder (contrastive): fit it again from the pre-trained "
                                          "backbone on the labelled rows plus the first round's pseudo-labelled "
                                          "rows, with the first fit's triplet count; a validation split judges it "
                                          "against the kept rounds, without one it is kept unchecked; costs about "
                                          "one fit over those rows")
    self_train_neighbours: int = opt(10, "neighbours per row in the label-spreading graph (method propagate)",
                                     min=1)
    self_train_pool_limit: int = opt(0, "use at most this many pool rows, a seeded sample (0: all)", min=0)
    self_train_folds: int = opt(5, "folds of the cross-validated check when there is no validation split",
                                min=2)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.self_train:
            return
        changed = [f.name for f in dataclasses.fields(self) if f.name != "self_train"
                   and getattr(self, f.name) != f.default]
        if changed:  # they would be silently ignored
            raise ConfigError(expected("self_train=True (CLI: --self-train) with self-training options",
                                       f"{', '.join(changed)} without it",
                                       "Add self_train=True (CLI: --self-train --unlabeled FILE), or drop them."))


SELF_TRAIN_OPTIONS = tuple(SelfTrainConfig.__dataclass_fields__)


@dataclass
class RoundRecord:
    """One round: what it added and how the held-out check scored the model after it."""

    round: int
    added_per_class: dict[str, int]
    pseudo_rows: int
    accuracy: float
    log_loss: float
    kept: bool
    temperature: float
    seconds: float


@dataclass
class EncoderRecord:
    """The encoder step (`self_train_encoder`): the strategy refitted whole, encoder included, on the labelled
    rows plus the first round's pseudo-labelled rows."""

    pseudo_rows: int
    added_per_class: dict[str, int]
    check: str
    accuracy: float | None  # on the validation split; None when unchecked
    log_loss: float | None
    kept: bool
    seconds: float


@dataclass
class SelfTrainReport:
    """What self-training did (kept in headstart.json under `self_training`)."""

    method: str
    learner: str
    check: str
    pool_rows: int
    per_class: int  # 0: method cluster's 1/rounds share of each class's pool rows
    weight: float
    baseline: dict[str, float] = field(default_factory=dict)
    rounds: list[RoundRecord] = field(default_factory=list)
    kept_rounds: int = 0
    encoder: EncoderRecord | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        """Lines for the fit summary."""
        lines = [f"self-training ({self.method}, {self.learner}) on {self.pool_rows:,} pool rows, held-out check: "
                 f"{self.check}; baseline accuracy {self.baseline['accuracy']:.4f}"]
        for r in self.rounds:
            added = ", ".join(f"{k} {v}" for k, v in r.added_per_class.items())
            lines.append(f"self-training round {r.round}: +{r.pseudo_rows} pseudo-labelled rows ({added}); "
                         f"held-out accuracy {r.accuracy:.4f}, log-loss {r.log_loss:.4f}: "
                         f"{'kept' if r.kept else 'undone (it hurt)'}")
        e = self.encoder
        if e is not None:
            scored = (f"held-out accuracy {e.accuracy:.4f}, log-loss {e.log_loss:.4f}: "
                      if e.accuracy is not None else "")
            lines.append(f"self-training encoder step: re-tuned on the labelled rows + {e.pseudo_rows} pseudo-labelled "
                         f"rows in {e.seconds:.1f}s; {scored}{'kept' if e.kept else 'undone (it hurt)'} ({e.check})")
        model = ("the re-tuned one" if e is not None and e.kept else
                 "the one without it" if not self.kept_rounds else f"the one of round {self.kept_rounds}")
        lines.append(f"self-training kept {self.kept_rounds} of {len(self.rounds)} round(s) run, "
                     f"{self.seconds:.1f}s; the model is {model}")
        return lines + self.notes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------------ learners


class Learner:
    """Fits candidates on labelled rows (indices into the training rows) plus pseudo-labelled pool rows, and
    scores texts of the three kinds ('train', 'pool', 'valid') by index."""

    name = ""

    def fit(self, rows: np.ndarray, pool_rows: np.ndarray, pool_y: np.ndarray, pool_w: np.ndarray) -> Any:
        raise NotImplementedError

    def scores(self, model: Any, kind: str, index: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def features(self, kind: str) -> np.ndarray | None:
        return None

    @property
    def pool_size(self) -> int:
        raise NotImplementedError


class HeadLearner(Learner):
    """Refits only the head of `strategy` over its embeddings (computed once)."""

    name = "head refitted over the strategy's embeddings"

    def __init__(self, strategy: Any, train: Target, pool: Sequence[str], valid: Target | None, seed: int) -> None:
        self.strategy, self.train, self.seed = strategy, train, seed
        self.x = {"train": strategy.embeddings(train.texts), "pool": strategy.embeddings(list(pool)),
                  "valid": strategy.embeddings(valid.texts) if valid is not None else None}

    def fit(self, rows: np.ndarray, pool_rows: np.ndarray, pool_y: np.ndarray, pool_w: np.ndarray) -> Any:
        model = copy.copy(self.strategy)  # shares the encoder; refit_head replaces only the copy's head
        x = np.vstack([self.x["train"][rows], self.x["pool"][pool_rows]])
        target = _joined(self.train, rows, [], pool_y, pool_w)
        model.refit_head(x, target, self.seed)
        return model

    def scores(self, model: Any, kind: str, index: np.ndarray) -> np.ndarray:
        return model.head_scores(self.x[kind][index])

    def features(self, kind: str) -> np.ndarray | None:
        return self.x[kind]

    @property
    def pool_size(self) -> int:
        return len(self.x["pool"])


class StrategyLearner(Learner):
    """Refits the whole strategy (`refit(target)` returns a fitted one) on labelled + pseudo-labelled rows."""

    name = "whole strategy refitted each round"

    def __init__(self, refit: Callable[[Target], Any], train: Target, pool: Sequence[str],
                 valid: Target | None) -> None:
        self.refit, self.train = refit, train
        self.texts = {"train": train.texts, "pool": list(pool), "valid": valid.texts if valid is not None else []}

    def fit(self, rows: np.ndarray, pool_rows: np.ndarray, pool_y: np.ndarray, pool_w: np.ndarray) -> Any:
        return self.refit(_joined(self.train, rows, [self.texts["pool"][i] for i in pool_rows], pool_y, pool_w))

    def scores(self, model: Any, kind: str, index: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_proba([self.texts[kind][i] for i in index]))

    @property
    def pool_size(self) -> int:
        return len(self.texts["pool"])


def _joined(train: Target, rows: np.ndarray, pool_texts: list[str], pool_y: np.ndarray,
            pool_w: np.ndarray) -> Target:
    """The labelled rows (weight 1) followed by the pseudo-labelled ones (their weights)."""
    part = train.subset(rows)
    return Target(part.texts + list(pool_texts), np.concatenate([part.y, pool_y]).astype(int), train.task,
                  train.classes, np.concatenate([part.weights(), pool_w]))


# ------------------------------------------------------------------------------------------------ the run


@dataclass
class _Run:
    """The models of one self-training run (round 0 is the model without pseudo-labels)."""

    models: list[Any]
    labels: list[np.ndarray] = field(default_factory=list)  # pseudo-labels added in each round
    rows: list[np.ndarray] = field(default_factory=list)  # the pool rows they label
    weights: list[np.ndarray] = field(default_factory=list)  # and their weights
    temperatures: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def _self_train_run(learner: Learner, rows: np.ndarray, y: np.ndarray, n_classes: int, config: SelfTrainConfig,
                    per_class: int, rounds: int, temperature: Callable[[int, Any], float],
                    keep_going: Callable[[int, Any], bool] = lambda r, m: True, base: Any = None) -> _Run:
    """Self-train from labelled `rows` for up to `rounds` rounds; `temperature(r, model)` calibrates the pool
    predictions of round r (made by the model of round r - 1); `keep_going(r, model)` may end the run after
    round r's model is fitted."""
    model = base if base is not None else learner.fit(rows, np.zeros(0, int), np.zeros(0, int), np.zeros(0))
    run = _Run([model])
    taken = np.zeros(learner.pool_size, dtype=bool)
    chosen, chosen_y, chosen_w = np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    fixed, quota = None, np.asarray(per_class)  # fixed: label distributions made once
    if config.self_train_method == "propagate":  # one spreading from the labelled rows; rounds take more of it
        fixed = spread_labels(learner.features("train")[rows], y[rows], learner.features("pool"), n_classes,
                              config.self_train_neighbours)
    elif config.self_train_method == "cluster":
        fixed = cluster_labels(learner.features("train")[rows], y[rows], learner.features("pool"), n_classes)
        if not per_class:  # a 1/rounds share of each class's rows per round (of the configured rounds, so a
            # rerun that stops earlier takes the same rows)
            counts = np.bincount(fixed.argmax(1)[fixed.sum(1) > 0], minlength=n_classes)
            quota = np.ceil(counts / config.self_train_rounds).astype(int)
    every = np.arange(learner.pool_size)
    for r in range(1, rounds + 1):
        started = time.perf_counter()
        t = 1.0
        if fixed is not None:
            proba = fixed
        else:
            t = temperature(r, model)
            proba = apply_temperature(learner.scores(model, "pool", every), t)
        new = select_balanced(proba, quota, taken, config.self_train_min_confidence)
        if len(new) == 0:
            break
        taken[new] = True
        chosen = np.concatenate([chosen, new])
        chosen_y = np.concatenate([chosen_y, proba[new].argmax(1)])
        chosen_w = np.concatenate([chosen_w, config.self_train_weight * proba[new].max(1)])
        model = learner.fit(rows, chosen, chosen_y, chosen_w)
        run.models.append(model)
        run.labels.append(proba[new].argmax(1))
        run.rows.append(new)
        run.weights.append(chosen_w[-len(new):])
        run.temperatures.append(float(t))
        run.seconds.append(time.perf_counter() - started)
        if not keep_going(r, model):
            break
    return run


def _better(score: tuple[float, float], best: tuple[float, float]) -> bool:
    """At least as good: higher accuracy, or the same accuracy and no higher log-loss."""
    return score[0] > best[0] or (score[0] == best[0] and score[1] <= best[1])


def _score(proba: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    return float((proba.argmax(1) == y).mean()), negative_log_likelihood(proba, y)


def check_self_trainable(strategy_cls: type, task: str, has_valid: bool, method: str, encoder: bool = False) -> None:
    """Refuse, before any fit, what self-training cannot do (task, weights, held-out check, method, encoder step)."""
    if task != CLASSIFICATION.name:
        raise ConfigError(expected("a single-label classification task for self-training", f"task '{task}'",
                                   "Drop --self-train (regression and multilabel pseudo-labels are not supported)."))
    if not getattr(strategy_cls, "needs_examples", True) or not getattr(strategy_cls, "row_weights", False):
        raise ConfigError(expected("a strategy that learns from weighted rows (probe, contrastive, finetune, ...)",
                                   f"'{strategy_cls.name}', which cannot weight pseudo-labelled rows below real ones",
                                   "Choose another strategy or drop --self-train."))
    if method in ("propagate", "cluster") and not over_embeddings(strategy_cls):
        raise ConfigError(expected(f"a strategy with embeddings and a head for --self-train-method {method} "
                                   "(probe, contrastive)", f"'{strategy_cls.name}'",
                                   "Use --self-train-method rounds (or auto)."))
    if encoder and not (over_embeddings(strategy_cls) and callable(getattr(strategy_cls, "retune_config", None))):
        raise ConfigError(expected("a strategy whose encoder self-training can re-tune (contrastive) for "
                                   "--self-train-encoder", f"'{strategy_cls.name}'",
                                   "Drop --self-train-encoder (its rounds already refit what it trains)."))
    if not has_valid and not over_embeddings(strategy_cls) and strategy_cls.cost is Cost.GRADIENT:
        raise ConfigError(expected(f"a validation split for self-training '{strategy_cls.name}' (every round is a "
                                   "full fine-tuning, too costly to cross-validate)", "none",
                                   "Pass --valid FILE (X_valid=...), or keep at least 20 labelled rows with "
                                   "--valid-fraction > 0."))


def over_embeddings(strategy_cls: type) -> bool:
    """True when self-training refits only the head over the strategy's embeddings."""
    return all(callable(getattr(strategy_cls, m, None)) for m in ("embeddings", "refit_head", "head_scores"))


def resolve_method(strategy_cls: type, method: str) -> str:
    """The method `auto` stands for: `cluster` for a strategy whose embeddings are tuned so that each class
    forms a cluster (`class_clustered_embeddings`: contrastive), else `rounds`. Over frozen embeddings (probe)
    the pool's clusters are topics, not classes, and `cluster` lost 4-12 points (docs/unlabelled-self-training.md)."""
    if method != "auto":
        return method
    clustered = over_embeddings(strategy_cls) and getattr(strategy_cls, "class_clustered_embeddings", False)
    return "cluster" if clustered else "rounds"


def self_train(strategy: Any, train: Target, valid: Target | None, pool: Sequence[str], config: SelfTrainConfig,
               seed: int, refit: Callable[..., Any]) -> tuple[Any, SelfTrainReport, CrossValidation | None]:
    """Self-train the fitted `strategy` with the pool texts; returns the model to keep (the original one when
    no round helped), the report, and, for the cross-validated check, the out-of-fold scores of the kept
    round (a held-out estimate of the procedure that made the returned model). `refit(target, config=None)`
    fits the strategy whole on a target (with `config`, else the first fit's): the rounds of a strategy
    without a head over embeddings, and the encoder step (`self_train_encoder`)."""
    start = time.perf_counter()
    cls = type(strategy)
    check_self_trainable(cls, train.task, valid is not None, config.self_train_method, config.self_train_encoder)
    method = resolve_method(cls, config.self_train_method)
    config = dataclasses.replace(config, self_train_method=method)
    pool = pool_texts(pool, train.texts, config.self_train_pool_limit, seed)
    n_classes = len(train.classes)
    counts = np.bincount(train.y, minlength=n_classes)
    per_class = config.self_train_per_class
    if not per_class and method != "cluster":  # cluster's 0: a 1/rounds share of each class's pool rows
        per_class = max(8, 4 * int(counts[counts > 0].min()))
    learner: Learner = (HeadLearner(strategy, train, pool, valid, seed) if over_embeddings(cls)
                        else StrategyLearner(refit, train, pool, valid))
    rows = np.arange(len(train.y))
    report = SelfTrainReport(method=method, learner=learner.name, check="", pool_rows=len(pool),
                             per_class=per_class, weight=config.self_train_weight)
    rounds = config.self_train_rounds
    verdict: list[bool] = []  # per round run: kept (True) or undone (False, and the run ended there)
    cv: CrossValidation | None = None
    if valid is not None:
        report.check = f"validation split ({len(valid.y)} rows)"
        every = np.arange(len(valid.y))
        scores = [_score(learner.scores(strategy, "valid", every), valid.y)]

        def keep_going(r: int, model: Any) -> bool:
            scores.append(_score(learner.scores(model, "valid", every), valid.y))
            verdict.append(_better(scores[-1], scores[-2]))  # every earlier round was kept: [-2] is the best
            return verdict[-1]

        run = _self_train_run(learner, rows, train.y, n_classes, config, per_class, rounds,
                              lambda r, m: fit_temperature(learner.scores(m, "valid", every), valid.y),
                              keep_going, base=strategy)
    else:
        splits = fold_splits(train.y, train.task, config.self_train_folds, seed)
        if not splits:
            labels = dict(zip(map(str, train.classes), counts.tolist()))
            raise DataError(expected("at least 2 labelled rows in every class for the cross-validated check of "
                                     "self-training", f"class counts {labels}",
                                     "Label more rows of the smallest classes, or pass a validation file."))
        report.check = f"{len(splits)}-fold cross-validation of the whole self-training on the labelled rows"
        oof = np.zeros((rounds + 1, len(train.y), n_classes), dtype=np.float64)
        reached = rounds
        for fold_train, fold_test in splits:
            fold = _self_train_run(learner, fold_train, train.y, n_classes, config, per_class, rounds,
                                   lambda r, m: 1.0)
            reached = min(reached, len(fold.models) - 1)
            for r, model in enumerate(fold.models):
                oof[r, fold_test] = learner.scores(model, "train", fold_test)
        scores = [_score(oof[r], train.y) for r in range(reached + 1)]
        temperatures = [fit_temperature(oof[r], train.y) for r in range(reached + 1)]
        for r in range(1, reached + 1):
            verdict.append(_better(scores[r], scores[r - 1]))
            if not verdict[-1]:
                break
        # the undone round is run once more on every row too, so the report can say what it would have added
        run = _self_train_run(learner, rows, train.y, n_classes, config, per_class, len(verdict),
                              lambda r, m: temperatures[r - 1], base=strategy)
        kept = verdict.count(True)
        cv = CrossValidation(oof[kept].astype(np.float32), len(splits),
                             f"self-training ({method}, {kept} round(s)) rerun per fold")
    report.baseline = {"accuracy": scores[0][0], "log_loss": scores[0][1]}
    report.kept_rounds = verdict.count(True)
    for r, ok in enumerate(verdict, start=1):
        report.rounds.append(RoundRecord(
            round=r, added_per_class=_per_class(run.labels[r - 1], train.classes),
            pseudo_rows=int(len(run.labels[r - 1])), accuracy=scores[r][0], log_loss=scores[r][1], kept=ok,
            temperature=run.temperatures[r - 1], seconds=run.seconds[r - 1]))
    if len(verdict) < rounds:
        report.notes.append(f"self-training stopped after round {len(verdict)}: " +
                            ("it hurt the held-out check" if verdict and not verdict[-1] else "no pool row left"))
    model = run.models[report.kept_rounds]
    if config.self_train_encoder and run.rows:
        retuned, report.encoder = _encoder_step(strategy, train, valid, pool, run, scores[report.kept_rounds], refit)
        if report.encoder.kept:
            model, cv = retuned, None  # the out-of-fold scores were of a head over the old encoder
            if valid is None:
                report.notes.append("self-training encoder step: no held-out estimate of the re-tuned model "
                                    "(pass --valid FILE to check it)")
    report.seconds = time.perf_counter() - start
    return model, report, cv


def _encoder_step(strategy: Any, train: Target, valid: Target | None, pool: list[str], run: _Run,
                  best: tuple[float, float], refit: Callable[..., Any]) -> tuple[Any, EncoderRecord]:
    """Refit the whole strategy (encoder included, from the pre-trained backbone) on the labelled rows plus the
    first round's pseudo-labelled rows, with `strategy.retune_config()`. Judged against `best` (the kept
    round's (accuracy, log-loss) on the held-out check) on the validation split; without one it is kept unchecked: the
    cross-validated check scores heads over an encoder that has seen every labelled row (held-out accuracy 1.0
    for contrastive in 14 of 15 benchmark fits), which cannot tell two encoders apart."""
    started = time.perf_counter()
    rows, labels, weights = run.rows[0], run.labels[0], run.weights[0]
    target = _joined(train, np.arange(len(train.y)), [pool[i] for i in rows], labels, weights)
    model = refit(target, strategy.retune_config())
    accuracy = log_loss = None
    if valid is not None:
        accuracy, log_loss = _score(np.asarray(model.predict_proba(valid.texts)), valid.y)
        check = f"validation split ({len(valid.y)} rows) against the kept round"
        kept = _better((accuracy, log_loss), best)
    else:
        check, kept = "unchecked: no validation split", True
    return model, EncoderRecord(pseudo_rows=int(len(rows)),
                                added_per_class=_per_class(labels, train.classes),
                                check=check, accuracy=accuracy, log_loss=log_loss, kept=kept,
                                seconds=time.perf_counter() - started)


def _per_class(labels: np.ndarray, classes: Sequence[Any]) -> dict[str, int]:
    """How many of `labels` (class indices) each class got, by class name."""
    return {str(c): int(n) for c, n in zip(classes, np.bincount(labels, minlength=len(classes)))}


def pool_texts(pool: Sequence[str], labelled: Sequence[str], limit: int, seed: int) -> list[str]:
    """Distinct pool texts that are not labelled texts, at most `limit` (a seeded sample, in pool order)."""
    seen = set(labelled)
    texts = [t for t in dict.fromkeys(str(t) for t in pool) if t not in seen and t.strip()]
    if not texts:
        raise DataError(expected("unlabelled texts in the pool", "none (empty, or every text is a labelled one)",
                                 "Pass rows nobody has labelled yet."))
    if limit and len(texts) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(texts), limit, replace=False))
        texts = [texts[i] for i in keep]
    return texts
