"""Build the trainable model for each starting point, behind one small record (`Backend`).

- decoder: a causal LM (SmolLM2 by default) trained on prompt+target, prompt masked from the loss;
- seq2seq: an encoder-decoder checkpoint (T5, BART, Marian layouts) through AutoModelForSeq2SeqLM;
- warm-start: EncoderDecoderModel from an encoder checkpoint on both sides (new cross-attention).

The generation strategies (`strategies/seq2seq.py`) start from these: `full`, `lora` and `zero-shot` from
`pretrained_backend`, `scratch` from a small random BART with the backbone's tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backbones import BackboneRef, find_recorded_backbone, hf_folder, load_model, load_tokenizer
from ..errors import ConfigError, ModelError, expected
from .config import GenerationConfig

ARCHITECTURES = ("decoder", "seq2seq", "warm-start")


@dataclass
class Backend:
    """A model ready to train or generate, the tokenizer, and how they fit together."""

    model: Any
    tokenizer: Any
    architecture: str  # one of ARCHITECTURES

    @property
    def is_decoder(self) -> bool:
        return self.architecture == "decoder"


def choose_architecture(ref: BackboneRef, config: GenerationConfig) -> str:
    """How a pre-trained backbone is used: the configured architecture, else the one its kind implies."""
    if config.warm_start_encoder:
        wanted = "warm-start"
    elif config.architecture != "auto":
        wanted = config.architecture
    else:
        wanted = {"decoder": "decoder", "encoder-decoder": "seq2seq", "encoder": "warm-start"}.get(ref.kind, "decoder")
    expected_kind = {"decoder": "decoder", "seq2seq": "encoder-decoder", "warm-start": "encoder"}[wanted]
    if ref.kind != expected_kind:
        raise ConfigError(expected(f"a {expected_kind} backbone for architecture '{wanted}'",
                                   f"{ref.name}, a {ref.kind} model", "Choose a matching backbone or architecture."))
    return wanted


def pretrained_backend(ref: BackboneRef, config: GenerationConfig) -> Backend:
    """The backbone's pre-trained weights as a model that generates (the generation strategies start here)."""
    arch = choose_architecture(ref, config)
    tokenizer = prepare_tokenizer(load_tokenizer(ref))
    model = warm_started(ref, tokenizer) if arch == "warm-start" else load_model(ref, _model_class(arch))
    set_special_ids(model, tokenizer, arch)
    return Backend(model, tokenizer, arch)


def _model_class(architecture: str):
    """The transformers class that builds and loads models of `architecture` (ModelError for another name)."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, EncoderDecoderModel

    classes = {"decoder": AutoModelForCausalLM, "seq2seq": AutoModelForSeq2SeqLM,
               "warm-start": EncoderDecoderModel}
    if architecture not in classes:
        raise ModelError(expected(f"an architecture in {ARCHITECTURES}", repr(architecture), "Retrain the model."))
    return classes[architecture]


def prepare_tokenizer(tokenizer):
    """Every model here needs pad and eos ids; borrow them from existing specials when missing."""
    if tokenizer.eos_token is None:
        tokenizer.eos_token = tokenizer.sep_token or tokenizer.pad_token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.eos_token is None:
        raise ModelError(expected("a tokenizer with an end-of-sequence token", "none", "Use another backbone."))
    return tokenizer


def start_token_id(tokenizer) -> int:
    """The decoder's first token: bos, else cls, else eos, else pad."""
    ids = (tokenizer.bos_token_id, tokenizer.cls_token_id, tokenizer.eos_token_id)
    return int(next((i for i in ids if i is not None), tokenizer.pad_token_id))


def set_special_ids(model, tokenizer, arch: str) -> None:
    model.config.pad_token_id = tokenizer.pad_token_id
    if arch != "decoder":
        if getattr(model.config, "decoder_start_token_id", None) is None:
            model.config.decoder_start_token_id = start_token_id(tokenizer)
        model.config.eos_token_id = tokenizer.eos_token_id
    gen = getattr(model, "generation_config", None)
    if gen is not None:
        gen.pad_token_id = tokenizer.pad_token_id
        gen.eos_token_id = tokenizer.eos_token_id
        if arch != "decoder":
            gen.decoder_start_token_id = model.config.decoder_start_token_id


def warm_started(ref: BackboneRef, tokenizer):
    from transformers import EncoderDecoderModel

    import torch

    folder = str(hf_folder(ref))
    model = EncoderDecoderModel.from_encoder_decoder_pretrained(folder, folder, dtype=torch.float32)
    model.config.decoder_start_token_id = start_token_id(tokenizer)
    model.config.vocab_size = model.config.decoder.vocab_size
    return model


def is_adapted(model) -> bool:
    return hasattr(model, "merge_and_unload")


def finish_training(backend: Backend) -> Backend:
    """LoRA weights are merged into the base in place for fast generation; the adapter stays to be saved."""
    if is_adapted(backend.model):
        backend.model.merge_adapter()
    backend.model.eval()
    return backend


ADAPTER_DIR = "adapter"
MODEL_DIR = "model"


def save_backend(backend: Backend, folder: Path, merge: bool = False) -> None:
    """`model/`: a plain Hugging Face model; or, for LoRA on a base that can be found again (not a warm-start
    whose new cross-attention exists only here), `adapter/`: the adapter, its trained modules and the tokenizer."""
    import copy
    import warnings

    model = backend.model
    if is_adapted(model) and (merge or backend.architecture == "warm-start"):
        with warnings.catch_warnings():  # already merged in place by finish_training: unloading is what is wanted
            warnings.filterwarnings("ignore", message="All adapters are already merged")
            model = copy.deepcopy(model).merge_and_unload()  # a copy: the fitted object keeps its adapter
    target = folder / (ADAPTER_DIR if is_adapted(model) else MODEL_DIR)
    model.save_pretrained(target, safe_serialization=True)
    backend.tokenizer.save_pretrained(target)


def load_backend(folder: Path, architecture: str, base: dict[str, str] | None = None) -> Backend:
    """Read what `save_backend` wrote; an adapter is put on its base model (`base`: the backbone record)."""
    from transformers import AutoTokenizer

    import torch

    cls = _model_class(architecture)
    if (folder / ADAPTER_DIR).exists():
        from peft import PeftModel

        if not base:
            raise ModelError(expected("the base model's record in headstart.json", "none",
                                      "The folder is incomplete; copy it again or retrain."))
        path = folder / ADAPTER_DIR
        tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(path))
        model = load_model(find_recorded_backbone(base), cls)
        set_special_ids(model, tokenizer, architecture)
        model = PeftModel.from_pretrained(model, path).merge_and_unload()
    else:
        path = folder / MODEL_DIR
        model = cls.from_pretrained(path, dtype=torch.float32, use_safetensors=True)
        tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(path))
    model.eval()
    return Backend(model, tokenizer, architecture)


def count_parameters(model) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
