"""Options of a generation model: training (the shared LoopConfig fields) plus prompting and decoding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import MIN_TOKENS, LoopConfig, opt

DEFAULT_GENERATION_BACKBONE = "SmolLM2-135M-Instruct"


@dataclass
class GenerationConfig(LoopConfig):
    """Training, prompt and decoding options of `Seq2SeqModel` (CLI: `headstart fit --task translate ...`)."""

    epochs: int = opt(3, "passes over the training pairs (early stopping or max_seconds may end sooner)", min=1)
    batch_size: int = opt(8, "pairs per optimisation step", min=1)
    lr: float = opt(5e-5, "peak AdamW learning rate (lora and scratch use higher rates, e.g. 1e-3 and 5e-4)",
                          gt=0)
    max_length: int = opt(256, "longest prompt+target sequence in tokens (decoder-only models)",
                             min=MIN_TOKENS)
    max_source_length: int = opt(192, "source tokens kept; longer sources are truncated with a warning",
                                    min=1)
    max_target_length: int = opt(64, "target tokens kept in training; longer targets are truncated with a warning",
                                   min=1)
    gradient_checkpointing: bool = opt(False, "keep only each layer's input during training and recompute the rest "
                                              "in the backward pass: far less memory, one more forward pass per step "
                                              "(see docs/generation.md, Memory)")
    max_seconds: float = opt(0.0, "training time budget in seconds (0: none); the lr schedule follows the budget",
                              min=0)
    architecture: Literal["auto", "decoder", "seq2seq", "warm-start"] = opt(
        "auto", "auto: decoder-only LMs train as causal LMs, encoder-decoders as seq2seq, encoders are warm-started")
    warm_start_encoder: bool = opt(False, "build an encoder-decoder from an encoder backbone on both sides "
                                          "(new cross-attention)")
    prompt_template: str = opt("", "prompt for decoder-only models with {source} (and {source_lang}, {target_lang}); "
                                   "empty: the task's default")
    chat_template: Literal["auto", "always", "never"] = opt(
        "auto", "wrap the prompt in the tokenizer's chat template (auto: when it has one)")
    source_lang: str = opt("English", "source language name used in translation prompts")
    target_lang: str = opt("German", "target language name used in translation prompts")
    lora_r: int = opt(8, "LoRA rank (strategy lora)", min=1)
    lora_alpha: int = opt(16, "LoRA scaling alpha (strategy lora)", min=1)
    lora_dropout: float = opt(0.05, "LoRA dropout (strategy lora)", min=0, lt=1)
    merge: bool = opt(False, "strategy lora: save a plain merged model instead of the adapter (hundreds of MB "
                             "instead of a few; loads without peft or the base model)")
    scratch_layers: int = opt(2, "encoder and decoder layers of the from-scratch transformer (strategy scratch)",
                             min=1)
    scratch_dim: int = opt(256, "hidden size of the from-scratch transformer (strategy scratch)", min=8)
    scratch_vocabulary: Literal["seen", "all"] = opt(
        "seen", "strategy scratch: 'seen' trains and allows only the output tokens its training targets contain (a "
                "from-scratch model learns no others; several times faster on a 49k vocabulary), 'all' every token")
    num_beams: int = opt(1, "beam width when generating (1: greedy)", min=1)
    max_new_tokens: int = opt(64, "most tokens generated per output", min=1)
    generation_batch_size: int = opt(16, "inputs generated together (left-padded for decoder-only models)",
                                      min=1)
