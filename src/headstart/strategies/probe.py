"""`probe`: feature extraction. The backbone stays frozen; a head is fitted on cached embeddings."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, Sequence

import numpy as np

from ..backbones import BackboneRef, load_model, load_tokenizer, resolve_backbone
from ..config import MIN_TOKENS, Options, opt
from ..embeddings import embed
from ..evaluation.crossval import CV_HELP, CrossValidation, out_of_fold
from ..heads import DenseHead, fit_head
from ..runtime import RUNTIME_HELP, RuntimeName, load_record, save_record, strategy_runtime
from ..seeding import pick_device
from ..tasks import CLASSIFIER_TASK_NAMES
from .registry import Cost, FitReport, Target, TorchExport, register


@dataclass
class ProbeConfig(Options):
    head: Literal["logistic", "mlp"] = opt("logistic", "head on the frozen embeddings: logistic regression or an MLP")
    C: float = opt(1.0, "inverse regularisation strength of the head (larger fits the training data closer)",
                      gt=0)
    hidden: int = opt(256, "hidden units of the MLP head", min=1)
    max_length: int = opt(256, "tokens embedded per text", min=MIN_TOKENS)
    batch_size: int = opt(64, "texts embedded per forward pass", min=1)
    class_weight: Literal["none", "balanced"] = opt("none", "'balanced' weights classes by inverse frequency")
    cache: bool = opt(True, "reuse embeddings cached on disk (keyed by backbone, runtime and text)")
    device: str = opt("auto", "'auto', 'cpu' or 'cuda' for embedding")
    cv_folds: int = opt(5, CV_HELP, min=2, off=0)
    runtime: RuntimeName = opt("auto", RUNTIME_HELP)


@register
class Probe:
    name: ClassVar[str] = "probe"
    config_cls: ClassVar[type] = ProbeConfig
    tasks: ClassVar[tuple[str, ...]] = CLASSIFIER_TASK_NAMES
    cost: ClassVar[Cost] = Cost.FROZEN
    row_weights: ClassVar[bool] = True

    def __init__(self) -> None:
        self.backbone_: BackboneRef | None = None
        self.head_: DenseHead | None = None
        self.config_: ProbeConfig = ProbeConfig()
        self.cv_: CrossValidation | None = None  # out-of-fold scores of the last fit (not saved)
        self.runtime_: str | None = None  # the embedding runtime fitted with (saved in runtime.json)

    def fit(self, backbone: BackboneRef | None, train: Target, valid: Target | None, config: ProbeConfig,
            seed: int) -> FitReport:
        assert backbone is not None
        start = time.perf_counter()
        self.backbone_, self.config_ = backbone, config
        self.runtime_ = strategy_runtime(backbone, config)
        x = self._embed(train.texts, progress=None)
        def fit(rows: np.ndarray) -> DenseHead:
            return fit_head(x[rows], train.y[rows], train.task, config.head, config.C, config.hidden,
                            config.class_weight, seed, sample_weight=train.weights()[rows])

        self.head_ = fit(np.arange(len(x)))
        # The backbone is frozen, so refitting only the head per fold gives a genuinely held-out estimate.
        self.cv_ = out_of_fold(lambda fold_train, fold_test: fit(fold_train).scores(x[fold_test]), train.y,
                               train.task, config.cv_folds, seed, "the head refitted per fold on frozen embeddings"
                               ) if valid is None and config.cv_folds else None
        return FitReport(fit_seconds=time.perf_counter() - start, trainable_parameters=self.trainable_parameters(),
                         total_parameters=self.trainable_parameters(), notes=[f"embedding runtime {self.runtime_}"])

    def _embed(self, texts: Sequence[str], progress: bool | None = False) -> np.ndarray:
        assert self.backbone_ is not None
        c = self.config_
        return embed(self.backbone_, texts, batch_size=c.batch_size, max_length=c.max_length, cache=c.cache,
                     device=pick_device(c.device), progress=progress,
                     runtime=strategy_runtime(self.backbone_, c, self.runtime_))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        assert self.head_ is not None, "fit first"
        return self.head_.scores(self._embed(texts))

    def embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """The frozen features the head sees (used by audits, calibration and self-training)."""
        return self._embed(texts)

    def refit_head(self, x: np.ndarray, train: Target, seed: int) -> None:
        """Refit only the head on features `x` of `train`'s rows (weighted), as `fit` would: self-training over
        embeddings (`headstart.unlabelled.self_train`) changes the rows, not the frozen encoder."""
        c = self.config_
        self.head_ = fit_head(x, train.y, train.task, c.head, c.C, c.hidden, c.class_weight, seed,
                              sample_weight=train.weights())

    def head_scores(self, x: np.ndarray) -> np.ndarray:
        """The head's scores of features `x` (what `predict_proba` returns for the texts they embed)."""
        assert self.head_ is not None, "fit first"
        return self.head_.scores(x)

    def torch_module(self) -> TorchExport:
        """The frozen encoder, pooling and the head as one graph. The graph holds the PyTorch encoder, so from
        here on this object embeds with PyTorch too (an ONNX embedding runtime would differ in the last digits
        and fail the parity check against the graph)."""
        assert self.backbone_ is not None and self.head_ is not None, "fit first"
        self.config_, self.runtime_ = dataclasses.replace(self.config_, runtime="torch"), "torch"
        return TorchExport(self.head_.on_encoder(load_model(self.backbone_).eval()), load_tokenizer(self.backbone_),
                           self.config_.max_length)

    def trainable_parameters(self) -> int:
        return self.head_.n_parameters() if self.head_ is not None else 0

    def save(self, folder: Path) -> None:
        # The frozen backbone is saved too, so the folder is self-contained and loads with transformers.
        assert self.backbone_ is not None and self.head_ is not None
        load_model(self.backbone_).save_pretrained(folder, safe_serialization=True)
        load_tokenizer(self.backbone_).save_pretrained(folder)
        self.head_.save(folder / "head.safetensors")
        save_record(folder, self.config_.runtime, self.runtime_ or "torch")

    @classmethod
    def load(cls, folder: Path, config: ProbeConfig, task: str) -> "Probe":
        obj = cls()
        obj.config_ = config
        obj.backbone_ = resolve_backbone(folder)
        obj.head_ = DenseHead.load(folder / "head.safetensors")
        obj.runtime_ = load_record(folder)
        return obj
