"""The target-only loss of decoder-only models: same value and gradients as the model's own loss, and a
fallback to the model's loss for architectures that post-process their logits."""

from __future__ import annotations

import pytest

from headstart.backbones import resolve_backbone
from headstart.strategies import get_strategy
from headstart.generation.config import GenerationConfig
from headstart.generation.encoding import Prompter, collate, training_examples
from headstart.generation.loss import (MIN_SHARED_PREFIX, choose_loss, model_loss, shared_prefix_length,
                                       shared_prefix_loss, target_only_loss)
from headstart.generation.trainer import check_rows

from .conftest import PAIRS
from .test_model import _fit

SOURCES = [s for s, _ in PAIRS]
TARGETS = [t for _, t in PAIRS]


def _batch(backend, config):
    prompter = Prompter.for_backend(backend, "translate", config)
    examples = training_examples(backend, prompter, SOURCES, TARGETS, config)
    return collate(examples, backend.tokenizer.pad_token_id, "cpu")


def assert_same_loss_and_gradients(model, batch, reference, fast) -> None:
    """Both losses and every trainable parameter's gradient agree (eval mode: LoRA's dropout would make the two
    backward passes differ; gradients still flow)."""
    import torch

    model.eval()
    results = []
    for fn in (reference, fast):
        model.zero_grad()
        loss = fn(model, batch)
        loss.backward()
        results.append((loss.item(), [p.grad.clone() for p in model.parameters() if p.requires_grad]))
    (ref_loss, ref_grads), (fast_loss, fast_grads) = results
    assert fast_loss == pytest.approx(ref_loss, rel=1e-5)
    for ref, got in zip(ref_grads, fast_grads):
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-6)


def test_the_shared_prefix_is_checked_on_two_rows_of_different_lengths():
    rows = [{"input_ids": [1] * n} for n in (5, 5, 9, 7, 5, 5, 5, 5, 12)]
    assert [len(r["input_ids"]) for r in check_rows(rows)] == [5, 9]  # the 12 is past the first eight
    assert check_rows(rows[:2]) == rows[:2] and check_rows(rows[:1]) == rows[:1]  # same lengths, one row
    assert [len(r["input_ids"]) for r in check_rows([{"input_ids": [1] * 9}, {"input_ids": [1] * 3}])] == [9, 3]


@pytest.mark.parametrize("strategy", ["full", "lora"])
def test_target_only_loss_equals_the_models_loss_and_gradients(tiny_decoder, strategy):
    config = GenerationConfig(device="cpu")
    backend = get_strategy(strategy, "translate")().build_backend(resolve_backbone(tiny_decoder), config)
    model, batch = backend.model, _batch(backend, config)
    assert (batch["labels"] == -100).any() and (batch["attention_mask"] == 0).any()  # prompts and padding present
    assert choose_loss(model, batch)[1] == "target-only"
    assert_same_loss_and_gradients(model, batch, reference=model_loss, fast=target_only_loss)


def test_models_that_change_their_logits_keep_their_own_loss(tiny_backbone, tmp_path):
    import torch
    from transformers import AutoTokenizer, Gemma2Config, Gemma2ForCausalLM

    tok = AutoTokenizer.from_pretrained(tiny_backbone)
    config = Gemma2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                          num_attention_heads=2, num_key_value_heads=2, head_dim=16, final_logit_softcapping=0.01,
                          pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = Gemma2ForCausalLM(config)
    ids = torch.randint(5, len(tok), (2, 12))
    labels = ids.clone()
    labels[:, :6] = -100
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    # soft-capping squashes the logits, so lm_head(hidden) alone would give another loss
    assert target_only_loss(model, batch).item() != pytest.approx(model_loss(model, batch).item(), rel=1e-3)
    assert choose_loss(model, batch)[1] == "model"


def test_fit_reports_the_loss_it_used(tiny_decoder, tiny_seq2seq):
    # the sources come first: the rows share a token or two, too few to share
    assert _fit(tiny_decoder, prompt_template="{source} german :").fit_report_["loss"] == "target-only"
    assert _fit(tiny_decoder, prompt_template=LONG_PROMPT).fit_report_["loss"] == "target-only+shared-prefix"
    # checkpointed layers recompute their forward pass: the shared prefix's cache is not handed over then
    assert _fit(tiny_decoder, prompt_template=LONG_PROMPT,
                gradient_checkpointing=True).fit_report_["loss"] == "target-only"
    assert _fit(tiny_seq2seq).fit_report_["loss"] == "model"


LONG_PROMPT = "please translate the following english sentence into german , word by word : {source} german :"


def _ids_batch(rows, labels_from):
    import torch

    ids = torch.tensor(rows)
    labels = ids.clone()
    labels[:, :labels_from] = -100
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


