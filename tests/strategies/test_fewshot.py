"""contrastive and prototype: linear pair sampling, one-shot, add_class, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from headstart import TextClassifier
from headstart.errors import ConfigError, DataError
from headstart.strategies.contrastive import sample_triplets
from headstart.strategies.prototype import fit_temperature, leave_one_out_similarities, prototypes


@pytest.mark.parametrize("per_example", [4, 8])
def test_triplet_count_is_linear_in_classes_times_examples(per_example):
    rng = np.random.default_rng(0)
    counts = {}
    for n_classes in (10, 77):
        y = np.repeat(np.arange(n_classes), 8)
        triplets = sample_triplets(y, per_example, rng)
        counts[n_classes] = len(triplets)
        assert np.all(y[triplets[:, 0]] == y[triplets[:, 1]]), "positives share the anchor's class"
        assert np.all(y[triplets[:, 0]] != y[triplets[:, 2]]), "negatives come from another class"
        assert np.all(triplets[:, 0] != triplets[:, 1]), "with 8 per class a positive is another text"
    assert counts == {10: 10 * 8 * per_example, 77: 77 * 8 * per_example}
    # all pairs would be 616 * 615 / 2 = 189,420 for 77 x 8; linear sampling stays 7.7x the 10-class count
    assert counts[77] / counts[10] == pytest.approx(7.7)


def test_triplets_per_example_are_capped_by_the_other_class_examples():
    y = np.repeat([0, 1], 8)  # 8 negatives per anchor: drawing 20 would repeat them
    triplets = sample_triplets(y, 20, np.random.default_rng(0))
    assert len(triplets) == 16 * 8
    assert np.bincount(triplets[:, 0]).tolist() == [8] * 16
    assert len(sample_triplets(np.repeat(np.arange(6), 8), 20, np.random.default_rng(0))) == 48 * 20


def test_max_total_lowers_the_count_per_example_evenly():
    y = np.repeat(np.arange(77), 8)  # 616 examples: 5000 // 616 = 8 each instead of 20
    triplets = sample_triplets(y, 20, np.random.default_rng(0), max_total=5000)
    assert np.bincount(triplets[:, 0]).tolist() == [8] * 616
    assert len(sample_triplets(y, 20, np.random.default_rng(0), max_total=10)) == 616, "at least one each"
    assert len(sample_triplets(np.repeat(np.arange(6), 8), 20, np.random.default_rng(0), max_total=5000)) == 48 * 20


def test_one_shot_class_pairs_with_itself():
    y = np.array([0, 1, 1, 2])
    triplets = sample_triplets(y, 3, np.random.default_rng(1))
    first = triplets[triplets[:, 0] == 0]
    assert np.all(first[:, 1] == 0) and np.all(y[first[:, 2]] != 0)


def test_temperature_fit_recovers_sharpness():
    rng = np.random.default_rng(0)
    centres = np.eye(4, 16)
    x = np.concatenate([centres[c] + 0.3 * rng.normal(size=(10, 16)) for c in range(4)])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.repeat(np.arange(4), 10)
    sims, yy = leave_one_out_similarities(x, y, 4)
    assert len(yy) == 40 and sims.shape == (40, 4)
    t_clean = fit_temperature(sims, yy)
    t_noisy = fit_temperature(sims, rng.permutation(yy))  # shuffled labels: best is a flat softmax
    assert t_clean < t_noisy
    one_shot = leave_one_out_similarities(x[::10], y[::10], 4)[1]
    assert len(one_shot) == 0  # nothing to fit on: the strategy falls back to its default


def test_prototypes_are_normalised_class_means():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    p = prototypes(x, np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(p, [[2 ** -0.5, 2 ** -0.5], [2 ** -0.5, 2 ** -0.5]])


def test_prototype_one_shot_and_add_class_on_tiny_model(tiny_backbone, tmp_path):
    texts = ["good great fine film", "bad awful poor film"]
    clf = TextClassifier(backbone=tiny_backbone, strategy="prototype", progress=False).fit(texts, ["pos", "neg"])
    assert clf.predict(texts) == ["pos", "neg"]
    assert any("default temperature" in n for n in clf.fit_report_.notes)
    clf.add_class("neutral", ["the film is a film"])
    assert clf.classes_ == ["neg", "pos", "neutral"]
    assert clf.predict(["the film is a film"]) == ["neutral"]
    assert clf.predict_proba(texts).shape == (2, 3)
    with pytest.raises(DataError):
        clf.add_class("pos", ["again"])
    clf.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.classes_ == clf.classes_
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)


def test_add_class_needs_a_strategy_that_supports_it(tiny_backbone):
    clf = TextClassifier(backbone=tiny_backbone, strategy="scratch-tfidf", progress=False)
    clf.fit(["good film", "bad film", "great movie", "awful movie"], ["pos", "neg", "pos", "neg"])
    with pytest.raises(ConfigError, match="prototype"):
        clf.add_class("neutral", ["a film"])


@pytest.mark.real_model
def test_add_class_changes_only_the_new_region():
    """Texts about a new topic move to the new class; every other prediction stays the same."""
    sentiment = ["a wonderful, moving film", "I loved every minute of this movie", "a dull and tedious film",
                 "the worst movie I have seen this year"]
    labels = ["positive", "positive", "negative", "negative"]
    clf = TextClassifier(strategy="prototype", progress=False).fit(sentiment, labels)
    others = ["an enjoyable, charming comedy", "boring plot and terrible acting", "a delightful surprise",
              "I hated it", "great performances all round", "a complete waste of time"]
    weather = ["heavy rain and strong winds are expected tomorrow", "the forecast says sunny skies and 25 degrees",
               "snow storms will hit the north tonight"]
    before = clf.predict(others)
    clf.add_class("weather", ["it will rain all day with cold wind", "tomorrow will be sunny and warm"])
    assert clf.predict(others) == before
    assert clf.predict(weather) == ["weather"] * 3


@pytest.mark.real_model
def test_contrastive_one_shot_real_model_round_trip(tmp_path):
    texts = ["what a wonderful film", "a dreadful, boring movie", "how many people live in Paris ?"]
    clf = TextClassifier(strategy="contrastive", progress=False, triplets_per_example=2, max_length=32)
    clf.fit(texts, ["positive", "negative", "question"])
    assert clf.predict(texts) == ["positive", "negative", "question"]
    clf.save(tmp_path / "m")
    assert (tmp_path / "m" / "head.safetensors").exists() and (tmp_path / "m" / "config.json").exists()
    loaded = TextClassifier.load(tmp_path / "m")
    probe = ["an awful film", "a lovely movie", "where is Rome ?"]
    np.testing.assert_allclose(loaded.predict_proba(probe), clf.predict_proba(probe), atol=1e-6)


@pytest.fixture(scope="module")
def tiny_encoder(tiny_backbone):
    """The tiny backbone's encoder (eval mode, no dropout) and tokenizer, for calling the loss directly."""
    from headstart.backbones import load_model, load_tokenizer, resolve_backbone

    ref = resolve_backbone(tiny_backbone)
    return load_model(ref).eval(), load_tokenizer(ref)


