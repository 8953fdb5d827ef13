"""`Seq2SeqModel`: translation and summarization with the scikit-learn shape of `TextClassifier`.

`__init__` only stores arguments; checks happen in `fit`; fitted state ends in `_`. One interface over
decoder-only LMs, encoder-decoder checkpoints, encoders warm-started as encoder-decoders, and the
baselines (zero-shot prompting, a small transformer trained from scratch).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator

from .. import params
from ..backbones import BackboneRef, backbone_record, resolve_backbone
from ..config import build_config
from ..errors import DataError, ModelError, expected
from ..model_folder import GENERATION_KIND, ModelFolder
from ..progress import progress_enabled
from ..seeding import pick_device, set_seed
from ..strategies import get_strategy
from ..tasks import TRANSLATE, generation_task
from .backends import Backend, count_parameters, finish_training, load_backend, save_backend
from .config import DEFAULT_GENERATION_BACKBONE, GenerationConfig
from .data import Pairs, pairs_from_lists
from .decoding import GenerationStats, generate
from .encoding import Prompter, source_inputs, training_examples
from .metrics import generation_metrics
from .trainer import train

# headstart.json fields that change outputs are sealed: covered by its recorded digest, so an edit is refused
# at load
GENERATION_FOLDER = ModelFolder(kind=GENERATION_KIND, format_version=1,
                                sealed_fields=("format_version", "kind", "task", "strategy", "architecture",
                                               "prompt", "backbone", "config", "files"),
                                libraries=("torch", "transformers"))


class Seq2SeqModel(params.EstimatorParams, BaseEstimator):
    """Learn to map source texts to target texts (translation, summarization) from a pre-trained model.

    Parameters
    ----------
    task: 'translate' or 'summarize' (chooses the default prompt and the metrics).
    backbone: a decoder-only LM (default SmolLM2-135M-Instruct), an encoder-decoder folder (T5/BART/Marian),
        or an encoder (warm-started as an encoder-decoder).
    strategy: a generation strategy (`strategies/seq2seq.py`): full fine-tuning, lora, zero-shot (prompting
        only) or scratch (random-init baseline).
    seed: seeds initialisation, batching and the validation split.
    **options: fields of `GenerationConfig` (epochs, lr, max_seconds, num_beams, prompt_template, ...).
    """

    def __init__(self, task: str = TRANSLATE.name, backbone: str = DEFAULT_GENERATION_BACKBONE,
                 strategy: str = TRANSLATE.default_strategy, seed: int = 0, progress: bool = True,
                 **options: Any) -> None:
        self.task = task
        self.backbone = backbone
        self.strategy = strategy
        self.seed = seed
        self.progress = progress
        self._options = options

    # -- scikit-learn protocol (get_params, set_params, repr, tags: params.EstimatorParams) ----------
    # texts in, texts out: tagged neither classifier nor regressor, so cross-validation uses plain KFold
    kind = GENERATION_KIND
    _PARAM_NAMES = ("task", "backbone", "strategy", "seed", "progress")
    _REPR_NAMES = ("task", "backbone", "strategy")
    _FITTED_ATTRIBUTE = "backend_"

    # -- fitting -----------------------------------------------------------------------------------
    def fit(self, sources: Sequence[str] | Pairs, targets: Sequence[str] | None = None,
            sources_valid: Sequence[str] | Pairs | None = None,
            targets_valid: Sequence[str] | None = None) -> "Seq2SeqModel":
        """Train on parallel texts (zero-shot only loads the model). Validation drives early stopping."""
        generation_task(self.task)  # a ConfigError naming the generation tasks otherwise
        strategy = get_strategy(self.strategy, self.task)()
        config = build_config(GenerationConfig, self.options)
        train_pairs = sources if isinstance(sources, Pairs) else pairs_from_lists(sources, targets)
        if train_pairs.targets is None:
            raise ModelError(expected("training targets", "none", "Pass the target texts."))
        train_pairs, valid_pairs = self._validation(train_pairs, sources_valid, targets_valid, config,
                                                    strategy.trains)
        set_seed(self.seed)
        self.config_ = config
        self.device_ = pick_device(config.device)
        self.backbone_: BackboneRef = resolve_backbone(self.backbone)
        # name, path and fingerprint find the base of a saved adapter again
        self.backbone_record_ = {**backbone_record(self.backbone_), "source": self.backbone_.source,
                                 "kind": self.backbone_.kind}
        started = time.perf_counter()
        with progress_enabled(self.progress):
            backend = strategy.build_backend(self.backbone_, config)
            self.prompter_ = Prompter.for_backend(backend, self.task, config)
            trainable, total = count_parameters(backend.model)
            result: dict[str, Any] = {"train_seconds": 0.0, "steps": 0, "train_tokens": 0, "best": {}, "history": [],
                                      "stopped_early": False, "out_of_time": False, "loss": ""}  # zero-shot
            if strategy.trains:
                train_ex = training_examples(backend, self.prompter_, train_pairs.sources, train_pairs.targets, config)
                valid_ex = (training_examples(backend, self.prompter_, valid_pairs.sources, valid_pairs.targets, config)
                            if valid_pairs is not None else None)
                result = train(backend.model, train_ex, valid_ex, config, backend.tokenizer.pad_token_id,
                               self.seed, self.device_)
            else:
                trainable = 0
        self.backend_: Backend = finish_training(backend)
        self.fit_report_ = {"fit_seconds": time.perf_counter() - started, "trainable_parameters": trainable,
                            "total_parameters": total, **result}
        self.data_ = {"source": train_pairs.source, "fingerprint": train_pairs.fingerprint(),
                      "n_train": len(train_pairs), "n_valid": len(valid_pairs) if valid_pairs is not None else 0}
        return self

    def _validation(self, train_pairs: Pairs, sources_valid: Any, targets_valid: Any, config: GenerationConfig,
                    trains: bool) -> tuple[Pairs, Pairs | None]:
        """(training pairs, validation pairs): the ones given, else a seeded `valid_fraction` of the training
        pairs (from 20 on, for strategies that train), else none."""
        if sources_valid is not None:
            return train_pairs, (sources_valid if isinstance(sources_valid, Pairs)
                                 else pairs_from_lists(sources_valid, targets_valid))
        if not trains or config.valid_fraction <= 0 or len(train_pairs) < 20:
            return train_pairs, None
        order = np.random.default_rng(self.seed).permutation(len(train_pairs))
        n_valid = max(1, int(round(config.valid_fraction * len(train_pairs))))
        pick = lambda idx: Pairs([train_pairs.sources[i] for i in idx],  # noqa: E731
                                 [train_pairs.targets[i] for i in idx], train_pairs.source)
        return pick(order[n_valid:]), pick(order[:n_valid])

    # -- prediction --------------------------------------------------------------------------------
    def predict(self, sources: Sequence[str] | Pairs, **decoding: Any) -> list[str]:
        """Generated targets, one per source. `decoding` overrides num_beams, max_new_tokens, ... for this call."""
        return self.generate(sources, **decoding)[0]

    def generate(self, sources: Sequence[str] | Pairs, **decoding: Any) -> tuple[list[str], GenerationStats]:
        """Outputs plus speed figures (generated tokens, seconds)."""
        self._check_fitted()
        pairs = sources if isinstance(sources, Pairs) else pairs_from_lists(sources, require_targets=False)
        config = dataclasses.replace(self.config_, **decoding) if decoding else self.config_
        with progress_enabled(self.progress):
            inputs = source_inputs(self.backend_, self.prompter_, pairs.sources, config.max_source_length)
            return generate(self.backend_, inputs, config, self.device_)

    def score(self, sources: Sequence[str], targets: Sequence[str]) -> float:
        """BLEU (translate) or ROUGE-L (summarize), on a 0-100 scale."""
        return float(self.evaluate(sources, targets)[generation_task(self.task_).primary_metric])

    def evaluate(self, sources: Sequence[str] | Pairs, targets: Sequence[str] | None = None,
                 return_outputs: bool = False, **decoding: Any) -> dict[str, Any]:
        """All metrics of the task plus generation speed; `return_outputs` adds the generated texts."""
        pairs = sources if isinstance(sources, Pairs) else pairs_from_lists(sources, targets)
        if pairs.targets is None:
            raise DataError(expected("reference targets to score against", f"none in {pairs.source}",
                                     "Name the target column (--target-col)."))
        outputs, stats = self.generate(pairs, **decoding)
        metrics = generation_metrics(self.task_, outputs, pairs.targets or [])
        metrics.update({"generated_tokens": stats.generated_tokens, "generation_seconds": round(stats.seconds, 3),
                        "tokens_per_second": round(stats.tokens_per_second, 2)})
        if return_outputs:
            metrics["outputs"] = outputs
        return metrics

    @property
    def task_(self) -> str:
        return self.task

    # -- persistence -------------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        self._check_fitted()
        return GENERATION_FOLDER.metadata({
            "task": self.task, "strategy": self.strategy,
            "seed": self.seed, "architecture": self.backend_.architecture,
            "prompt": dataclasses.asdict(self.prompter_),
            "backbone": self.backbone_record_,
            "config": dataclasses.asdict(self.config_), "fit": self.fit_report_, "data": self.data_})

    def save(self, folder: str | Path) -> Path:
        """Write atomically: model/ (a Hugging Face folder) or, for lora, adapter/ (unless `merge`), plus
        headstart.json with file hashes."""
        return GENERATION_FOLDER.save(folder, self.metadata(),
                                      lambda tmp: save_backend(self.backend_, tmp, merge=self.config_.merge))

    @classmethod
    def load(cls, folder: str | Path, verify: bool = True, device: str | None = None) -> "Seq2SeqModel":
        folder = Path(folder)
        meta = GENERATION_FOLDER.load(folder, verify)
        obj = cls(task=meta["task"], backbone=(meta.get("backbone") or {}).get("name", ""),
                  strategy=meta["strategy"], seed=meta.get("seed", 0), **meta.get("config", {}))
        obj.config_ = build_config(GenerationConfig, meta.get("config", {}))
        obj.device_ = pick_device(device or obj.config_.device)
        obj.backend_ = load_backend(folder, meta["architecture"], meta.get("backbone"))
        obj.prompter_ = Prompter(**meta["prompt"])
        obj.backbone_, obj.backbone_record_ = None, meta.get("backbone")
        obj.fit_report_, obj.data_, obj.metadata_ = meta.get("fit", {}), meta.get("data", {}), meta
        return obj

