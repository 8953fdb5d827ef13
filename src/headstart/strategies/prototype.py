"""`prototype`: nearest class prototype (prototypical networks) over the frozen encoder.

Each class is the normalised mean of its support embeddings; a text's class probabilities are a softmax
of cosine similarities divided by a temperature fitted on the support set (leave-one-out NLL). Works
with one example per class, and `add_class` adds a class without touching the others.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from ..backbones import BackboneRef, load_model, load_tokenizer, resolve_backbone
from ..config import MIN_TOKENS, Options, opt
from ..embeddings import embed
from ..errors import DataError, expected
from ..evaluation.crossval import CV_HELP, CrossValidation, out_of_fold
from ..numeric import softmax
from ..runtime import RUNTIME_HELP, RuntimeName, load_record, save_record, strategy_runtime
from ..seeding import pick_device
from ..tasks import CLASSIFICATION
from .registry import Cost, FitReport, Target, register


@dataclass
class PrototypeConfig(Options):
    temperature: float = opt(0.0, "softmax temperature over cosine similarities; 0 fits it on the support set "
                                  "(leave-one-out), falling back to default_temperature with one example per class",
                                  min=0)
    default_temperature: float = opt(0.05, "temperature used when it cannot be fitted", gt=0)
    max_length: int = opt(256, "tokens embedded per text", min=MIN_TOKENS)
    batch_size: int = opt(64, "texts embedded per forward pass", min=1)
    cache: bool = opt(True, "reuse embeddings cached on disk")
    device: str = opt("auto", "'auto', 'cpu' or 'cuda' for embedding")
    cv_folds: int = opt(5, CV_HELP.replace("fits of the head", "prototype builds"), min=2, off=0)
    runtime: RuntimeName = opt("auto", RUNTIME_HELP)


def prototypes(x: np.ndarray, y: np.ndarray, n_classes: int, weight: np.ndarray | None = None) -> np.ndarray:
    """Normalised class means (n_classes, d), weighted by `weight` (n,) when given."""
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float)
    protos = np.stack([np.average(x[y == c], axis=0, weights=w[y == c]) for c in range(n_classes)])
    return protos / np.clip(np.linalg.norm(protos, axis=1, keepdims=True), 1e-12, None)


def leave_one_out_similarities(x: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities of each support example to every prototype, its own class's prototype rebuilt
    without it; only examples whose class has another example are returned."""
    sums = np.stack([x[y == c].sum(0) for c in range(n_classes)])
    counts = np.bincount(y, minlength=n_classes)
    keep = np.flatnonzero(counts[y] >= 2)
    sims = np.zeros((len(keep), n_classes))
    for row, i in enumerate(keep):
        protos = sums.copy()
        protos[y[i]] -= x[i]
        protos /= np.clip(np.linalg.norm(protos, axis=1, keepdims=True), 1e-12, None)
        sims[row] = protos @ x[i]
    return sims, y[keep]


def fit_temperature(sims: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the NLL of softmax(sims / T), searched on a log grid then refined."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        p = softmax(sims / np.exp(log_t))
        return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())

    result = minimize_scalar(nll, bounds=(np.log(1e-3), np.log(10.0)), method="bounded")
    return float(np.exp(result.x))


