"""The training loss of decoder-only models, with the output layer applied to scored positions only.

A causal LM's output layer maps every position to the whole vocabulary (49,152 x 576 for SmolLM2-135M),
but prompt tokens are masked from the loss: computing, storing and back-propagating their logits is
wasted work, and on a CPU a large share of it (logits of a 16 x 96 batch take 300 MB). Here the body runs
once and the output layer sees only the positions whose next token is a target token.

Some architectures do more than `lm_head(hidden)` (logit soft-capping, scaling): `target_only_matches`
compares the shortcut with the model's own loss on one batch before training, and the trainer falls back
to the model's loss when they differ.
"""

from __future__ import annotations

import inspect
from typing import Callable

IGNORE_INDEX = -100


def model_loss(model, batch: dict):
    """The model's own loss (every position's logits computed, masked labels ignored)."""
    return model(**batch).loss


def target_only_loss(model, batch: dict):
    """Mean next-token cross-entropy over the positions whose label is not IGNORE_INDEX."""
    import torch

    targets = batch["labels"][:, 1:]
    scored = targets != IGNORE_INDEX
    body = model.get_decoder()
    hidden = body(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    logits = model.get_output_embeddings()(hidden[:, :-1][scored])
    return torch.nn.functional.cross_entropy(logits.float(), targets[scored])


MIN_SHARED_PREFIX = 8  # tokens; a shorter common prefix is not worth a second pass through the body


def shared_prefix_length(batch: dict) -> int:
    """How many leading tokens every row of the batch shares and may share (no target is predicted from inside
    them, every row keeps a token of its own), or 0 when that is under MIN_SHARED_PREFIX.
    With a chat template and a fixed instruction that is the system turn and the instruction: half of a short
    translation example's tokens."""
    ids, labels = batch["input_ids"], batch["labels"]
    if len(ids) < 2:
        return 0
    same = (ids == ids[:1]).all(dim=0)
    length = int(same.long().cumprod(0).sum())
    length = min(length, int(batch["attention_mask"].sum(dim=1).min()) - 1)  # every row keeps a token after it
    scored = (labels != IGNORE_INDEX).any(dim=0).nonzero()
    if len(scored):  # the position before the first target predicts it: it must be in the rows' own pass
        length = min(length, int(scored[0]) - 1)
    return length if length >= MIN_SHARED_PREFIX else 0


def shared_prefix_loss(model, batch: dict):
    """`target_only_loss`, with the prefix every row shares run through the body once per batch, not once per
    row: its keys and values are repeated for the rows, which go on from there (`past_key_values`); gradients
    from every row flow back into the one prefix pass. Falls back to `target_only_loss` when the rows share
    too little."""
    import torch

    length = shared_prefix_length(batch)
    if not length:
        return target_only_loss(model, batch)
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    body = model.get_decoder()
    prefix = body(input_ids=ids[:1, :length], use_cache=True)
    cache = getattr(prefix, "cache", None) or prefix.past_key_values
    cache.batch_repeat_interleave(len(ids))
    # transformers 5 calls the argument `cache`, earlier versions `past_key_values`
    name = "cache" if "cache" in inspect.signature(body.forward).parameters else "past_key_values"
    hidden = body(input_ids=ids[:, length:], attention_mask=mask, use_cache=True, **{name: cache}).last_hidden_state
    targets = labels[:, length + 1:]
    scored = targets != IGNORE_INDEX
    logits = model.get_output_embeddings()(hidden[:, :-1][scored])
    return torch.nn.functional.cross_entropy(logits.float(), targets[scored])


def _same_loss(model, batch: dict, fast: Callable, reference: Callable, tolerance: float) -> bool:
    """Whether two losses agree on `batch` (eval mode, so dropout cannot differ)."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            a, b = fast(model, batch), reference(model, batch)
        return bool(torch.isclose(a.float(), b.float(), rtol=tolerance, atol=tolerance))
    except (AttributeError, NotImplementedError, TypeError, ValueError, RuntimeError):
        return False  # no separable body / output layer, or a cache it cannot share: the plain loss is right
    finally:
        model.train(was_training)


def target_only_matches(model, batch: dict, tolerance: float = 1e-4) -> bool:
    """Whether the shortcut gives the model's own loss on `batch` (eval mode, so dropout cannot differ)."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            fast, reference = target_only_loss(model, batch), model_loss(model, batch)
        return bool(torch.isclose(fast, reference.float(), rtol=tolerance, atol=tolerance))
    except (AttributeError, NotImplementedError, TypeError, ValueError):
        # no separable body / output layer (exotic wrappers): the model's own loss is always right
        return False
    finally:
        model.train(was_training)


SEEN_VOCABULARY = "headstart_seen_vocabulary"  # config flag: train the output layer on the seen targets' tokens only


def seen_vocabulary_loss(model, allowed) -> Callable:
    """Cross-entropy over the output rows of `allowed` token ids only (a BART-style encoder-decoder with
    `final_logits_bias`). A model trained from scratch can only learn the tokens its targets contain, so scoring
    the other ~40,000 rows of a borrowed vocabulary (most of a small model's step) teaches it nothing; after
    training `mask_unseen_outputs` keeps generation to the same tokens."""
    import torch
    from transformers.models.bart.modeling_bart import shift_tokens_right

    compact = torch.full((model.config.vocab_size,), IGNORE_INDEX, dtype=torch.long)
    compact[allowed] = torch.arange(len(allowed))

    def loss(model, batch: dict):
        labels = batch["labels"]
        decoder_inputs = shift_tokens_right(labels, model.config.pad_token_id, model.config.decoder_start_token_id)
        hidden = model.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                             decoder_input_ids=decoder_inputs).last_hidden_state
        scored = labels != IGNORE_INDEX
        rows = allowed.to(hidden.device)
        weight, bias = model.get_output_embeddings().weight[rows], model.final_logits_bias[0, rows]
        logits = hidden[scored] @ weight.T + bias
        return torch.nn.functional.cross_entropy(logits.float(), compact.to(labels.device)[labels[scored]],
                                                 ignore_index=IGNORE_INDEX)

    return loss


