"""The generation strategies (`--task translate|summarize`): each builds the `Backend` that `Seq2SeqModel`
trains (when the strategy `trains`), then saves and generates from the same way for all of them."""

from __future__ import annotations

from typing import ClassVar

from ..backbones import BackboneRef, load_tokenizer
from ..errors import ConfigError, expected
from ..generation.backends import (Backend, choose_architecture, prepare_tokenizer, pretrained_backend,
                                   set_special_ids, start_token_id)
from ..generation.config import GenerationConfig
from ..generation.loss import SEEN_VOCABULARY
from ..tasks import GENERATION_TASK_NAMES
from .registry import Cost, register

# LoRA targets per model family: attention projections (and the MLP where names are stable).
LORA_TARGETS = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "gpt2": ["c_attn", "c_proj"],
    "t5": ["q", "k", "v", "o"],
    "mt5": ["q", "k", "v", "o"],
    "bart": ["q_proj", "k_proj", "v_proj", "out_proj"],
    "marian": ["q_proj", "k_proj", "v_proj", "out_proj"],
    "encoder-decoder": ["query", "key", "value"],
    "bert": ["query", "key", "value"],
}


@register
class Full:
    """Fine-tune every weight of the pre-trained model."""

    name: ClassVar[str] = "full"
    tasks: ClassVar[tuple[str, ...]] = GENERATION_TASK_NAMES
    config_cls: ClassVar[type] = GenerationConfig
    cost: ClassVar[Cost] = Cost.GRADIENT
    trains: ClassVar[bool] = True

    def build_backend(self, ref: BackboneRef, config: GenerationConfig) -> Backend:
        return pretrained_backend(ref, config)


@register
class GenerationLora:
    """Train low-rank adapters on the frozen pre-trained model (merged into it for generating)."""

    name: ClassVar[str] = "lora"
    tasks: ClassVar[tuple[str, ...]] = GENERATION_TASK_NAMES
    config_cls: ClassVar[type] = GenerationConfig
    cost: ClassVar[Cost] = Cost.GRADIENT
    trains: ClassVar[bool] = True

    def build_backend(self, ref: BackboneRef, config: GenerationConfig) -> Backend:
        from peft import LoraConfig, TaskType, get_peft_model

        backend = pretrained_backend(ref, config)
        family = getattr(backend.model.config, "model_type", "")
        targets = LORA_TARGETS.get(family)
        if targets is None:
            raise ConfigError(expected(f"a model family with known LoRA targets ({', '.join(sorted(LORA_TARGETS))})",
                                       f"'{family}'", "Use --strategy full for this backbone."))
        task_type = TaskType.SEQ_2_SEQ_LM if backend.model.config.is_encoder_decoder else TaskType.CAUSAL_LM
        # A warm-started model's cross-attention is new (random): adapting a frozen random matrix cannot work,
        # so it trains fully and is saved with the adapter.
        extra = ["crossattention"] if family == "encoder-decoder" else None
        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                          target_modules=targets, task_type=task_type, modules_to_save=extra)
        backend.model = get_peft_model(backend.model, lora)
        return backend


@register
class GenerationZeroShot:
    """Prompt the pre-trained model as it is."""

    name: ClassVar[str] = "zero-shot"
    tasks: ClassVar[tuple[str, ...]] = GENERATION_TASK_NAMES
    config_cls: ClassVar[type] = GenerationConfig
    cost: ClassVar[Cost] = Cost.FROZEN
    trains: ClassVar[bool] = False  # prompting only: the pairs given to fit are not trained on

    def build_backend(self, ref: BackboneRef, config: GenerationConfig) -> Backend:
        if choose_architecture(ref, config) == "warm-start":
            raise ConfigError(expected("a model that can already generate for zero-shot prompting",
                                       f"{ref.name} warm-started (its cross-attention is untrained)",
                                       "Use SmolLM2-135M-Instruct, or fine-tune with --strategy full/lora."))
        return pretrained_backend(ref, config)


@register
class GenerationScratch:
    """A small BART from random weights with the backbone's tokenizer: same vocabulary, no transfer."""

    name: ClassVar[str] = "scratch"
    tasks: ClassVar[tuple[str, ...]] = GENERATION_TASK_NAMES
    config_cls: ClassVar[type] = GenerationConfig
    cost: ClassVar[Cost] = Cost.GRADIENT
    pretrained: ClassVar[bool] = False  # the from-scratch baseline transfer is measured against
    trains: ClassVar[bool] = True

    def build_backend(self, ref: BackboneRef, config: GenerationConfig) -> Backend:
        from transformers import BartConfig, BartForConditionalGeneration

        tokenizer = prepare_tokenizer(load_tokenizer(ref))
        dim, start = config.scratch_dim, start_token_id(tokenizer)
        heads = max(1, dim // 64)
        cfg = BartConfig(vocab_size=len(tokenizer), d_model=dim, encoder_layers=config.scratch_layers,
                         decoder_layers=config.scratch_layers, encoder_attention_heads=heads,
                         decoder_attention_heads=heads, encoder_ffn_dim=4 * dim, decoder_ffn_dim=4 * dim,
                         max_position_embeddings=max(config.max_source_length, config.max_target_length,
                                                     config.max_new_tokens) + 8,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=start, decoder_start_token_id=start, forced_eos_token_id=None, dropout=0.1,
                         scale_embedding=True, **{SEEN_VOCABULARY: config.scratch_vocabulary == "seen"})
        model = BartForConditionalGeneration(cfg)
        set_special_ids(model, tokenizer, "seq2seq")
        return Backend(model, tokenizer, "seq2seq")
