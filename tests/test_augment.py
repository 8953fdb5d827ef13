"""Augmentation: the centroid filter, the text edits, and the rows written for inspection."""

from __future__ import annotations

import numpy as np
import pandas as pd

from headstart import TextClassifier
from headstart.augment import augment_examples, edit_candidates, keep_closer_to_own
from headstart.data.examples import from_lists


def test_filter_keeps_only_candidates_closer_to_their_own_centroid():
    centroids = np.array([[1.0, 0.0], [0.0, 1.0]])
    candidates = np.array([[0.9, 0.1], [0.9, 0.1], [0.2, 0.8], [0.6, 0.6]])
    candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
    labels = np.array([0, 1, 1, 0])
    # 0: near class 0 (kept); 1: labelled 1 but near 0 (dropped); 2: near 1 (kept); 3: a tie is not closer (dropped)
    assert keep_closer_to_own(candidates, labels, centroids).tolist() == [True, False, True, False]


def test_edits_keep_the_words_of_the_source():
    rng = np.random.default_rng(0)
    source = "the quick brown fox jumps over the lazy dog"
    for text, kind in edit_candidates([source], 30, rng):
        assert kind.startswith("edit:")
        assert set(text.split()) <= set(source.split()) and len(text.split()) >= 4


def test_augment_adds_filtered_rows_and_writes_them(tiny_backbone, tmp_path):
    texts = ["good great fine film", "great fine good movie", "bad awful poor film", "awful poor bad movie",
             "poor bad awful show"]
    labels = ["pos", "pos", "neg", "neg", "neg"]
    out = tmp_path / "generated.csv"
    augmented, rows = augment_examples(from_lists(texts, labels), 3, backbone=tiny_backbone, seed=0,
                                       augment_output=str(out), augment_lm="none")
    # 'pos' is the only scarce class (2 < 3 examples)
    assert rows and {r["label"] for r in rows} == {"pos"} and len(rows) <= 3
    assert len(augmented) == len(texts) + len(rows)
    written = pd.read_csv(out)
    assert written.columns.tolist() == ["text", "label", "source"] and len(written) == len(rows)
    assert not set(written.text) & set(texts)


def test_augment_option_of_text_classifier_saves_rows(tiny_backbone, tmp_path):
    texts = ["good great fine film", "great fine good movie", "bad awful poor film", "awful poor bad movie"]
    clf = TextClassifier(backbone=tiny_backbone, strategy="prototype", augment=2, augment_lm="none", progress=False)
    clf.fit(texts, ["pos", "pos", "neg", "neg"])
    assert clf.data_["augmented_rows"] == len(clf.augmented_) > 0
    clf.save(tmp_path / "m")
    assert len(pd.read_csv(tmp_path / "m" / "augmented.csv")) == len(clf.augmented_)
    TextClassifier.load(tmp_path / "m")  # the CSV is covered by the folder's file hashes


def test_augment_with_the_language_model(tiny_backbone, tmp_path):
    """LM paraphrases are generated (seeded) and go through the same filter; with a random tiny decoder
    they are noise, so only the mechanics are checked here."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path / "lm"
    tok = AutoTokenizer.from_pretrained(tiny_backbone)
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                 num_key_value_heads=2, intermediate_size=64, pad_token_id=tok.pad_token_id)
                     ).save_pretrained(folder, safe_serialization=True)
    texts = ["good great fine film", "great fine good movie", "bad awful poor film", "awful poor bad movie"]
    runs = [augment_examples(from_lists(texts, ["pos", "pos", "neg", "neg"]), 2, backbone=tiny_backbone, seed=1,
                             augment_lm=str(folder))[1] for _ in range(2)]
    assert runs[0] == runs[1]
    assert all(r["source"] in ("lm", "edit:dropout", "edit:swap", "edit:shuffle") for r in runs[0])