def seen_tokens(examples: list[dict]):
    """The sorted token ids of every training label (eos included): the vocabulary a scratch model can learn."""
    import torch

    return torch.tensor(sorted({t for e in examples for t in e["labels"] if t != IGNORE_INDEX}), dtype=torch.long)


def mask_unseen_outputs(model, allowed) -> None:
    """Forbid the tokens the model never trained to emit: their output bias goes to -1e4, saved with the model."""
    import torch

    with torch.no_grad():
        keep = torch.zeros(model.config.vocab_size, dtype=torch.bool)
        keep[allowed] = True
        model.final_logits_bias[0, ~keep.to(model.final_logits_bias.device)] = -1e4


def choose_loss(model, sample_batch: dict, examples: list[dict] | None = None,
                shared_batch: dict | None = None) -> tuple[Callable, str]:
    """The loss function to train with, and its name for the fit report. `shared_batch` (a few training rows,
    padded together) checks that sharing their common prefix gives the same loss before it is used."""
    if getattr(model.config, SEEN_VOCABULARY, False) and examples and hasattr(model, "final_logits_bias"):
        return seen_vocabulary_loss(model, seen_tokens(examples)), "seen-vocabulary"
    if getattr(model.config, "is_encoder_decoder", False):
        return model_loss, "model"  # every decoder position is a target: nothing to skip
    if not target_only_matches(model, sample_batch):
        return model_loss, "model"
    if shared_batch is not None and shared_prefix_length(shared_batch) and _same_loss(
            model, shared_batch, shared_prefix_loss, target_only_loss, 1e-4):
        return shared_prefix_loss, "target-only+shared-prefix"
    return target_only_loss, "target-only"
