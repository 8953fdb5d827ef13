"""Layer maps and discriminative learning rates, schedule shapes, and the lr range test's suggestion."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from headstart.training.loop import default_param_groups
from headstart.training.param_groups import layer_map, layerwise_param_groups, top_k_names
from headstart.training.schedules import SCHEDULE_NAMES, lr_multiplier, make_scheduler


@pytest.fixture(scope="module")
def bert(tiny_backbone):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(tiny_backbone, num_labels=3)


def tiny_llama():
    from transformers import LlamaConfig, LlamaForSequenceClassification

    config = LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=3,
                         num_attention_heads=2, num_key_value_heads=2, num_labels=2, pad_token_id=0)
    return LlamaForSequenceClassification(config)


def test_layer_map_of_an_encoder(bert):
    lmap = layer_map(bert)
    assert lmap.layers_prefix == "bert.encoder.layer" and lmap.n_layers == 2 and lmap.top == 3
    assert lmap.depths["bert.embeddings.word_embeddings.weight"] == 0
    assert lmap.depths["bert.encoder.layer.0.attention.self.query.weight"] == 1
    assert lmap.depths["bert.encoder.layer.1.output.dense.bias"] == 2
    assert lmap.depths["bert.pooler.dense.weight"] == 3 and lmap.depths["classifier.weight"] == 3


def test_layer_map_of_a_decoder_and_of_a_peft_model():
    model = tiny_llama()
    lmap = layer_map(model)
    assert lmap.layers_prefix == "model.layers" and lmap.n_layers == 3
    assert lmap.depths["model.embed_tokens.weight"] == 0
    assert lmap.depths["model.norm.weight"] == 4 and lmap.depths["score.weight"] == 4
    import peft

    wrapped = peft.get_peft_model(model, peft.LoraConfig(task_type="SEQ_CLS", r=2, target_modules=["q_proj"]))
    wmap = layer_map(wrapped)
    assert wmap.n_layers == 3 and wmap.layers_prefix.endswith("model.layers")
    lora = [n for n in wmap.depths if "lora_A" in n and ".layers.2." in n]
    assert lora and all(wmap.depths[n] == 3 for n in lora)


def test_top_k_names(bert):
    lmap = layer_map(bert)
    head = top_k_names(lmap, 0)
    assert head == {n for n, d in lmap.depths.items() if d == 3}
    one = top_k_names(lmap, 1)
    assert any(".layer.1." in n for n in one) and not any(".layer.0." in n for n in one)
    assert not any("embeddings" in n for n in top_k_names(lmap, 2))
    assert top_k_names(lmap, 3) == set(lmap.depths)


def lr_of(groups):
    return {id(p): g["lr"] for g in groups for p in g["params"]}


def test_layerwise_learning_rates(bert):
    groups = layerwise_param_groups(bert, 1.0, 0.01, lr_decay=0.5)
    lrs = lr_of(groups)
    params = dict(bert.named_parameters())
    assert lrs[id(params["classifier.weight"])] == 1.0
    assert lrs[id(params["bert.encoder.layer.1.attention.self.query.weight"])] == 0.5
    assert lrs[id(params["bert.encoder.layer.0.attention.self.query.weight"])] == 0.25
    assert lrs[id(params["bert.embeddings.word_embeddings.weight"])] == 0.125
    decays = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    assert decays[id(params["bert.encoder.layer.0.attention.self.query.bias"])] == 0.0
    assert decays[id(params["bert.encoder.layer.0.attention.self.query.weight"])] == 0.01
    assert len(lrs) == sum(1 for _ in bert.parameters())


def test_no_decay_equals_the_default_groups(bert):
    ours = layerwise_param_groups(bert, 3e-4, 0.01, lr_decay=1.0)
    default = default_param_groups(bert, 3e-4, 0.01)
    as_sets = lambda gs: {(g["lr"], g["weight_decay"], frozenset(id(p) for p in g["params"])) for g in gs}  # noqa: E731
    assert as_sets(ours) == as_sets(default)


def test_l2sp_turns_off_backbone_weight_decay_only(bert):
    groups = layerwise_param_groups(bert, 1.0, 0.01, backbone_weight_decay=0.0)
    decays = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    params = dict(bert.named_parameters())
    assert decays[id(params["bert.encoder.layer.0.output.dense.weight"])] == 0.0
    assert decays[id(params["classifier.weight"])] == 0.01


def test_bad_lr_decay_is_an_error(bert):
    from headstart.errors import ModelError

    with pytest.raises(ModelError, match="lr_decay"):
        layerwise_param_groups(bert, 1.0, 0.0, lr_decay=1.5)


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
def test_every_schedule_warms_up_and_ends_low(name):
    total, warmup = 100, 10
    curve = [lr_multiplier(name, s, total, warmup) for s in range(total)]
    assert all(0 < v <= 1.0 + 1e-9 for v in curve)
    assert curve[0] < curve[warmup - 1] == pytest.approx(1.0)
    assert np.all(np.diff(curve[:warmup]) > 0)
    if name != "constant":
        assert np.all(np.diff(curve[warmup:]) <= 1e-12) and curve[-1] < 0.1


def test_one_cycle_shape():
    curve = [lr_multiplier("one-cycle", s, 1000, 300) for s in range(1000)]
    assert curve[0] == pytest.approx(1 / 25, rel=0.01)
    assert int(np.argmax(curve)) == 299
    assert curve[-1] < 1e-3


def test_slanted_triangular_shape():
    curve = [lr_multiplier("slanted-triangular", s, 1000, 100) for s in range(1000)]
    assert int(np.argmax(curve)) == 99
    assert min(curve) >= 1 / 32 - 1e-12 and curve[-1] == pytest.approx(1 / 32, abs=2e-3)
    # Linear pieces: constant slope up, constant slope down.
    assert np.allclose(np.diff(curve[:100]), np.diff(curve[:100])[0])
    assert np.allclose(np.diff(curve[100:]), np.diff(curve[100:])[0])


def test_scheduler_keeps_the_ratio_between_layer_groups():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([{"params": [a], "lr": 1.0}, {"params": [b], "lr": 0.25}])
    scheduler = make_scheduler(optimizer, "one-cycle", 20, 5)
    for _ in range(7):
        optimizer.step()
        scheduler.step()
    lr_a, lr_b = (g["lr"] for g in optimizer.param_groups)
    assert lr_b == pytest.approx(0.25 * lr_a)


def test_lr_suggestion_is_the_steepest_descent():
    from headstart.training.lr_find import suggest

    lrs = list(np.geomspace(1e-6, 1, 60))
    # A synthetic curve: flat, a steep drop centred at 1e-3, a minimum, then divergence.
    x = np.log10(lrs)
    loss = 1.0 - 0.8 / (1 + np.exp(-(x + 3) * 4)) + np.where(x > -1, (x + 1) ** 2 * 5, 0)
    steepest, min_over_10 = suggest(lrs, list(loss))
    assert 10 ** -3.3 < steepest < 10 ** -2.7
    assert min_over_10 == pytest.approx(lrs[int(np.argmin(loss))] / 10)


def test_lr_range_test_stops_on_divergence(tiny_backbone, small_data):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from headstart.targets import Target
    from headstart.training.lr_find import lr_range_test

    train, _ = small_data
    classes = sorted(set(train.label))
    target = Target(train.text.tolist()[:64], np.asarray([classes.index(c) for c in train.label[:64]]),
                    "classification", classes)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_backbone, num_labels=2)
    result = lr_range_test(model, AutoTokenizer.from_pretrained(tiny_backbone), target, start_lr=1e-3,
                           end_lr=1e4, steps=25, max_length=32)
    assert result.stopped_early and len(result.lrs) < 25
    assert np.all(np.diff(result.lrs) > 0) and math.isfinite(result.suggested_lr)
    assert result.lrs[0] <= result.suggested_lr <= result.lrs[-1]
