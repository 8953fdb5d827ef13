"""Token ids for training and generation. Decoder-only: prompt + target + eos, with the prompt's labels
set to -100 so the loss counts target tokens only. Encoder-decoder: source ids and target labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..training.batching import pad_batch
from .backends import Backend
from .config import GenerationConfig
from .data import truncate_tokens
from .loss import IGNORE_INDEX
from .prompts import build_prompt, resolve_template, uses_chat


@dataclass
class Prompter:
    """Turns a source text into the model input text (identity for encoder-decoders)."""

    task: str
    template: str
    chat: bool
    source_lang: str
    target_lang: str

    @classmethod
    def for_backend(cls, backend: Backend, task: str, config: GenerationConfig) -> "Prompter":
        chat = backend.is_decoder and uses_chat(backend.tokenizer, config.chat_template)
        template = resolve_template(task, config.prompt_template, chat) if backend.is_decoder else "{source}"
        return cls(task, template, chat, config.source_lang, config.target_lang)

    def __call__(self, tokenizer, source: str) -> str:
        if self.template == "{source}" and not self.chat:
            return source
        return build_prompt(tokenizer, source, self.template, self.chat, self.source_lang, self.target_lang)


def source_inputs(backend: Backend, prompter: Prompter, sources: Sequence[str], limit: int) -> list[list[int]]:
    """Model inputs for `sources`, each source cut to `limit` tokens (one warning counts the cut ones)."""
    tok = backend.tokenizer
    if not backend.is_decoder:
        ids = tok(list(sources), add_special_tokens=True)["input_ids"]
        return truncate_tokens(ids, limit, "source texts")
    raw = tok(list(sources), add_special_tokens=False)["input_ids"]
    cut = truncate_tokens(raw, limit, "source texts")
    texts = [s if len(r) <= limit else tok.decode(c) for s, r, c in zip(sources, raw, cut)]
    prompts = [prompter(tok, t) for t in texts]
    return tok(prompts, add_special_tokens=False)["input_ids"]


def target_ids(backend: Backend, targets: Sequence[str], limit: int) -> list[list[int]]:
    """Target tokens (no special tokens) cut to `limit`, then the end-of-sequence token."""
    tok = backend.tokenizer
    ids = tok(list(targets), add_special_tokens=False)["input_ids"]
    return [t + [tok.eos_token_id] for t in truncate_tokens(ids, limit, "target texts")]


def training_examples(backend: Backend, prompter: Prompter, sources: Sequence[str], targets: Sequence[str],
                      config: GenerationConfig) -> list[dict[str, list[int]]]:
    """One dict per pair with `input_ids` and `labels` (prompt tokens masked for decoder-only models)."""
    inputs = source_inputs(backend, prompter, sources, config.max_source_length)
    labels = target_ids(backend, targets, config.max_target_length)
    if not backend.is_decoder:
        return [{"input_ids": i, "labels": t} for i, t in zip(inputs, labels)]
    n = config.max_length
    return [{"input_ids": (prompt + target)[:n], "labels": ([IGNORE_INDEX] * len(prompt) + target)[:n]}
            for prompt, target in zip(inputs, labels)]


def collate(examples: list[dict[str, list[int]]], pad_id: int, device: str) -> dict:
    """Right-padded batch: pad ids in inputs, -100 in labels (ignored by the loss)."""
    input_ids, mask = pad_batch([e["input_ids"] for e in examples], pad_id, device)
    labels, _ = pad_batch([e["labels"] for e in examples], IGNORE_INDEX, device)
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}
