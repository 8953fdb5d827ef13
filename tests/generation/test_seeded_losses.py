"""Same numbers: seeded runs of the generation training loop give the losses they gave before the loops
shared `training/step.py` (values recorded on main before the change)."""

from __future__ import annotations

import pytest

from headstart.generation import Seq2SeqModel

from ..training.seeded import check, parameter_sum, record_losses, seeded_model
from .conftest import FAST, PAIRS

WORDS = sorted({w for pair in PAIRS for text in pair for w in text.split()})


@pytest.fixture(scope="module")
def seeded_decoder(tmp_path_factory) -> str:
    """A 2-layer random Llama over a fixed vocabulary (same ids in every run)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    def build(tok):
        return LlamaForCausalLM(LlamaConfig(
            vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
            num_key_value_heads=2, max_position_embeddings=256, pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id, architectures=["LlamaForCausalLM"]))

    return seeded_model(tmp_path_factory.mktemp("seeded-llama"), WORDS, build)


@pytest.fixture(scope="module")
def seeded_seq2seq(tmp_path_factory) -> str:
    """A 1+1-layer random BART over a fixed vocabulary."""
    from transformers import BartConfig, BartForConditionalGeneration

    def build(tok):
        return BartForConditionalGeneration(BartConfig(
            vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
            pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id,
            decoder_start_token_id=tok.bos_token_id, forced_eos_token_id=None))

    return seeded_model(tmp_path_factory.mktemp("seeded-bart"), WORDS, build)

@pytest.mark.parametrize("fixture,strategy", [("seeded_decoder", "full"), ("seeded_seq2seq", "lora")])
def test_generation_loop(monkeypatch, request, fixture, strategy):
    backbone = request.getfixturevalue(fixture)
    sources, targets = [s for s, _ in PAIRS], [t for _, t in PAIRS]

    def run():
        model = Seq2SeqModel(task="translate", backbone=backbone, strategy=strategy, progress=False, seed=0,
                             **{**FAST, "epochs": 3, "max_grad_norm": 0.5})
        return model.fit(sources * 3, targets * 3, sources, targets)

    losses, model = record_losses(monkeypatch, run)
    history = [[h["step"], h["train_loss"], h.get("valid_loss")] for h in model.fit_report_["history"]]
    check(f"generation-{strategy}", {"losses": losses, "history": history,
                                     "weights": parameter_sum(model.backend_.model)})
