"""`Seq2SeqModel`: translation and summarization with the scikit-learn shape of `TextClassifier`.

`__init__` only stores arguments; checks happen in `fit`; fitted state ends in `_`. One interface over
decoder-only LMs, encoder-decoder checkpoints, encoders warm-started as encoder-decoders, and the
baselines (zero-shot prompting, a small transformer trained from scratch).
"""

from __future__ import annotations

import dataclasses
import platform
import time
from pathlib import Path
from typing import Any, Sequence

from sklearn.base import BaseEstimator
from sklearn.utils import Tags

from .. import __version__, params
from ..backbones import BackboneRef, backbone_record, resolve_backbone
from ..config import build_config
from ..errors import DataError, ModelError, NotFittedModelError, expected
from ..io import METADATA_FILE, atomic_folder, folder_digest, read_json, seal_metadata, verify_metadata, write_json
from ..progress import progress_enabled
from ..seeding import pick_device, set_seed
from ..strategies import get_strategy
from ..tasks import TRANSLATE, generation_task, is_generation
from .backends import Backend, count_parameters, finish_training, load_backend, save_backend
from .config import DEFAULT_GENERATION_BACKBONE, GenerationConfig
from .data import Pairs, from_lists
from .decoding import GenerationStats, generate
from .encoding import Prompter, source_inputs, training_examples
from .metrics import generation_metrics
from .trainer import train

FORMAT_VERSION = 1
KIND = "generation"
# headstart.json fields that change outputs: covered by its recorded digest, so an edit is refused at load
SEALED_FIELDS = ("format_version", "kind", "task", "strategy", "architecture", "prompt", "backbone", "config",
                 "files")


