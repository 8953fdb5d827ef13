"""Domain-adaptive continued pre-training (Gururangan et al., 2020): keep training the backbone's own
objective on unlabelled in-domain text, then use the result as a backbone for any strategy.

Encoders continue masked-LM training (AutoModelForMaskedLM + DataCollatorForLanguageModeling),
decoders causal-LM training. Held-out lines are scored before and after: masked-token accuracy and
the perplexity of the masked tokens for encoders, perplexity for decoders. The masks of the held-out batches are drawn
once with a fixed seed, so before and after see exactly the same prediction problems.

`objective="simcse"` instead trains sentence encoders contrastively (see `simcse.py`).

Sentence encoders such as all-MiniLM ship without their MLM head; it is then freshly initialised. So
that "before" measures the pre-trained encoder rather than a random head, the head alone is first
trained for `head_warmup_steps` steps (encoder frozen) and "before" is measured after that.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from ..backbones import BackboneRef, load_model, load_tokenizer
from ..config import MIN_TOKENS, Options, opt
from ..errors import DataError, expected
from ..io import atomic_folder, write_json
from ..seeding import pick_device, set_seed
from .step import TrainStep


@dataclass
class PretrainConfig(Options):
    objective: Literal["lm", "simcse"] = opt(
        "lm", "'lm': the backbone's own language-model objective (masked LM for encoders, causal LM for decoders); "
              "'simcse': unsupervised SimCSE for sentence encoders (keeps the embedding space that probe and "
              "contrastive use; MLM moves away from it)")
    temperature: float = opt(0.05, "similarity temperature of the simcse objective", gt=0)
    epochs: int = opt(1, "passes over the training lines", min=1)
    max_steps: int = opt(0, "run exactly this many optimisation steps, overriding epochs as transformers' "
                                 "max_steps does (0: epochs decide)", min=0)
    batch_size: int = opt(32, "lines per step", min=1)
    lr: float = opt(5e-5, "peak learning rate of AdamW (linear warmup over 6% of steps, then linear decay)",
                          gt=0)
    weight_decay: float = opt(0.01, "AdamW weight decay", min=0)
    max_length: int = opt(128, "tokens kept per line", min=MIN_TOKENS)
    mlm_probability: float = opt(0.15, "share of tokens masked (encoders)", gt=0, lt=1)
    holdout: float = opt(0.05, "share of lines held out to measure the objective before and after",
                           gt=0, lt=1)
    max_holdout: int = opt(1000, "at most this many held-out lines", min=1)
    head_warmup_steps: int = opt(100, "steps training a missing MLM head alone before 'before' is measured",
                                 min=0)
    seed: int = opt(0, "random seed (holdout split, masks, order)", min=0)
    device: str = opt("auto", "'auto', 'cpu' or 'cuda'")


@dataclass
class PretrainReport:
    objective: str
    train_lines: int
    holdout_lines: int
    steps: int
    seconds: float
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def read_corpus(path: str | Path) -> list[str]:
    """Non-empty lines of a UTF-8 text file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(expected("a UTF-8 text file with one text per line", f"no file at {path}", "Check the path."))
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except UnicodeDecodeError as exc:
        raise DataError(expected("UTF-8 text", f"undecodable bytes at offset {exc.start} of {path}",
                                 "Re-save the file as UTF-8.")) from None
    return [line for line in lines if line]


