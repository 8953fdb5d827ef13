"""The strategy protocol and the registry by name.

A strategy is any class that has the attributes and methods of `Strategy`; it registers itself
with `@register` in its own module. Adding a strategy means adding one module to this folder:
`strategies/__init__.py` imports every module in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Protocol, Sequence, runtime_checkable

import numpy as np

from ..backbones import BackboneRef
from ..errors import ConfigError, expected
from ..tasks import label_task


@dataclass
class Target:
    """Training targets, already encoded: what every strategy's `fit` receives.

    y: int class ids shape (n,) for classification, a 0/1 float matrix (n, k) for multilabel,
    floats (n,) for regression.
    """

    texts: list[str]
    y: np.ndarray
    task: str
    classes: list[str]

    @property
    def n_outputs(self) -> int:
        return label_task(self.task).n_outputs(self.classes)

    def subset(self, index: Sequence[int] | np.ndarray) -> "Target":
        idx = np.asarray(index, dtype=int)
        return Target([self.texts[i] for i in idx], self.y[idx], self.task, self.classes)


@dataclass
class FitReport:
    """What a fit did: numbers the user sees and the metadata file keeps."""

    fit_seconds: float = 0.0
    trainable_parameters: int = 0
    total_parameters: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@runtime_checkable
class Strategy(Protocol):
    """One way to transfer a backbone to a task.

    `predict_proba` returns probabilities (n, k) for classification and multilabel, and the
    predicted values (n,) for regression.
    """

    name: ClassVar[str]
    config_cls: ClassVar[type]
    needs_backbone: ClassVar[bool]
    tasks: ClassVar[tuple[str, ...]]

    def fit(self, backbone: BackboneRef | None, train: Target, valid: Target | None, config: Any,
            seed: int) -> FitReport: ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...

    def save(self, folder: Path) -> None: ...

    @classmethod
    def load(cls, folder: Path, config: Any, task: str) -> "Strategy": ...

    def trainable_parameters(self) -> int: ...


_REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: add a strategy under its `name`."""
    name = getattr(cls, "name", None)
    if not name or name != name.lower():
        raise ValueError(f"strategy {cls.__name__} needs a lowercase `name`")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"strategy name '{name}' is registered twice")
    missing = [m for m in ("fit", "predict_proba", "save", "load", "trainable_parameters", "config_cls")
               if not hasattr(cls, m)]
    if missing:
        raise TypeError(f"strategy {cls.__name__} lacks {missing}")
    _REGISTRY[name] = cls
    return cls


def get_strategy(name: str) -> type:
    if name not in _REGISTRY:
        raise ConfigError(expected(f"a strategy among {', '.join(sorted(_REGISTRY))}", repr(name),
                                   "Run `headstart fit --help` to see them."))
    return _REGISTRY[name]


def strategy_names() -> list[str]:
    return sorted(_REGISTRY)


def strategies_for(task: str) -> list[str]:
    return [n for n, cls in sorted(_REGISTRY.items()) if task in cls.tasks]


StrategyFactory = Callable[[], Strategy]
