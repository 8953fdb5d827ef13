"""The generation training loop: length-grouped batches, AdamW with the shared lr schedules, validation
loss for early stopping (best weights kept), and an optional wall-clock budget (`max_seconds`)."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..training.batching import length_grouped_batches
from ..training.loop import default_param_groups
from ..training.schedules import lr_multiplier
from ..training.step import TrainStep
from .config import GenerationConfig
from .encoding import collate
from .loss import choose_loss, mask_unseen_outputs, model_loss, seen_tokens


def validation_loss(model, examples: list[dict], pad_id: int, batch_size: int, device: str,
                    loss_fn=model_loss) -> float:
    """Token-weighted mean cross-entropy over the validation pairs."""
    import torch

    total, tokens = 0.0, 0
    # causal LMs predict token t+1 from t: the first label of each row is never scored
    shifts = not getattr(model.config, "is_encoder_decoder", False)
    model.eval()
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            batch = collate(examples[start:start + batch_size], pad_id, device)
            scored = batch["labels"][:, 1:] if shifts else batch["labels"]
            n = max(int((scored != -100).sum()), 1)
            total += float(loss_fn(model, batch)) * n
            tokens += n
    model.train()
    return total / max(tokens, 1)


def check_rows(examples: list[dict], among: int = 8) -> list[dict]:
    """The first example and the longest of the first `among` (a different length where there is one)."""
    longest = max(range(min(among, len(examples))), key=lambda i: len(examples[i]["input_ids"]))
    return [examples[0], examples[longest]] if longest else examples[:2]


def train(model, train_examples: list[dict], valid_examples: list[dict] | None, config: GenerationConfig,
          pad_id: int, seed: int, device: str) -> dict[str, Any]:
    """Train in place; returns the training part of the fit report (steps, history, best, ...)."""
    model.to(device)
    model.train()
    checkpointing = config.gradient_checkpointing and hasattr(model, "gradient_checkpointing_enable")
    if checkpointing:
        # activations dominate training memory (about 6.5 GB for SmolLM2-135M at batch 8, 256 tokens);
        # non-reentrant checkpointing also works when the inputs need no gradient (LoRA, frozen embeddings)
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    rng = np.random.default_rng(seed)
    lengths = [len(e["input_ids"]) + len(e["labels"]) for e in train_examples]
    # tokens the model body reads per example: the decoder-only sequence holds the target already; an
    # encoder-decoder reads the source in the encoder and the (shifted) target in the decoder
    seen = ([len(e["input_ids"]) + len(e["labels"]) for e in train_examples]
            if getattr(model.config, "is_encoder_decoder", False) else [len(e["input_ids"]) for e in train_examples])
    tokens = 0
    steps_per_epoch = math.ceil(len(train_examples) / config.batch_size)
    total_steps = max(1, steps_per_epoch * config.epochs)
    warmup = int(config.warmup_ratio * total_steps)
    started = time.perf_counter()
    # a recomputed (checkpointed) layer cannot hand a shared prefix's cache to the rows: no sharing then
    # two rows suffice to check it (they share the prefix; the longest of the first eight brings padding), and
    # each checked row costs a forward pass before the first step
    shared = None if checkpointing else collate(check_rows(train_examples), pad_id, device)
    loss_fn, loss_name = choose_loss(model, collate([train_examples[0]], pad_id, device), train_examples, shared)

    def multiplier(step: int) -> float:
        # with a time budget, the schedule advances with whichever runs out first: steps or seconds
        if config.max_seconds > 0:
            by_time = int((time.perf_counter() - started) / config.max_seconds * total_steps)
            step = max(step, min(by_time, total_steps))
        return lr_multiplier(config.schedule, step, total_steps, warmup)

    train_step = TrainStep(default_param_groups(model, config.lr, config.weight_decay), lr=config.lr,
                           weight_decay=config.weight_decay, total_steps=total_steps, schedule=multiplier,
                           max_grad_norm=config.max_grad_norm, clip=model.parameters())
    eval_every = max(1, steps_per_epoch // max(1, config.evals_per_epoch))
    history: list[dict[str, float]] = []
    best_loss, best_step, best_state, stale = math.inf, 0, None, 0
    step, stop, out_of_time = 0, False, False
    for epoch in range(config.epochs):
        for batch_index in length_grouped_batches(lengths, config.batch_size, rng):
            batch = collate([train_examples[i] for i in batch_index], pad_id, device)
            loss = train_step(lambda: loss_fn(model, batch))
            step += 1
            tokens += sum(seen[i] for i in batch_index)
            out_of_time = config.max_seconds > 0 and time.perf_counter() - started >= config.max_seconds
            if valid_examples and (step % eval_every == 0 or out_of_time):
                vloss = validation_loss(model, valid_examples, pad_id, config.batch_size, device, loss_fn)
                history.append({"step": step, "epoch": epoch + 1, "train_loss": loss,
                                "valid_loss": vloss, "seconds": time.perf_counter() - started})
                train_step.bar.log(epoch=epoch + 1, valid_loss=vloss, train_loss=loss)
                if vloss < best_loss:
                    best_loss, best_step, stale = vloss, step, 0
                    best_state = {k: v.detach().cpu().clone() for k, v in _trainable_state(model).items()}
                else:
                    stale += 1
                    stop = bool(config.patience) and stale >= config.patience
            elif not valid_examples and step % eval_every == 0:
                history.append({"step": step, "epoch": epoch + 1, "train_loss": loss,
                                "seconds": time.perf_counter() - started})
            if stop or out_of_time:
                break
        if stop or out_of_time:
            break
    train_step.close()
    if checkpointing:
        model.gradient_checkpointing_disable()  # generation keeps its key/value cache
    if best_state is not None:
        model.load_state_dict(best_state, strict=False)
    if loss_name == "seen-vocabulary":
        mask_unseen_outputs(model, seen_tokens(train_examples))
    model.eval()
    seconds = time.perf_counter() - started
    return {"history": history, "steps": step, "best": {"valid_loss": best_loss, "step": best_step}
            if best_state is not None else {}, "stopped_early": stop, "out_of_time": out_of_time,
            "train_seconds": seconds, "loss": loss_name, "train_tokens": tokens,
            "train_tokens_per_second": tokens / seconds if seconds > 0 else 0.0}


def _trainable_state(model) -> dict[str, Any]:
    """Only the parameters that train (all for full fine-tuning, the adapters for LoRA): cheap snapshots."""
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    return {k: v for k, v in model.state_dict().items() if k in trainable}