@register
class Prototype:
    name: ClassVar[str] = "prototype"
    config_cls: ClassVar[type] = PrototypeConfig
    tasks: ClassVar[tuple[str, ...]] = (CLASSIFICATION.name,)
    cost: ClassVar[Cost] = Cost.FROZEN
    row_weights: ClassVar[bool] = True  # weighted class means; the temperature is fitted on every row alike

    def __init__(self) -> None:
        self.backbone_: BackboneRef | None = None
        self.prototypes_: np.ndarray | None = None
        self.temperature_ = 0.05
        self.config_ = PrototypeConfig()
        self.cv_: CrossValidation | None = None  # out-of-fold scores of the last fit (not saved)
        self.runtime_: str | None = None  # the embedding runtime fitted with (saved in runtime.json)

    def fit(self, backbone: BackboneRef | None, train: Target, valid: Target | None, config: PrototypeConfig,
            seed: int) -> FitReport:
        assert backbone is not None
        start = time.perf_counter()
        self.backbone_, self.config_ = backbone, config
        self.runtime_ = strategy_runtime(backbone, config)
        x = self._embed(train.texts)
        k = len(train.classes)
        self.prototypes_ = prototypes(x, train.y, k, train.weight)
        notes = [f"embedding runtime {self.runtime_}"]
        if config.temperature > 0:
            self.temperature_ = config.temperature
        else:
            sims, y = leave_one_out_similarities(x, train.y, k)
            if len(y) == 0:
                self.temperature_ = config.default_temperature
                notes.append(f"one example per class: default temperature {config.default_temperature}")
            else:
                self.temperature_ = fit_temperature(sims, y)
                notes.append(f"temperature {self.temperature_:.4f} fitted on {len(y)} leave-one-out examples")
        self.cv_ = out_of_fold(lambda fold_train, fold_test: softmax(
            x[fold_test] @ prototypes(x[fold_train], train.y[fold_train], k, train.weights()[fold_train]).T
            / self.temperature_),
            train.y, train.task, config.cv_folds, seed, "prototypes rebuilt per fold"
        ) if valid is None and config.cv_folds else None
        return FitReport(fit_seconds=time.perf_counter() - start, trainable_parameters=self.trainable_parameters(),
                         total_parameters=self.trainable_parameters(), notes=notes)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        assert self.backbone_ is not None
        c = self.config_
        return embed(self.backbone_, texts, batch_size=c.batch_size, max_length=c.max_length, cache=c.cache,
                     device=pick_device(c.device), progress=False,
                     runtime=strategy_runtime(self.backbone_, c, self.runtime_))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        assert self.prototypes_ is not None, "fit first"
        return softmax(self._embed(texts) @ self.prototypes_.T / self.temperature_).astype(np.float32)

    def add_class(self, name: str, texts: Sequence[str]) -> None:
        """Append a prototype for a new class (the last column of predict_proba); nothing else changes."""
        assert self.prototypes_ is not None, "fit first"
        if not texts:
            raise DataError(expected(f"at least one example text for class '{name}'", "none", "Pass example texts."))
        x = self._embed(list(texts))
        proto = x.mean(0)
        proto /= max(float(np.linalg.norm(proto)), 1e-12)
        self.prototypes_ = np.vstack([self.prototypes_, proto[None, :]]).astype(np.float32)

    def trainable_parameters(self) -> int:
        # the prototypes and the temperature are what the support set determines
        return 0 if self.prototypes_ is None else int(self.prototypes_.size) + 1

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        assert self.backbone_ is not None and self.prototypes_ is not None
        load_model(self.backbone_).save_pretrained(folder, safe_serialization=True)
        load_tokenizer(self.backbone_).save_pretrained(folder)
        save_file({"prototypes": np.ascontiguousarray(self.prototypes_, dtype=np.float32)},
                  str(folder / "prototypes.safetensors"))
        (folder / "prototype.json").write_text(json.dumps({"temperature": self.temperature_}) + "\n")
        save_record(folder, self.config_.runtime, self.runtime_ or "torch")

    @classmethod
    def load(cls, folder: Path, config: PrototypeConfig, task: str) -> "Prototype":
        from safetensors.numpy import load_file

        obj = cls()
        obj.config_ = config
        obj.backbone_ = resolve_backbone(folder)
        obj.prototypes_ = load_file(str(folder / "prototypes.safetensors"))["prototypes"]
        obj.temperature_ = float(json.loads((folder / "prototype.json").read_text())["temperature"])
        obj.runtime_ = load_record(folder)
        return obj
