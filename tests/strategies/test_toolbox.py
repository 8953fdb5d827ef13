"""The adaptation toolbox on the tiny model: which parameters train (frozen ones stay bit-identical),
L2-SP and WiSE-FT, LoRA saving (adapter and merged)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from headstart import TextClassifier
from headstart.backbones import resolve_backbone
from headstart.config import build_config
from headstart.strategies import Target, get_strategy

FAST = {"min_steps": 0, "batch_size": 16, "max_length": 32, "lr": 1e-3, "patience": 0}


@pytest.fixture(scope="module")
def target(small_data):
    train, _ = small_data
    texts = train.text.tolist()[:96]
    classes = sorted(set(train.label))
    y = np.asarray([classes.index(label) for label in train.label.tolist()[:96]])
    return Target(texts, y, "classification", classes)


def fit_strategy(name, tiny_backbone, target, **options):
    cls = get_strategy(name)
    config = build_config(cls.config_cls, {**{k: v for k, v in FAST.items()}, **options})
    torch.manual_seed(0)
    strategy = cls()
    report = strategy.fit(resolve_backbone(tiny_backbone), target, None, config, seed=0)
    return strategy, report


def backbone_changes(model, tiny_backbone) -> tuple[set[str], set[str]]:
    """(changed, unchanged) backbone tensors, named as in the backbone file (e.g. encoder.layer.0...)."""
    original = load_file(f"{tiny_backbone}/model.safetensors")
    changed, unchanged = set(), set()
    for name, param in model.named_parameters():
        if "lora_" in name or "modules_to_save" in name or "original_module" in name:
            continue
        key = name.replace("base_model.model.", "").replace(".base_layer", "").replace("bert.", "", 1)
        if key in original:
            (unchanged if torch.equal(param.detach().cpu(), original[key]) else changed).add(key)
    assert changed | unchanged, "no backbone tensor was matched"
    return changed, unchanged


def in_layer(names, prefix):
    return {n for n in names if n.startswith(prefix)}


def test_top_k_trains_only_the_top_layers(tiny_backbone, target):
    strategy, report = fit_strategy("top-k", tiny_backbone, target, k=1, epochs=1)
    changed, unchanged = backbone_changes(strategy.classifier_.model, tiny_backbone)
    assert in_layer(changed, "encoder.layer.1.") and in_layer(changed, "pooler.")
    assert not in_layer(changed, "encoder.layer.0.") and not in_layer(changed, "embeddings.")
    trainable = sum(p.numel() for p in strategy.classifier_.model.parameters() if p.requires_grad)
    assert report.trainable_parameters == trainable < report.total_parameters


def test_head_only_changes_no_layer(tiny_backbone, target):
    strategy, _ = fit_strategy("head-only", tiny_backbone, target, epochs=1)
    changed, _ = backbone_changes(strategy.classifier_.model, tiny_backbone)
    assert changed and all(n.startswith("pooler.") for n in changed)


def test_bitfit_changes_biases_only(tiny_backbone, target):
    strategy, report = fit_strategy("bitfit", tiny_backbone, target, epochs=1)
    changed, unchanged = backbone_changes(strategy.classifier_.model, tiny_backbone)
    below_head = {n for n in changed if not n.startswith("pooler.")}
    assert below_head and all(n.endswith(".bias") for n in below_head)
    assert all(n in unchanged for n in load_file(f"{tiny_backbone}/model.safetensors")
               if n.endswith(".weight") and not n.startswith("pooler."))
    assert report.trainable_parameters < 0.1 * report.total_parameters


def test_lora_keeps_the_backbone_frozen(tiny_backbone, target):
    strategy, report = fit_strategy("lora", tiny_backbone, target, epochs=1, rank=4)
    model = strategy.classifier_.model
    changed, _ = backbone_changes(model, tiny_backbone)
    assert changed == set()
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # B starts at zero: it moved
    adapted = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n, p in model.named_parameters()
               if p.requires_grad and "lora_" in n}
    # default 'all-linear': every linear layer of the encoder and the pooler, the output layer excluded
    assert adapted == {"query", "key", "value", "dense"}
    assert not any("classifier" in n and "lora_" in n for n, _ in model.named_parameters())


def test_lora_auto_targets_follow_peft_table(tiny_backbone, target):
    strategy, _ = fit_strategy("lora", tiny_backbone, target, epochs=1, rank=4, target_modules="auto",
                               train_pooler=True)
    names = [n for n, p in strategy.classifier_.model.named_parameters() if p.requires_grad]
    assert any("query" in n for n in names) and any("value" in n for n in names)
    assert not any("key" in n or "dense" in n and "pooler" not in n for n in names if "lora_" in n)
    assert any("pooler" in n and "modules_to_save" in n for n in names)  # trained fully, saved with the adapter


def test_gradual_unfreezes_one_layer_per_epoch(tiny_backbone, target):
    strategy, report = fit_strategy("gradual", tiny_backbone, target, epochs=2)
    changed, _ = backbone_changes(strategy.classifier_.model, tiny_backbone)
    assert in_layer(changed, "encoder.layer.1.") and in_layer(changed, "pooler.")
    assert not in_layer(changed, "encoder.layer.0.") and not in_layer(changed, "embeddings.")
    assert "unfrozen layers per epoch: [0, 1]" in report.notes


def test_gradual_reaches_the_embeddings(tiny_backbone, target):
    strategy, report = fit_strategy("gradual", tiny_backbone, target.subset(range(0, 96, 3)), epochs=4)
    changed, _ = backbone_changes(strategy.classifier_.model, tiny_backbone)
    assert in_layer(changed, "encoder.layer.0.") and in_layer(changed, "embeddings.")


def backbone_distance(model, tiny_backbone) -> float:
    original = load_file(f"{tiny_backbone}/model.safetensors")
    total = 0.0
    for name, param in model.named_parameters():
        key = name.replace("bert.", "", 1)
        if key in original and not key.startswith("pooler."):
            total += float(((param.detach().cpu() - original[key]) ** 2).sum())
    return total ** 0.5


def test_l2sp_pulls_weights_toward_the_start(tiny_backbone, target):
    few = target.subset(range(0, 96, 2))
    plain, _ = fit_strategy("finetune", tiny_backbone, few, epochs=1, weight_decay=0.0)
    anchored, _ = fit_strategy("finetune", tiny_backbone, few, epochs=1, weight_decay=0.0, l2sp=100.0)
    d_plain = backbone_distance(plain.classifier_.model, tiny_backbone)
    d_anchored = backbone_distance(anchored.classifier_.model, tiny_backbone)
    assert 0 < d_anchored < 0.8 * d_plain


def test_l2sp_penalty_value():
    from headstart.training.regularise import l2sp_penalty

    model = torch.nn.Linear(3, 2)
    anchor = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        model.weight.add_(1.0)
    assert float(l2sp_penalty(model, anchor, 0.5)().detach()) == pytest.approx(0.5 * 0.5 * 6.0)


def test_wise_interpolation_math():
    from headstart.training.regularise import wise_interpolate

    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 2))
    anchor = {n: p.detach().clone() for n, p in model.named_parameters() if n.startswith("0.")}
    frozen_bias = model[0].bias.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(2.0)
    head_before = model[1].weight.detach().clone()
    fine_tuned = model[0].weight.detach().clone()
    wise_interpolate(model, anchor, 0.25)
    torch.testing.assert_close(model[0].weight, 0.75 * anchor["0.weight"] + 0.25 * fine_tuned)
    assert torch.equal(model[0].bias, frozen_bias)  # unchanged weights stay bit-identical
    assert torch.equal(model[1].weight, head_before)  # not anchored: the head is kept


def test_wise_zero_restores_the_pretrained_backbone(tiny_backbone, target):
    strategy, report = fit_strategy("finetune", tiny_backbone, target, epochs=1, wise=0.0)
    changed, _ = backbone_changes(strategy.classifier_.model, tiny_backbone)
    assert changed <= {n for n in changed if n.startswith("pooler.")}  # the pooler feeds the head: kept
    assert any("WiSE-FT" in note for note in report.notes)


@pytest.mark.parametrize("bad", [{"l2sp": -1.0}, {"wise": 1.5}])
def test_anchor_options_are_checked(tiny_backbone, target, bad):
    from headstart.errors import ConfigError

    with pytest.raises(ConfigError):
        fit_strategy("finetune", tiny_backbone, target, epochs=1, **bad)


def test_lora_save_load_and_merge(tiny_backbone, small_data, tmp_path):
    train, test = small_data
    texts = test.text.tolist()[:30]
    clf = TextClassifier(backbone=tiny_backbone, strategy="lora", seed=0, progress=False, epochs=1,
                         **FAST).fit(train.text.tolist()[:64], train.label.tolist()[:64])
    scores = clf.decision_scores(texts)
    clf.save(tmp_path / "adapter")
    saved = json.loads((tmp_path / "adapter" / "lora.json").read_text())
    assert saved["backbone"]["fingerprint"] == resolve_backbone(tiny_backbone).fingerprint()
    assert (tmp_path / "adapter" / "adapter_model.safetensors").exists()
    assert not (tmp_path / "adapter" / "model.safetensors").exists()  # the base is not copied
    np.testing.assert_array_equal(TextClassifier.load(tmp_path / "adapter").decision_scores(texts), scores)

    clf.set_params(merge=True)
    clf.config_.merge = True
    clf.save(tmp_path / "merged")
    assert not (tmp_path / "merged" / "adapter_config.json").exists()
    from transformers import AutoModelForSequenceClassification

    plain = AutoModelForSequenceClassification.from_pretrained(tmp_path / "merged")
    assert not any("lora" in n for n, _ in plain.named_parameters())
    np.testing.assert_allclose(TextClassifier.load(tmp_path / "merged").decision_scores(texts), scores, atol=1e-5)
    np.testing.assert_array_equal(clf.decision_scores(texts), scores)  # merging a copy left the adapter intact


def test_lora_refuses_a_different_backbone(tiny_backbone, small_data, tmp_path):
    import shutil

    from headstart.errors import ModelError

    train, _ = small_data
    copy = tmp_path / "bb"
    shutil.copytree(tiny_backbone, copy)
    clf = TextClassifier(backbone=str(copy), strategy="lora", seed=0, progress=False, epochs=1,
                         **FAST).fit(train.text.tolist()[:60], train.label.tolist()[:60])
    clf.save(tmp_path / "m")
    (copy / "config.json").write_text((copy / "config.json").read_text() + "\n")  # new fingerprint
    with pytest.raises(ModelError, match="fingerprint"):
        TextClassifier.load(tmp_path / "m")
