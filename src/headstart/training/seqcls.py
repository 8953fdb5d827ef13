"""A transformer sequence classifier (model + tokenizer + task) shared by the gradient strategies.

`finetune`, `scratch-init` and the toolbox strategies hold one of these rather than inheriting from
each other: they differ only in how the model is built and which parameters train.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..backbones import BackboneRef, hf_folder, load_model, load_tokenizer
from ..seeding import pick_device
from ..strategies.registry import TorchExport
from ..targets import Target
from ..tasks import label_task
from .loop import predict_outputs


@dataclass
class SequenceClassifier:
    model: Any
    tokenizer: Any
    task: str
    max_length: int
    device: str = "cpu"

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return predict_outputs(self.model, self.tokenizer, texts, self.task, self.max_length, self.device, batch_size)

    def parameter_counts(self) -> tuple[int, int]:
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in self.model.parameters())
        return trainable, total

    def torch_module(self) -> TorchExport:
        """The model on the CPU as one module from (input_ids, attention_mask) to what `predict` returns
        (this classifier then predicts on the CPU too, where the graph is traced)."""
        import torch

        model, activate, self.device = self.model.to("cpu").eval(), label_task(self.task).activate, "cpu"

        class Scores(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask):
                return activate(self.model(input_ids=input_ids, attention_mask=attention_mask).logits.float())

        return TorchExport(Scores().eval(), self.tokenizer, self.max_length)

    def save(self, folder: Path) -> None:
        """Standard Hugging Face layout: loads with AutoModelForSequenceClassification alone."""
        self.model.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)


def label_kwargs(train: Target) -> dict[str, Any]:
    task = label_task(train.task)
    if not task.has_classes:
        return {"num_labels": 1, "problem_type": task.problem_type}
    return {"num_labels": len(train.classes), "problem_type": task.problem_type,
            "id2label": dict(enumerate(train.classes)), "label2id": {c: i for i, c in enumerate(train.classes)}}


def pretrained_classifier(ref: BackboneRef, train: Target, max_length: int, device: str) -> SequenceClassifier:
    """The backbone's pre-trained weights with a freshly initialised classification head."""
    from transformers import AutoModelForSequenceClassification

    model = load_model(ref, AutoModelForSequenceClassification, **label_kwargs(train))
    return _with_tokenizer(model, ref, train, max_length, device)


def random_classifier(ref: BackboneRef, train: Target, max_length: int, device: str) -> SequenceClassifier:
    """The backbone's architecture and tokenizer, with every weight randomly initialised."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(hf_folder(ref), **label_kwargs(train))
    model = AutoModelForSequenceClassification.from_config(config)
    return _with_tokenizer(model, ref, train, max_length, device)


def start_classifier(backbone: BackboneRef | None, train: Target, config: Any,
                     build=pretrained_classifier) -> tuple[SequenceClassifier, float]:
    """What a gradient strategy's fit starts with: `build`'s classifier on the config's device, and the start
    time `run_training` reports the fit's seconds from (taken before the model loads)."""
    assert backbone is not None
    start = time.perf_counter()
    return build(backbone, train, config.max_length, pick_device(config.device)), start


def load_classifier(folder: Path, task: str, max_length: int, device: str) -> SequenceClassifier:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True).to(device).eval()
    return SequenceClassifier(model, AutoTokenizer.from_pretrained(folder), task, max_length, device)


def _with_tokenizer(model, ref: BackboneRef, train: Target, max_length: int,
                    device: str) -> SequenceClassifier:
    """Decoder tokenizers often lack a pad token; reuse end-of-sequence so batches can be padded."""
    tokenizer = load_tokenizer(ref)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return SequenceClassifier(model, tokenizer, train.task, max_length, device)


def classifier_backed(cls: type) -> type:
    """Give a strategy whose fitted state is `self.classifier_` (a SequenceClassifier) the protocol methods
    that only delegate to it: predict_proba, trainable_parameters, save, load and torch_module (so every
    strategy that wraps a sequence classifier exports to ONNX).

    Strategies then write just their `fit` (how the model is built and which parameters train); a method the
    class defines itself is kept (`__init__` included: the default one starts unfitted). Apply below `@register`.
    """

    def __init__(self) -> None:
        self.classifier_: SequenceClassifier | None = None

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        assert self.classifier_ is not None, "fit first"
        return self.classifier_.predict(texts)

    def trainable_parameters(self) -> int:
        return self.classifier_.parameter_counts()[0] if self.classifier_ else 0

    def save(self, folder: Path) -> None:
        assert self.classifier_ is not None
        self.classifier_.save(folder)

    def torch_module(self) -> TorchExport:
        assert self.classifier_ is not None, "fit first"
        return self.classifier_.torch_module()

    def load(strategy_cls, folder: Path, config: Any, task: str):
        obj = strategy_cls()
        obj.classifier_ = load_classifier(folder, task, config.max_length, pick_device(config.device))
        return obj

    for name, method in (("__init__", __init__), ("predict_proba", predict_proba), ("trainable_parameters", trainable_parameters),
                         ("save", save), ("load", classmethod(load)), ("torch_module", torch_module)):
        if name not in cls.__dict__:
            setattr(cls, name, method)
    return cls