def test_mnr_loss_masks_same_class_candidates(tiny_encoder):
    """Both losses are finite and positive on a mixed batch; a batch whose only candidates are the anchors'
    own positives (every other candidate masked as same-class) gives the minimum, 0, for mnr."""
    import torch

    from headstart.strategies.contrastive import ContrastiveConfig, contrastive_loss

    model, tok = tiny_encoder
    texts = ["good film", "great film", "fine film", "bad film", "awful film", "poor film"]
    y = np.array([0, 0, 0, 1, 1, 1])
    config = ContrastiveConfig(loss="mnr", max_length=16)
    triplets = np.array([[0, 1, 3], [3, 4, 0], [2, 1, 5]])
    with torch.no_grad():
        loss = contrastive_loss(model, tok, texts, y, triplets, config, "cpu")
        cosine = contrastive_loss(model, tok, texts, y, triplets, ContrastiveConfig(loss="cosine", max_length=16), "cpu")
    assert torch.isfinite(loss) and torch.isfinite(cosine) and loss.item() > 0 and cosine.item() > 0
    same = np.array([0, 0, 0, 0, 0, 0])  # pretend one class: all candidates but the own positive are masked
    with torch.no_grad():
        masked = contrastive_loss(model, tok, texts, same, np.array([[0, 1, 2], [2, 0, 1]]), config, "cpu")
    assert masked.item() == pytest.approx(0.0, abs=1e-6)


def test_contrastive_cosine_loss_fits_tiny_model(tiny_backbone):
    """The default loss (mnr) runs in the strategy matrix; SetFit's cosine loss is the option."""
    texts = ["good great fine film", "great fine good movie", "bad awful poor film", "awful poor bad movie"]
    clf = TextClassifier(backbone=tiny_backbone, strategy="contrastive", loss="cosine", epochs=2, lr=1e-3,
                         triplets_per_example=2, max_length=16, progress=False).fit(texts, ["p", "p", "n", "n"])
    assert "cosine" in clf.fit_report_.notes[0] and clf.predict_proba(texts).shape == (4, 2)


def test_mnr_candidates_include_the_other_triplets_anchors(tiny_encoder):
    """The mnr loss equals cross-entropy over every text embedded for the batch (the other triplet's anchor
    included), with same-class texts other than the own positive masked."""
    import torch

    from headstart.strategies.contrastive import ContrastiveConfig, contrastive_loss, mean_pool

    model, tok = tiny_encoder
    texts = ["good film", "great film", "dull plot", "slow plot", "loud music"]
    y = np.array([0, 0, 1, 1, 2])
    triplets = np.array([[0, 1, 4], [2, 3, 4]])
    config = ContrastiveConfig(loss="mnr", max_length=16)
    with torch.no_grad():
        loss = contrastive_loss(model, tok, texts, y, triplets, config, "cpu")
        emb = mean_pool(model, tok, texts, 16, "cpu")
        expected = []
        for anchor, positive, _ in triplets:
            logits = config.scale * emb[anchor] @ emb.T
            logits[[i for i in range(5) if y[i] == y[anchor] and i != positive]] = float("-inf")
            expected.append(-torch.log_softmax(logits, 0)[positive])
    assert loss.item() == pytest.approx(torch.stack(expected).mean().item(), rel=1e-4)
