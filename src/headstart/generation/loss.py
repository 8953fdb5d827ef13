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


def choose_loss(model, sample_batch: dict) -> tuple[Callable, str]:
    """The loss function to train with, and its name for the fit report."""
    if getattr(model.config, "is_encoder_decoder", False):
        return model_loss, "model"  # every decoder position is a target: nothing to skip
    if target_only_matches(model, sample_batch):
        return target_only_loss, "target-only"
    return model_loss, "model"