class Seq2SeqModel(BaseEstimator):
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

    # -- scikit-learn protocol ---------------------------------------------------------------------
    _PARAM_NAMES = ("task", "backbone", "strategy", "seed", "progress")

    @property
    def options(self) -> dict[str, Any]:
        """The `GenerationConfig` options given as keywords (a copy: change them with `set_params`)."""
        return dict(self._options)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Named arguments and options, so `clone` and `GridSearchCV(param_grid={"epochs": ...})` see both."""
        return params.get_params(self, self._PARAM_NAMES)

    def set_params(self, **values: Any) -> "Seq2SeqModel":
        """Set named arguments or options (options are checked in `fit`)."""
        params.set_params(self, self._PARAM_NAMES, values)
        return self

    def __repr__(self) -> str:
        return params.params_repr(self, ("task", "backbone", "strategy"))

    def __sklearn_tags__(self) -> Tags:
        """Texts in, texts out: neither classifier nor regressor (cross-validation uses plain KFold)."""
        return params.text_tags(super().__sklearn_tags__())

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "backend_")

    # -- fitting -----------------------------------------------------------------------------------
    def fit(self, sources: Sequence[str] | Pairs, targets: Sequence[str] | None = None,
            sources_valid: Sequence[str] | Pairs | None = None,
            targets_valid: Sequence[str] | None = None) -> "Seq2SeqModel":
        """Train on parallel texts (zero-shot only loads the model). Validation drives early stopping."""
        generation_task(self.task)  # a ConfigError naming the generation tasks otherwise
        strategy = get_strategy(self.strategy, self.task)()
        config = build_config(GenerationConfig, self.options)
        train_pairs = sources if isinstance(sources, Pairs) else from_lists(sources, targets)
        if train_pairs.targets is None:
            raise ModelError(expected("training targets", "none", "Pass the target texts."))
        valid_pairs = self._validation(train_pairs, sources_valid, targets_valid, config, strategy.trains)
        if valid_pairs is not None and sources_valid is None:
            train_pairs, valid_pairs = valid_pairs
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
            result: dict[str, Any] = {"history": [], "steps": 0, "best": {}}
            if strategy.trains:
                train_ex = training_examples(backend, self.prompter_, train_pairs.sources, train_pairs.targets, config)
                valid_ex = (training_examples(backend, self.prompter_, valid_pairs.sources, valid_pairs.targets, config)
                            if valid_pairs is not None else None)
                result = train(backend.model, train_ex, valid_ex, config, backend.tokenizer.pad_token_id,
                               self.seed, self.device_)
            else:
                trainable = 0
        self.backend_: Backend = finish_training(backend)
        self.fit_report_ = {"fit_seconds": time.perf_counter() - started, "train_seconds": result.get("seconds", 0.0),
                            "trainable_parameters": trainable, "total_parameters": total,
                            "steps": result["steps"], "best": result["best"], "history": result["history"],
                            "stopped_early": result.get("stopped_early", False),
                            "out_of_time": result.get("out_of_time", False), "loss": result.get("loss", "")}
        self.data_ = {"source": train_pairs.source, "fingerprint": train_pairs.fingerprint(),
                      "n_train": len(train_pairs), "n_valid": len(valid_pairs) if valid_pairs is not None else 0}
        return self

    def _validation(self, train_pairs: Pairs, sources_valid: Any, targets_valid: Any, config: GenerationConfig,
                    trains: bool):
        if sources_valid is not None:
            return sources_valid if isinstance(sources_valid, Pairs) else from_lists(sources_valid, targets_valid)
        if not trains or config.valid_fraction <= 0 or len(train_pairs) < 20:
            return None
        import numpy as np

        order = np.random.default_rng(self.seed).permutation(len(train_pairs))
        n_valid = max(1, int(round(config.valid_fraction * len(train_pairs))))
        pick = lambda idx: Pairs([train_pairs.sources[i] for i in idx],  # noqa: E731
                                 [train_pairs.targets[i] for i in idx], train_pairs.source)
        return pick(order[n_valid:]), pick(order[:n_valid])

    # -- prediction --------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedModelError(expected("a fitted Seq2SeqModel", "an unfitted one",
                                               "Call fit() or load() first."))

    def predict(self, sources: Sequence[str] | Pairs, **decoding: Any) -> list[str]:
        """Generated targets, one per source. `decoding` overrides num_beams, max_new_tokens, ... for this call."""
        return self.generate(sources, **decoding)[0]

    def generate(self, sources: Sequence[str] | Pairs, **decoding: Any) -> tuple[list[str], GenerationStats]:
        """Outputs plus speed figures (generated tokens, seconds)."""
        self._check_fitted()
        pairs = sources if isinstance(sources, Pairs) else from_lists(sources, require_targets=False)
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
        pairs = sources if isinstance(sources, Pairs) else from_lists(sources, targets)
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
        import torch
        import transformers

        return {
            "format_version": FORMAT_VERSION, "kind": KIND, "task": self.task, "strategy": self.strategy,
            "seed": self.seed, "architecture": self.backend_.architecture,
            "prompt": dataclasses.asdict(self.prompter_),
            "backbone": self.backbone_record_,
            "config": dataclasses.asdict(self.config_), "fit": self.fit_report_, "data": self.data_,
            "versions": {"headstart": __version__, "python": platform.python_version(), "torch": torch.__version__,
                         "transformers": transformers.__version__},
        }

    def save(self, folder: str | Path) -> Path:
        """Write atomically: model/ (a Hugging Face folder) or, for lora, adapter/ (unless `merge`), plus
        headstart.json with file hashes."""
        folder = Path(folder)
        meta = self.metadata()
        with atomic_folder(folder, kind="model") as tmp:
            save_backend(self.backend_, tmp, merge=self.config_.merge)
            meta["files"] = folder_digest(tmp)
            write_json(tmp / METADATA_FILE, seal_metadata(meta, SEALED_FIELDS))
        return folder

    @classmethod
    def load(cls, folder: str | Path, verify: bool = True, device: str | None = None) -> "Seq2SeqModel":
        folder = Path(folder)
        meta = read_metadata(folder)
        if meta.get("kind") != KIND:
            raise ModelError(expected("a generation model folder", f"a '{meta.get('task')}' model at {folder}",
                                      "Load it with TextClassifier.load, or pass a folder fitted with --task "
                                      "translate/summarize."))
        if verify:
            verify_metadata(meta, SEALED_FIELDS, folder / METADATA_FILE)
        if verify and "files" in meta:
            actual = folder_digest(folder)
            changed = sorted(k for k, v in meta["files"].items() if actual.get(k) != v)
            if changed:
                raise ModelError(expected("model files matching the hashes in headstart.json",
                                          f"changed or missing: {', '.join(changed[:8])}",
                                          "The folder was modified or partly copied; copy it again or retrain."))
        obj = cls(task=meta["task"], backbone=(meta.get("backbone") or {}).get("name", ""),
                  strategy=meta["strategy"], seed=meta.get("seed", 0), **meta.get("config", {}))
        obj.config_ = build_config(GenerationConfig, meta.get("config", {}))
        obj.device_ = pick_device(device or obj.config_.device)
        obj.backend_ = load_backend(folder, meta["architecture"], meta.get("backbone"))
        obj.prompter_ = Prompter(**meta["prompt"])
        obj.backbone_, obj.backbone_record_ = None, meta.get("backbone")
        obj.fit_report_, obj.data_, obj.metadata_ = meta.get("fit", {}), meta.get("data", {}), meta
        return obj


def read_metadata(folder: Path) -> dict[str, Any]:
    meta_path = folder / METADATA_FILE
    if not meta_path.exists():
        raise ModelError(expected(f"a headstart model folder with {METADATA_FILE}",
                                  f"{'no folder' if not folder.exists() else 'a folder without it'} at {folder}",
                                  "Pass the -o folder of `headstart fit`."))
    meta = read_json(meta_path)
    if meta.get("format_version", 0) > FORMAT_VERSION and meta.get("kind") == KIND:
        raise ModelError(expected(f"model format {FORMAT_VERSION} or older", f"format {meta['format_version']}",
                                  "Upgrade headstart to load this model."))
    return meta


def is_generation_folder(folder: str | Path) -> bool:
    """True when `folder` holds a model saved by `Seq2SeqModel` (the CLI dispatches on this)."""
    path = Path(folder) / METADATA_FILE
    try:
        return path.exists() and is_generation(read_json(path).get("task"))
    except (OSError, ValueError):
        return False
