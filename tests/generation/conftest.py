"""Tiny random generation models built from config, sharing the tiny BERT fixture's WordPiece tokenizer:
a 2-layer Llama (decoder-only) and a 2-layer BART (encoder-decoder). Seconds to train, real code paths."""

from __future__ import annotations

import json
import shutil

import pytest

PAIRS = [("a good film", "ein guter film"), ("a bad film", "ein schlechter film"),
         ("a good day", "ein guter tag"), ("a bad day", "ein schlechter tag"),
         ("the film is good", "der film ist gut"), ("the day is bad", "der tag ist schlecht")]


def _tokenizer(tiny_backbone: str, folder):
    from transformers import AutoTokenizer

    from tokenizers import decoders

    tok = AutoTokenizer.from_pretrained(tiny_backbone)
    tok.backend_tokenizer.decoder = decoders.WordPiece()  # the fixture's tokenizer cannot join "##" pieces
    tok.eos_token, tok.bos_token = "[SEP]", "[CLS]"
    tok.save_pretrained(folder)
    return tok


@pytest.fixture(scope="session")
def tiny_decoder(tiny_backbone, tmp_path_factory) -> str:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llama")
    tok = _tokenizer(tiny_backbone, folder)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id,
                         architectures=["LlamaForCausalLM"])
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_seq2seq(tiny_backbone, tmp_path_factory) -> str:
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

    folder = tmp_path_factory.mktemp("tiny-bart")
    tok = _tokenizer(tiny_backbone, folder)
    config = BartConfig(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                        max_position_embeddings=128, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                        bos_token_id=tok.bos_token_id, decoder_start_token_id=tok.bos_token_id,
                        forced_eos_token_id=None)
    torch.manual_seed(0)
    BartForConditionalGeneration(config).save_pretrained(folder, safe_serialization=True)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_t5(tiny_backbone, tmp_path_factory) -> str:
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    folder = tmp_path_factory.mktemp("tiny-t5")
    tok = _tokenizer(tiny_backbone, folder)
    config = T5Config(vocab_size=len(tok), d_model=32, d_kv=16, d_ff=64, num_layers=1, num_heads=2,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                      decoder_start_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    T5ForConditionalGeneration(config).save_pretrained(folder, safe_serialization=True)
    return str(folder)


@pytest.fixture(scope="session")
def pair_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs")
    rows = [{"source": s, "target": t} for s, t in PAIRS * 4]
    with open(folder / "train.jsonl", "w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    with open(folder / "test.jsonl", "w") as fh:
        fh.writelines(json.dumps({"source": s, "target": t}) + "\n" for s, t in PAIRS)
    return folder


FAST = dict(epochs=2, batch_size=4, lr=1e-3, max_new_tokens=6, device="cpu", valid_fraction=0.0)
