"""The strategy protocols and the one registry of strategies, classification and generation alike.

A strategy is any class that has the attributes and methods of `Strategy` (texts to scores, for
`TextClassifier`) or of `GenerationStrategy` (builds the model `Seq2SeqModel` trains), and registers itself
with `@register` in its own module. It declares its traits (tasks, pre-trained or baseline, cost class,
whether it needs examples, and by having `torch_module` whether it exports), so commands ask the strategy
instead of keeping lists of names. Adding a strategy means adding one module to this folder:
`strategies/__init__.py` imports every module in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, Protocol, Sequence, runtime_checkable

import numpy as np

from ..backbones import BackboneRef
from ..errors import ConfigError, expected
from ..targets import Target
from ..tasks import CLASSIFIER_TASK_NAMES, GENERATION_TASK_NAMES


@dataclass
class FitReport:
    """What a fit did: numbers the user sees and the metadata file keeps."""

    fit_seconds: float = 0.0
    trainable_parameters: int = 0
    total_parameters: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Cost(Enum):
    """A strategy's cost class: relative work per training example, for ordering and budgeting a grid."""

    FEATURES = 1.0  # no network: counting words (tf-idf)
    FROZEN = 20.0  # one forward pass per text through a frozen encoder, embeddings cached
    GRADIENT = 200.0  # gradient training through the network


@dataclass
class TorchExport:
    """What `export --onnx` traces: `module(input_ids, attention_mask)` returns what `predict_proba` returns,
    for texts tokenised by `tokenizer` up to `max_length` tokens."""

    module: Any
    tokenizer: Any
    max_length: int


class StrategyTraits(Protocol):
    """What every strategy declares. `register` fills the traits marked (default) when a class omits them."""

    name: ClassVar[str]
    tasks: ClassVar[tuple[str, ...]]
    config_cls: ClassVar[type]
    cost: ClassVar[Cost]
    needs_backbone: ClassVar[bool]  # (default True) False: no pre-trained model is read at all
    pretrained: ClassVar[bool]  # (default True) False: a from-scratch baseline that transfer is measured against
    needs_examples: ClassVar[bool]  # (default True) False: fits from the label names alone
    row_weights: ClassVar[bool]  # (default False) True: honours `Target.weight` (per-row weights, self-training)


@runtime_checkable
class Strategy(StrategyTraits, Protocol):
    """One way to transfer a backbone to a label task (`TextClassifier`).

    `predict_proba` returns probabilities (n, k) for classification and multilabel, and the
    predicted values (n,) for regression. A strategy that can also define `torch_module() -> TorchExport`
    exports to ONNX.
    """

    def fit(self, backbone: BackboneRef | None, train: Target, valid: Target | None, config: Any,
            seed: int) -> FitReport: ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...

    def save(self, folder: Path) -> None: ...

    @classmethod
    def load(cls, folder: Path, config: Any, task: str) -> "Strategy": ...

    def trainable_parameters(self) -> int: ...


@runtime_checkable
class GenerationStrategy(StrategyTraits, Protocol):
    """One way to start a text-to-text model (`Seq2SeqModel`): it builds the model, the estimator trains it
    (when `trains`), saves and generates."""

    trains: ClassVar[bool]

    def build_backend(self, ref: BackboneRef, config: Any) -> Any: ...


_REQUIRED = {Strategy: ("fit", "predict_proba", "save", "load", "trainable_parameters"),
             GenerationStrategy: ("trains", "build_backend")}
_DEFAULT_TRAITS = {"needs_backbone": True, "pretrained": True, "needs_examples": True, "row_weights": False}
_REGISTRY: dict[str, list[type]] = {}


def register(cls: type) -> type:
    """Class decorator: add a strategy under its `name` (two strategies may share a name for different tasks,
    as `lora` does for classification and generation)."""
    name = getattr(cls, "name", None)
    if not name or name != name.lower():
        raise ValueError(f"strategy {cls.__name__} needs a lowercase `name`")
    tasks = tuple(getattr(cls, "tasks", ()))
    if not tasks or not (set(tasks) <= set(CLASSIFIER_TASK_NAMES) or set(tasks) <= set(GENERATION_TASK_NAMES)):
        raise TypeError(f"strategy {cls.__name__} needs `tasks` among {CLASSIFIER_TASK_NAMES} or among {GENERATION_TASK_NAMES}")
    protocol = GenerationStrategy if set(tasks) <= set(GENERATION_TASK_NAMES) else Strategy
    missing = [m for m in ("config_cls", "cost", *_REQUIRED[protocol]) if not hasattr(cls, m)]
    if missing:
        raise TypeError(f"strategy {cls.__name__} lacks {missing}")
    for trait, default in _DEFAULT_TRAITS.items():
        if trait not in vars(cls):
            setattr(cls, trait, default)
    same_name = [c for c in _REGISTRY.get(name, []) if c is not cls]
    if any(set(c.tasks) & set(tasks) for c in same_name):
        raise ValueError(f"strategy name '{name}' is registered twice for the same task")
    _REGISTRY[name] = [*same_name, cls]
    return cls


def get_strategy(name: str, task: str | None = None) -> type:
    """The strategy registered as `name` for `task`; without a task, the one for the label tasks (what
    `TextClassifier` fits)."""
    wanted = (task,) if task else CLASSIFIER_TASK_NAMES
    found = [c for c in _REGISTRY.get(name, []) if set(c.tasks) & set(wanted)]
    if not found:
        kind = "generation strategy" if task in GENERATION_TASK_NAMES else "strategy"
        raise ConfigError(expected(f"a {kind} among {', '.join(strategy_names(task))}", repr(name),
                                   "Run `headstart fit --help` to see them."))
    return found[0]


def registered() -> list[type]:
    """Every registered strategy class, classification and generation, sorted by name then tasks."""
    return sorted((c for classes in _REGISTRY.values() for c in classes), key=lambda c: (c.name, c.tasks))


def strategy_names(task: str | None = None) -> list[str]:
    """Names of the strategies for `task`; without a task, those of the label tasks."""
    wanted = (task,) if task else CLASSIFIER_TASK_NAMES
    return sorted({c.name for c in registered() if set(c.tasks) & set(wanted)})


def exports_torch(strategy_cls: type) -> bool:
    """True when the strategy hands `export --onnx` a torch module (`torch_module`)."""
    return callable(getattr(strategy_cls, "torch_module", None))
