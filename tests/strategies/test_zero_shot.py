"""zero-shot: label names only, label descriptions, LM label scoring (tiny random decoder), real models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from headstart import TextClassifier
from headstart.errors import ConfigError, DataError
from headstart.strategies.zero_shot import read_label_descriptions


@pytest.fixture(scope="module")
def tiny_decoder(tmp_path_factory, tiny_backbone):
    """A 2-layer random Llama with the tiny WordPiece tokenizer: the LM code paths in a second."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llama")
    tok = AutoTokenizer.from_pretrained(tiny_backbone)
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, intermediate_size=64, max_position_embeddings=256,
                         pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    return str(folder)


def test_fit_on_label_names_only(tiny_backbone, tmp_path):
    clf = TextClassifier(backbone=tiny_backbone, strategy="zero-shot", labels=["positive", "negative"],
                         progress=False).fit([], None)
    assert clf.classes_ == ["negative", "positive"]
    p = clf.predict_proba(["a fine film", "a bad film"])
    assert p.shape == (2, 2) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert clf.metadata()["config"]["variant"] == "embedding"
    assert any("variant 'embedding'" in n for n in clf.fit_report_.notes)
    clf.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m").predict_proba(["a fine film", "a bad film"])
    np.testing.assert_allclose(loaded, p, atol=1e-5)


def test_label_names_only_is_refused_for_strategies_that_learn(tiny_backbone):
    with pytest.raises(DataError):
        TextClassifier(backbone=tiny_backbone, strategy="probe", progress=False).fit([], None)


def test_label_descriptions_json_and_csv(tmp_path, tiny_backbone):
    j = tmp_path / "d.json"
    j.write_text(json.dumps({"LOC": "a place", "HUM": "a person"}))
    c = tmp_path / "d.csv"
    c.write_text("label,description\nLOC,a place\nHUM,\"a person, or a group\"\n")
    assert read_label_descriptions(j) == {"LOC": "a place", "HUM": "a person"}
    assert read_label_descriptions(c) == {"LOC": "a place", "HUM": "a person, or a group"}
    clf = TextClassifier(backbone=tiny_backbone, strategy="zero-shot", label_descriptions=str(j), progress=False)
    clf.fit(["where is it", "who is he"], ["LOC", "HUM"])
    assert clf.strategy_.descriptions_ == ["a person", "a place"]  # in class order HUM, LOC
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError):
        read_label_descriptions(bad)


def test_lm_scores_match_an_unbatched_forward_pass(tiny_decoder):
    """Batched, padded scoring reads the right positions: equal to scoring each sequence alone."""
    import torch

    from headstart.instruct_lm import load_lm, score_continuations

    model, tok = load_lm(tiny_decoder)
    prompts = ["classify this film", "a much longer prompt about a film that was good"]
    answers = ["positive", "negative film"]
    scores = score_continuations(model, tok, prompts, answers, batch_size=3)
    for i, p in enumerate(prompts):
        for j, a in enumerate(answers):
            pi = tok(p, add_special_tokens=False)["input_ids"]
            ai = tok(a, add_special_tokens=False)["input_ids"]
            with torch.inference_mode():
                logits = model(input_ids=torch.tensor([pi + ai])).logits[0]
            lp = torch.log_softmax(logits, -1)
            expected = np.mean([lp[len(pi) - 1 + k, t].item() for k, t in enumerate(ai)])
            assert scores[i, j] == pytest.approx(expected, abs=1e-4)


def test_lm_variant_end_to_end_on_tiny_decoder(tiny_backbone, tiny_decoder, tmp_path):
    clf = TextClassifier(backbone=tiny_backbone, strategy="zero-shot", variant="lm", lm=tiny_decoder,
                         labels="good,bad,neutral", progress=False).fit([], None)
    texts = ["a fine film", "a bad film", "a film"]
    p = clf.predict_proba(texts)
    assert p.shape == (3, 3) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert clf.strategy_.calibration_ is not None and clf.strategy_.calibration_.shape == (3,)
    assert clf.metadata()["config"]["variant"] == "lm"
    clf.save(tmp_path / "m")
    np.testing.assert_allclose(TextClassifier.load(tmp_path / "m").predict_proba(texts), p, atol=1e-6)


@pytest.mark.real_model
def test_embedding_zero_shot_beats_majority_on_sst2_sample(small_data):
    train, test = small_data
    clf = TextClassifier(strategy="zero-shot", labels=["positive", "negative"],
                         template="This review is {label}.", progress=False).fit([], None)
    accuracy = clf.score(test.text.tolist(), test.label.tolist())
    majority = test.label.value_counts(normalize=True).max()
    assert accuracy > majority + 0.1


@pytest.mark.slow
@pytest.mark.real_model
def test_smollm2_zero_shot_beats_majority(small_data):
    _, test = small_data
    test = test.iloc[:40]
    clf = TextClassifier(strategy="zero-shot", variant="lm", labels=["positive", "negative"],
                         progress=False).fit([], None)
    accuracy = clf.score(test.text.tolist(), test.label.tolist())
    assert accuracy > test.label.value_counts(normalize=True).max()
