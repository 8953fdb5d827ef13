"""Batched generation: greedy or beam search, longest inputs first, left padding for decoder-only models."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..progress import bar as progress_bar
from ..training.batching import pad_batch, sorted_batches
from .backends import Backend
from .config import GenerationConfig


@dataclass
class GenerationStats:
    outputs: int = 0
    generated_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.generated_tokens / self.seconds if self.seconds > 0 else 0.0


def pad_inputs(rows: list[list[int]], pad_id: int, left: bool, device: str):
    """Ids and attention mask, padded on the right or, with `left`, on the left (decoder-only models)."""
    if not left:
        return pad_batch(rows, pad_id, device)
    ids, mask = pad_batch([r[::-1] for r in rows], pad_id, device)  # the reversed rows, padded on the right
    return ids.flip(1), mask.flip(1)  # flipped back: each row in order, its padding on the left


def generate(backend: Backend, inputs: list[list[int]], config: GenerationConfig, device: str,
             desc: str = "generating") -> tuple[list[str], GenerationStats]:
    """Decode every input (token ids from `encoding.source_inputs`); outputs keep the input order."""
    import torch

    model, tok = backend.model.to(device), backend.tokenizer
    model.eval()
    outputs: list[str] = [""] * len(inputs)
    stats = GenerationStats()
    started = time.perf_counter()
    bar = progress_bar(len(inputs), desc, unit="text")
    with torch.no_grad():
        for batch in sorted_batches([len(r) for r in inputs], config.generation_batch_size):
            ids, mask = pad_inputs([inputs[i] for i in batch], tok.pad_token_id, backend.is_decoder, device)
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=config.max_new_tokens,
                                 num_beams=config.num_beams, do_sample=False, pad_token_id=tok.pad_token_id,
                                 eos_token_id=tok.eos_token_id)
            new = out[:, ids.shape[1]:] if backend.is_decoder else out
            for row, index in zip(new.tolist(), batch):
                row = _until_eos(row, tok.eos_token_id, skip_first=not backend.is_decoder)
                stats.generated_tokens += len(row)
                outputs[index] = tok.decode(row, skip_special_tokens=True).strip()
            bar.update(len(batch))
    bar.close()
    stats.outputs, stats.seconds = len(inputs), time.perf_counter() - started
    return outputs, stats


def _until_eos(row: list[int], eos_id: int, skip_first: bool) -> list[int]:
    """Tokens up to the first end-of-sequence (encoder-decoders start with the decoder start token)."""
    body = row[1:] if skip_first else row
    return body[:body.index(eos_id)] if eos_id in body else body
