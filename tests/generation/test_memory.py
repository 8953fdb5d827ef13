"""Issue 22 section 3: `gradient_checkpointing` keeps only each layer's input during training (activations are
what made a LoRA fit of SmolLM2-135M peak near 7 GB), trains the same adapters, and is off again for generation."""

from __future__ import annotations

import pytest
import torch

from headstart.generation import Seq2SeqModel
from headstart.generation import model as generation_model

from .conftest import FAST, PAIRS

TRAIN = generation_model.train


def _fit(backbone: str, monkeypatch, **options):
    seen: list[bool] = []
    train = TRAIN

    def spying_train(model, *args, **kwargs):
        def on_forward(module, _args):
            if module.training:
                seen.append(bool(model.is_gradient_checkpointing))

        # the decoder body: the target-only loss calls it directly, not the model's own forward
        hook = model.get_decoder().register_forward_pre_hook(on_forward)
        try:
            return train(model, *args, **kwargs)
        finally:
            hook.remove()

    monkeypatch.setattr(generation_model, "train", spying_train)
    fitted = Seq2SeqModel(task="translate", backbone=backbone, strategy="lora", seed=0, progress=False,
                          **{**FAST, **options}).fit([s for s, _ in PAIRS], [t for _, t in PAIRS])
    return fitted, seen


def test_gradient_checkpointing_trains_the_same_adapters_and_is_off_afterwards(tiny_decoder, monkeypatch):
    # no LoRA dropout: checkpointing draws the dropout masks in another order, so with dropout the two fits are
    # two different random runs (adapters apart by more than their size after 2 epochs), without it the same one
    plain, plain_seen = _fit(tiny_decoder, monkeypatch, lora_dropout=0.0)
    checkpointed, seen = _fit(tiny_decoder, monkeypatch, gradient_checkpointing=True, lora_dropout=0.0)
    assert plain_seen and not any(plain_seen), "off unless asked for"
    assert seen and all(seen), "every training forward pass ran with checkpointing"
    assert not checkpointed.backend_.model.is_gradient_checkpointing, "generation runs without it"
    losses = [h["train_loss"] for h in plain.fit_report_["history"]]
    assert [h["train_loss"] for h in checkpointed.fit_report_["history"]] == pytest.approx(losses, rel=1e-4)
    plain_adapters, adapters = _adapters(plain), _adapters(checkpointed)
    assert plain_adapters and adapters.keys() == plain_adapters.keys()
    for name, weight in adapters.items():
        torch.testing.assert_close(weight, plain_adapters[name], rtol=1e-5, atol=1e-6, msg=name)
    # outputs are not compared: greedy decoding of a tiny random model can flip on a near tie (1 run in 12)
    assert len(checkpointed.predict(["a good film"])) == 1


def _adapters(fitted) -> dict:
    return {name: p.detach().clone() for name, p in fitted.backend_.model.named_parameters() if "lora_" in name}