def test_shared_prefix_length():
    common = list(range(10, 10 + MIN_SHARED_PREFIX + 2))
    rows = [common + [1, 2, 3, 4], common + [5, 6, 7, 8]]
    assert shared_prefix_length(_ids_batch(rows, labels_from=len(common) + 2)) == len(common)
    assert shared_prefix_length(_ids_batch(rows[:1], labels_from=len(common) + 2)) == 0  # one row: nothing to share
    assert shared_prefix_length(_ids_batch(rows, labels_from=3)) == 0  # a target inside the prefix
    short = [common[:MIN_SHARED_PREFIX - 1] + [1] * 8, common[:MIN_SHARED_PREFIX - 1] + [2] * 8]
    assert shared_prefix_length(_ids_batch(short, labels_from=10)) == 0  # too short to be worth it
    same = _ids_batch([common + [1, 2], common + [1, 2]], labels_from=len(common))
    same["labels"][:, :] = -100
    same["labels"][:, -1] = 2
    # identical rows: the prefix stops before the position that predicts the first target
    assert shared_prefix_length(same) == len(common)
    same["labels"][:, -1] = -100
    assert shared_prefix_length(same) == len(common) + 1  # no target at all: every row keeps one token


@pytest.mark.parametrize("strategy", ["full", "lora"])
def test_shared_prefix_loss_equals_target_only_loss_and_gradients(tiny_decoder, strategy):
    config = GenerationConfig(device="cpu", prompt_template=LONG_PROMPT)
    backend = get_strategy(strategy, "translate")().build_backend(resolve_backbone(tiny_decoder), config)
    model, batch = backend.model, _batch(backend, config)
    assert shared_prefix_length(batch) >= MIN_SHARED_PREFIX and (batch["attention_mask"] == 0).any()
    assert choose_loss(model, batch, shared_batch=batch)[1] == "target-only+shared-prefix"
    assert_same_loss_and_gradients(model, batch, reference=target_only_loss, fast=shared_prefix_loss)


def _scratch(tiny_decoder, vocabulary: str):
    config = GenerationConfig(device="cpu", scratch_dim=16, scratch_layers=1, scratch_vocabulary=vocabulary)
    backend = get_strategy("scratch", "translate")().build_backend(resolve_backbone(tiny_decoder), config)
    prompter = Prompter.for_backend(backend, "translate", config)
    examples = training_examples(backend, prompter, SOURCES, TARGETS, config)
    return backend, examples


def test_scratch_trains_the_seen_vocabulary_and_matches_the_models_loss_once_masked(tiny_decoder):
    import torch

    from headstart.generation.loss import mask_unseen_outputs, seen_tokens

    backend, examples = _scratch(tiny_decoder, "seen")
    model, batch = backend.model, collate(examples, backend.tokenizer.pad_token_id, "cpu")
    loss_fn, name = choose_loss(model, batch, examples)
    assert name == "seen-vocabulary"
    seen = seen_tokens(examples)
    assert 0 < len(seen) < model.config.vocab_size and backend.tokenizer.eos_token_id in seen.tolist()
    model.eval()
    restricted = loss_fn(model, batch)
    assert not torch.isclose(restricted, model_loss(model, batch))  # unmasked, the other tokens take probability
    mask_unseen_outputs(model, seen)
    assert torch.isclose(restricted, model_loss(model, batch), rtol=1e-5, atol=1e-5)


def test_scratch_with_all_tokens_uses_the_models_loss(tiny_decoder):
    backend, examples = _scratch(tiny_decoder, "all")
    batch = collate(examples, backend.tokenizer.pad_token_id, "cpu")
    assert choose_loss(backend.model, batch, examples)[1] == "model"


def test_a_scratch_model_forbids_unseen_tokens_also_after_loading(tiny_decoder, tmp_path):
    from headstart.generation import Seq2SeqModel

    model = Seq2SeqModel(backbone=tiny_decoder, strategy="scratch", progress=False, epochs=1, lr=1e-3, batch_size=4,
                         device="cpu", valid_fraction=0.0, scratch_dim=16, scratch_layers=1, max_new_tokens=6)
    model.fit(SOURCES, TARGETS)
    assert model.fit_report_["loss"] == "seen-vocabulary" and model.fit_report_["train_tokens"] > 0
    model.save(tmp_path / "m")
    loaded = Seq2SeqModel.load(tmp_path / "m")
    tok = loaded.backend_.tokenizer
    seen = {t for text in TARGETS for t in tok(text, add_special_tokens=False)["input_ids"]} | {tok.eos_token_id}
    bias = loaded.backend_.model.final_logits_bias[0]
    unseen = [i for i in range(len(bias)) if i not in seen]
    assert (bias[sorted(seen)] == 0).all() and (bias[unseen] <= -1e3).all()
    assert all(isinstance(text, str) for text in loaded.predict(SOURCES))