def continue_pretraining(ref: BackboneRef, lines: Sequence[str], output: str | Path, config: PretrainConfig,
                         progress: bool | None = None) -> PretrainReport:
    """Train `ref` on `lines` with its own objective; write the adapted backbone to `output` atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, DataCollatorForLanguageModeling

    start = time.perf_counter()
    lines = list(lines)
    if len(lines) < 4:
        raise DataError(expected("at least 4 non-empty lines of text", f"{len(lines)}", "Give more text."))
    causal = ref.kind == "decoder"
    if ref.kind not in ("encoder", "decoder"):
        raise DataError(expected("an encoder or decoder backbone", f"a {ref.kind} backbone", "Choose another."))
    if config.objective == "simcse" and causal:
        raise DataError(expected("an encoder backbone for the simcse objective", f"{ref.name}, a decoder",
                                 "Use --objective lm for decoders."))
    set_seed(config.seed)
    device = pick_device(config.device)
    tokenizer = load_tokenizer(ref)
    if config.objective == "simcse":
        return _simcse_pretraining(ref, tokenizer, lines, output, config, device, progress, start)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not causal and tokenizer.mask_token is None:
        raise DataError(expected("a tokenizer with a [MASK] token for masked-LM training", "none",
                                 "Use a BERT-like encoder, or a decoder for causal-LM training."))
    model, info = load_model(ref, AutoModelForCausalLM if causal else AutoModelForMaskedLM, output_loading_info=True)
    model.to(device)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=not causal, mlm_probability=config.mlm_probability)

    rng = np.random.default_rng(config.seed)
    held, train = _holdout(lines, config, rng)
    encode = lambda texts: tokenizer(list(texts), truncation=True, max_length=config.max_length)["input_ids"]  # noqa: E731
    held_ids, train_ids = encode(held), encode(train)
    torch.manual_seed(config.seed + 1)  # the held-out masks: drawn once, reused before and after
    eval_batches = [collator([{"input_ids": ids} for ids in held_ids[i:i + config.batch_size]])
                    for i in range(0, len(held_ids), config.batch_size)]
    report = PretrainReport("causal-lm" if causal else "masked-lm", len(train), len(held), 0, 0.0)

    missing_head = [k for k in info.get("missing_keys", []) if not k.startswith(model.base_model_prefix + ".")]
    if missing_head and config.head_warmup_steps > 0:
        head = {n for n, _ in model.named_parameters() if not n.startswith(model.base_model_prefix + ".")}
        for n, p in model.named_parameters():
            p.requires_grad_(n in head)
        _train(model, train_ids, collator, config, device, rng, config.head_warmup_steps, progress, "head warm-up",
               causal)
        for p in model.parameters():
            p.requires_grad_(True)
        report.notes.append(f"the backbone had no {report.objective} head ({len(missing_head)} tensors); it was "
                            f"trained alone for {config.head_warmup_steps} steps before measuring 'before'")
    if missing_head and not causal:
        # measured on sst2 texts with all-MiniLM-L6-v2: probe at 64/class -7.1 points after MLM, +1.5 after SimCSE
        report.notes.append("an encoder without a masked-LM head is usually a sentence encoder; masked-LM training "
                            "moves it away from its embedding space. --objective simcse adapts the embeddings instead")
    report.before = evaluate(model, eval_batches, device, causal)
    limit = config.max_steps or None
    report.steps = _train(model, train_ids, collator, config, device, rng, limit, progress, "pre-training", causal)
    report.after = evaluate(model, eval_batches, device, causal)
    return _save(model, tokenizer, ref, report, output, config, start)


def _holdout(lines: list[str], config: PretrainConfig, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """(held-out, training) lines: a random `holdout` share, at most `max_holdout` lines."""
    order = rng.permutation(len(lines))
    n_hold = min(config.max_holdout, max(2, int(round(config.holdout * len(lines)))))
    return [lines[i] for i in order[:n_hold]], [lines[i] for i in order[n_hold:]]


def _save(model, tokenizer, ref: BackboneRef, report: PretrainReport, output: str | Path, config: PretrainConfig,
          start: float) -> PretrainReport:
    report.seconds = time.perf_counter() - start
    model.eval()
    with atomic_folder(output, kind="backbone") as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / "pretrain_report.json", {"source_backbone": ref.name, **report.__dict__,
                                                  "config": config.__dict__})
    return report


def _simcse_pretraining(ref: BackboneRef, tokenizer, lines: list[str], output: str | Path, config: PretrainConfig,
                        device: str, progress: bool | None, start: float) -> PretrainReport:
    from .simcse import evaluate_simcse, train_simcse

    model = load_model(ref).to(device)
    rng = np.random.default_rng(config.seed)
    held, train = _holdout(lines, config, rng)
    report = PretrainReport("simcse", len(train), len(held), 0, 0.0)
    report.before = evaluate_simcse(model, tokenizer, held, config, device)
    report.steps = train_simcse(model, tokenizer, train, config, device, rng, progress)
    report.after = evaluate_simcse(model, tokenizer, held, config, device)
    return _save(model, tokenizer, ref, report, output, config, start)


def _train(model, ids: list[list[int]], collator, config: PretrainConfig, device: str, rng: np.random.Generator,
           max_steps: int | None, progress: bool | None, desc: str, causal: bool) -> int:
    import torch

    if not ids:
        return 0
    steps_per_epoch = math.ceil(len(ids) / config.batch_size)
    epochs = config.epochs if max_steps is None else max(config.epochs, math.ceil(max_steps / steps_per_epoch))
    total = steps_per_epoch * epochs if max_steps is None else min(max_steps, steps_per_epoch * epochs)
    train_step = TrainStep([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                           weight_decay=config.weight_decay, total_steps=total, schedule="linear",
                           warmup_steps=max(1, int(0.06 * total)), max_grad_norm=1.0, desc=desc, progress=progress)
    model.train()
    perms = [rng.permutation(len(ids)) for _ in range(epochs)]  # all drawn now: the next run's order follows them
    order = [perm[i:i + config.batch_size] for perm in perms for i in range(0, len(perm), config.batch_size)]

    def loss_of(batch_index):
        batch = {k: v.to(device) for k, v in collator([{"input_ids": ids[i]} for i in batch_index]).items()}
        return torch.nn.functional.cross_entropy(*_scored_logits(model, batch, causal))

    for batch_index in order[:total]:
        train_step(lambda: loss_of(batch_index))
    train_step.close()
    model.eval()
    return train_step.steps


def _scored_logits(model, batch: dict[str, Any], causal: bool):
    """(logits, labels) of the positions that are scored: masked tokens (MLM) or next tokens (causal LM).

    BERT-like masked LMs run their vocabulary head on the masked positions only (15% of tokens): the
    head's vocabulary-sized matrix product dominates the cost otherwise."""
    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    head = getattr(model, "cls", None)
    if head is not None and not causal:
        mask = labels != -100
        hidden = model.base_model(**inputs).last_hidden_state
        return head(hidden[mask]).float(), labels[mask]
    logits = model(**inputs).logits.float()
    if causal:
        logits, labels = logits[:, :-1], labels[:, 1:]
    mask = labels != -100
    return logits[mask], labels[mask]


def evaluate(model, batches: list[dict[str, Any]], device: str, causal: bool) -> dict[str, float]:
    """Token-weighted mean loss, its exp (perplexity; for masked LM the perplexity of the masked tokens) and token accuracy."""
    import torch

    model.eval()
    total_loss, total_tokens, correct = 0.0, 0, 0
    with torch.inference_mode():
        for batch in batches:
            picked, target = _scored_logits(model, {k: v.to(device) for k, v in batch.items()}, causal)
            if target.numel() == 0:
                continue
            total_loss += float(torch.nn.functional.cross_entropy(picked, target, reduction="sum"))
            correct += int((picked.argmax(-1) == target).sum())
            total_tokens += int(target.numel())
    if total_tokens == 0:
        return {"loss": float("nan"), "perplexity": float("nan"), "token_accuracy": float("nan"), "tokens": 0}
    loss = total_loss / total_tokens
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "token_accuracy": correct / total_tokens,
            "tokens": total_tokens}
