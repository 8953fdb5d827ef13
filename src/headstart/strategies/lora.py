"""`lora`: low-rank adapters through peft (Hu et al., 2021); the backbone stays frozen.

Adapters go on every linear layer but the output by default (peft's 'all-linear'); 'auto' picks peft's
per-architecture table instead (query/value for BERT, q_proj/v_proj for llama-like decoders). The
classification head (and, with `train_pooler`, a BERT pooler) train fully via peft's `modules_to_save`,
so the saved adapter carries them and a reloaded model predicts exactly as before. A saved folder holds
the adapter, the tokenizer and `lora.json` naming the backbone (with its fingerprint, checked on load);
with `merge` it is instead a plain merged Hugging Face model.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..backbones import BackboneRef, backbone_record, find_recorded_backbone, load_model
from ..config import TrainConfig, opt
from ..errors import ConfigError, expected
from ..io import read_json, write_json
from ..seeding import pick_device
from ..tasks import CLASSIFIER_TASK_NAMES
from ..training.run import run_training
from ..training.seqcls import (SequenceClassifier, classifier_backed, label_kwargs, load_classifier,
                              start_classifier)
from .registry import Cost, FitReport, Target, TorchExport, register

LORA_FILE = "lora.json"


@dataclass
class LoraConfig(TrainConfig):
    # Adapters start at zero and have few parameters: a larger step size than full fine-tuning suits them.
    lr: float = opt(1e-3, "peak learning rate of AdamW", gt=0)
    rank: int = opt(8, "rank r of each low-rank update", min=1)
    alpha: float = opt(16.0, "scaling of the update (effective scale alpha / rank)", gt=0)
    dropout: float = opt(0.1, "dropout on the adapter's input", min=0, lt=1)
    # Every linear layer, not peft's query/value default: on sst2 (1 epoch) query/value reached 0.850 with
    # 222k trainable parameters (most of them the pooler), all-linear 0.862 with 339k (1.5% of the model).
    target_modules: str = opt("all-linear", "modules to adapt: 'all-linear' (every linear layer but the "
                                            "output), 'auto' (peft's default for the architecture, e.g. "
                                            "query,value for BERT, q_proj,v_proj for llama) or a comma-separated "
                                            "list of module names")
    train_pooler: bool = opt(False, "train the pooler of BERT-like models fully instead of adapting it "
                                    "(~150k more parameters for MiniLM)")
    merge: bool = opt(False, "save a plain merged model instead of adapter + head (larger, no peft needed)")


def target_modules_for(model, requested: str) -> list[str] | str:
    """The modules to adapt: the user's list, 'all-linear' (peft: every linear layer but the output), or
    peft's default for the model type."""
    if requested == "all-linear":
        return requested
    if requested and requested != "auto":
        return [m.strip() for m in requested.split(",") if m.strip()]
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

    model_type = getattr(model.config, "model_type", "")
    if model_type not in DEFAULTS:
        raise ConfigError(expected(f"a model type with known LoRA targets ({', '.join(sorted(DEFAULTS)[:8])} ...)",
                                   f"'{model_type}'", "Pass --target-modules, e.g. q_proj,v_proj."))
    return list(DEFAULTS[model_type])


def head_modules(model, train_pooler: bool) -> list[str]:
    """Modules that train fully and are saved with the adapter: the head, and optionally the pooler."""
    prefix = getattr(model, "base_model_prefix", "")
    names = [name for name, child in model.named_children()
             if name != prefix and any(True for _ in child.parameters())]
    base = getattr(model, prefix, None)
    if train_pooler and base is not None and getattr(base, "pooler", None) is not None:
        names.append("pooler")
    return names


def wrap_with_lora(model, config: LoraConfig):
    import peft

    lora = peft.LoraConfig(task_type=peft.TaskType.SEQ_CLS, r=config.rank, lora_alpha=config.alpha,
                           lora_dropout=config.dropout, target_modules=target_modules_for(model, config.target_modules),
                           modules_to_save=head_modules(model, config.train_pooler))
    try:
        return peft.get_peft_model(model, lora)
    except ValueError as exc:
        raise ConfigError(expected("target modules that exist in the model", str(exc).splitlines()[0],
                                   "Check --target-modules against the model's module names.")) from None


@register
@classifier_backed  # predict_proba, trainable_parameters; save, load and torch_module are its own
class Lora:
    name: ClassVar[str] = "lora"
    config_cls: ClassVar[type] = LoraConfig
    tasks: ClassVar[tuple[str, ...]] = CLASSIFIER_TASK_NAMES
    cost: ClassVar[Cost] = Cost.GRADIENT
    row_weights: ClassVar[bool] = True

    def __init__(self) -> None:
        self.classifier_: SequenceClassifier | None = None
        self.config_ = LoraConfig()
        self.base_: dict[str, Any] = {}

    def fit(self, backbone: BackboneRef | None, train: Target, valid: Target | None, config: LoraConfig,
            seed: int) -> FitReport:
        assert backbone is not None
        self.config_ = config
        classifier, start = start_classifier(backbone, train, config)
        classifier.model = wrap_with_lora(classifier.model, config)
        self.classifier_ = classifier
        self.base_ = {"backbone": backbone_record(backbone),
                      "labels": label_kwargs(train), "pad_token_id": classifier.tokenizer.pad_token_id}
        return run_training(classifier, train, valid, config, seed, start)

    def torch_module(self) -> TorchExport:
        """The adapters merged into a copy of the weights: one plain graph with the same outputs."""
        assert self.classifier_ is not None, "fit first"
        model = self.classifier_.model
        merged = copy.deepcopy(model).merge_and_unload() if hasattr(model, "merge_and_unload") else model
        return dataclasses.replace(self.classifier_, model=merged).torch_module()

    def save(self, folder: Path) -> None:
        assert self.classifier_ is not None
        model = self.classifier_.model
        if self.config_.merge and hasattr(model, "merge_and_unload"):
            # Merge a copy: the fitted object keeps its adapter and stays usable after saving.
            merged = copy.deepcopy(model).merge_and_unload()
            merged.save_pretrained(folder, safe_serialization=True)
        else:
            model.save_pretrained(folder, safe_serialization=True)
            write_json(folder / LORA_FILE, self.base_)
        self.classifier_.tokenizer.save_pretrained(folder)

    @classmethod
    def load(cls, folder: Path, config: LoraConfig, task: str) -> "Lora":
        from peft import PeftModel
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        obj = cls()
        obj.config_ = config
        device = pick_device(config.device)
        if not (folder / LORA_FILE).exists():  # saved with merge: a plain model
            obj.classifier_ = load_classifier(folder, task, config.max_length, device)
            return obj
        obj.base_ = read_json(folder / LORA_FILE)
        ref = find_recorded_backbone(obj.base_["backbone"])
        labels = dict(obj.base_["labels"])
        if "id2label" in labels:
            labels["id2label"] = {int(k): v for k, v in labels["id2label"].items()}
        base = load_model(ref, AutoModelForSequenceClassification, **labels)
        base.config.pad_token_id = obj.base_.get("pad_token_id")
        model = PeftModel.from_pretrained(base, folder).to(device).eval()
        obj.classifier_ = SequenceClassifier(model, AutoTokenizer.from_pretrained(folder), task, config.max_length,
                                             device)
        return obj
