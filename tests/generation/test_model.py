"""Seq2SeqModel on tiny random models: fit, generate, save/load round trip, prompt masking, LoRA, baselines."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from headstart.errors import ConfigError, DataError, ModelError
from headstart.generation import Seq2SeqModel, TruncationWarning
from headstart.strategies import get_strategy
from headstart.generation.config import GenerationConfig
from headstart.generation.encoding import IGNORE_INDEX, Prompter, source_inputs, training_examples
from headstart.backbones import resolve_backbone

from .conftest import FAST, PAIRS

SOURCES = [s for s, _ in PAIRS]
TARGETS = [t for _, t in PAIRS]


def _fit(backbone, strategy="full", **options):
    model = Seq2SeqModel(task="translate", backbone=backbone, strategy=strategy, progress=False, **{**FAST, **options})
    return model.fit(SOURCES * 4, TARGETS * 4, SOURCES, TARGETS)


def _first_params(model):
    return next(model.backend_.model.parameters()).detach().clone()


@pytest.mark.parametrize("fixture", ["tiny_decoder", "tiny_seq2seq"])
def test_fit_generate_and_round_trip(fixture, request, tmp_path):
    backbone = request.getfixturevalue(fixture)
    before = Seq2SeqModel(task="translate", backbone=backbone, strategy="zero-shot", progress=False, **FAST).fit(
        SOURCES, TARGETS)
    model = _fit(backbone)
    assert model.fit_report_["steps"] == 12  # 24 pairs / batch 4 x 2 epochs
    history = model.fit_report_["history"]
    assert history and history[-1]["valid_loss"] < history[0]["valid_loss"] + 1.0
    assert not bool((_first_params(model) == _first_params(before)).all()), "training changed no weight"
    outputs = model.predict(SOURCES)
    assert len(outputs) == len(SOURCES) and all(isinstance(o, str) for o in outputs)
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "headstart.json").read_text())
    assert meta["task"] == "translate" and meta["strategy"] == "full"
    loaded = Seq2SeqModel.load(tmp_path / "m")
    assert loaded.predict(SOURCES) == outputs
    assert loaded.predict(SOURCES, num_beams=3) == model.predict(SOURCES, num_beams=3)


def test_training_lowers_validation_loss(tiny_decoder):
    model = _fit(tiny_decoder, epochs=6, lr=1e-2, patience=0, schedule="constant", warmup_ratio=0.0)
    losses = [h["valid_loss"] for h in model.fit_report_["history"]]
    assert len(losses) == 6 and losses[-1] < 0.5 * losses[0]
    assert model.fit_report_["best"]["valid_loss"] == min(losses)


def test_prompt_tokens_are_masked_exactly(tiny_decoder):
    config = GenerationConfig(device="cpu")
    backend = get_strategy("full", "translate")().build_backend(resolve_backbone(tiny_decoder), config)
    prompter = Prompter.for_backend(backend, "translate", config)
    prompts = source_inputs(backend, prompter, SOURCES, config.max_source_length)
    examples = training_examples(backend, prompter, SOURCES, TARGETS, config)
    eos = backend.tokenizer.eos_token_id
    for prompt, target, ex in zip(prompts, TARGETS, examples):
        n = len(prompt)
        assert ex["input_ids"][:n] == prompt
        assert ex["labels"][:n] == [IGNORE_INDEX] * n
        assert IGNORE_INDEX not in ex["labels"][n:]
        assert ex["labels"][n:] == ex["input_ids"][n:]
        assert ex["labels"][-1] == eos
        assert backend.tokenizer.decode(ex["labels"][n:-1]) == target
    assert "translate english to german" in backend.tokenizer.decode(prompts[0])  # the tiny tokenizer lower-cases


def test_seq2seq_labels_are_the_target_only(tiny_t5):
    config = GenerationConfig(device="cpu")
    backend = get_strategy("full", "translate")().build_backend(resolve_backbone(tiny_t5), config)
    examples = training_examples(backend, Prompter.for_backend(backend, "summarize", config), SOURCES, TARGETS, config)
    assert IGNORE_INDEX not in examples[0]["labels"]
    assert backend.tokenizer.decode(examples[0]["labels"][:-1]) == TARGETS[0]


def test_t5_layout_trains(tiny_t5):
    model = _fit(tiny_t5, epochs=1)
    assert model.backend_.architecture == "seq2seq" and len(model.predict(SOURCES[:2])) == 2


@pytest.mark.parametrize("fixture", ["tiny_decoder", "tiny_seq2seq"])
def test_lora_trains_adapters_only_and_round_trips(fixture, request, tmp_path):
    model = _fit(request.getfixturevalue(fixture), strategy="lora", lr=5e-3)
    report = model.fit_report_
    assert 0 < report["trainable_parameters"] < 0.5 * report["total_parameters"]
    outputs = model.predict(SOURCES)
    model.save(tmp_path / "lora")
    saved = {p.name for p in (tmp_path / "lora").iterdir()}
    assert "adapter" in saved and "model" not in saved  # the adapter, not a copy of the base model
    adapter_bytes = sum(f.stat().st_size for f in (tmp_path / "lora" / "adapter").glob("*.safetensors"))
    base_bytes = sum(f.stat().st_size for f in Path(request.getfixturevalue(fixture)).glob("*.safetensors"))
    assert adapter_bytes < 0.5 * base_bytes
    assert Seq2SeqModel.load(tmp_path / "lora").predict(SOURCES) == outputs
    assert model.predict(SOURCES) == outputs  # saving left the fitted model as it was

    model.config_.merge = True  # as if fitted with merge=True (--merge)
    model.save(tmp_path / "merged")
    assert {p.name for p in (tmp_path / "merged").iterdir()} >= {"model"}
    assert not (tmp_path / "merged" / "adapter").exists()
    assert Seq2SeqModel.load(tmp_path / "merged").predict(SOURCES) == outputs


def test_lora_adapter_refuses_a_different_base(tiny_decoder, tmp_path):
    import shutil

    copy = tmp_path / "base"
    shutil.copytree(tiny_decoder, copy)
    model = _fit(str(copy), strategy="lora", lr=5e-3)
    model.save(tmp_path / "lora")
    shutil.rmtree(copy)  # neither the recorded name (a path) nor the path finds the base any more
    with pytest.raises(ModelError, match="backbone this adapter was trained on"):
        Seq2SeqModel.load(tmp_path / "lora")


def test_warm_start_from_encoder(tiny_backbone, tmp_path):
    model = _fit(tiny_backbone, epochs=1, warm_start_encoder=True)
    assert model.backend_.architecture == "warm-start"
    outputs = model.predict(SOURCES[:3])
    model.save(tmp_path / "ws")
    assert Seq2SeqModel.load(tmp_path / "ws").predict(SOURCES[:3]) == outputs


def test_warm_start_lora_trains_the_new_cross_attention(tiny_backbone, tmp_path):
    model = _fit(tiny_backbone, epochs=1, strategy="lora", lr=5e-3, warm_start_encoder=True)
    trainable = [n for n, p in model.backend_.model.named_parameters() if p.requires_grad]
    assert any("crossattention" in n and "modules_to_save" in n for n in trainable)  # random at start: trained fully
    outputs = model.predict(SOURCES[:3])
    model.save(tmp_path / "ws")
    assert (tmp_path / "ws" / "model").exists()  # saved merged: its base exists nowhere else
    assert Seq2SeqModel.load(tmp_path / "ws").predict(SOURCES[:3]) == outputs


def test_scratch_baseline_respects_time_budget(tiny_decoder):
    model = _fit(tiny_decoder, strategy="scratch", epochs=1000, max_seconds=1.5, scratch_dim=32, scratch_layers=1)
    report = model.fit_report_
    assert report["out_of_time"] and report["train_seconds"] < 10
    assert model.backend_.model.config.model_type == "bart"
    assert len(model.predict(SOURCES[:2])) == 2


def test_zero_shot_trains_nothing(tiny_decoder):
    model = Seq2SeqModel(task="summarize", backbone=tiny_decoder, strategy="zero-shot", progress=False, **FAST)
    model.fit(SOURCES, TARGETS)
    assert model.fit_report_["steps"] == 0 and model.fit_report_["trainable_parameters"] == 0
    metrics = model.evaluate(SOURCES, TARGETS)
    assert {"rouge1", "rouge2", "rougeL", "bleu", "chrf", "tokens_per_second"} <= set(metrics)


def test_long_inputs_are_truncated_with_one_counting_warning(tiny_decoder):
    long = " ".join(["film"] * 50)
    model = Seq2SeqModel(backbone=tiny_decoder, strategy="zero-shot", progress=False, max_source_length=10, **FAST)
    model.fit(SOURCES, TARGETS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.predict([long, long, "a film"])
    found = [w for w in caught if issubclass(w.category, TruncationWarning)]
    assert len(found) == 1 and "2 of 3 source texts" in str(found[0].message)


def test_bad_inputs_raise_clear_errors(tiny_decoder, tmp_path):
    with pytest.raises(DataError, match="non-empty target"):
        Seq2SeqModel(backbone=tiny_decoder, **FAST).fit(["a", "b"], ["x", " "])
    with pytest.raises(DataError, match="as many targets"):
        Seq2SeqModel(backbone=tiny_decoder, **FAST).fit(["a", "b"], ["x"])
    with pytest.raises(DataError, match="single string"):
        Seq2SeqModel(backbone=tiny_decoder, **FAST).fit("a", ["x"])
    with pytest.raises(ConfigError, match="generation task"):
        Seq2SeqModel(task="classify", backbone=tiny_decoder, **FAST).fit(["a"], ["x"])
    with pytest.raises(ConfigError, match="generation strategy"):
        Seq2SeqModel(strategy="probe", backbone=tiny_decoder, **FAST).fit(["a"], ["x"])
    with pytest.raises(ConfigError, match="unknown option"):
        Seq2SeqModel(backbone=tiny_decoder, epochz=1).fit(["a"], ["x"])
    with pytest.raises(ConfigError, match="encoder-decoder"):
        Seq2SeqModel(backbone=tiny_decoder, architecture="seq2seq", **FAST).fit(["a"], ["x"])
    with pytest.raises(ConfigError, match="\\{source\\}"):
        Seq2SeqModel(backbone=tiny_decoder, prompt_template="no slot", **FAST).fit(["a"], ["x"])
    with pytest.raises(ModelError, match="unfitted"):
        Seq2SeqModel(backbone=tiny_decoder).predict(["a"])
    with pytest.raises(ModelError, match="headstart.json"):
        Seq2SeqModel.load(tmp_path / "missing")


def test_tampered_folder_is_refused(tiny_decoder, tmp_path):
    model = Seq2SeqModel(backbone=tiny_decoder, strategy="zero-shot", progress=False, **FAST).fit(SOURCES, TARGETS)
    model.save(tmp_path / "zs")
    (tmp_path / "zs" / "model" / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="changed"):
        Seq2SeqModel.load(tmp_path / "zs")


@pytest.mark.parametrize("fixture", ["tiny_decoder", "tiny_seq2seq"])
def test_batched_generation_matches_one_by_one(fixture, request):
    """Left padding (decoders) and right padding (encoder-decoders) must not change what is generated."""
    model = _fit(request.getfixturevalue(fixture), epochs=1)
    mixed = [SOURCES[0], "the film is good and the day is bad", SOURCES[3]]
    assert model.predict(mixed, generation_batch_size=3) == model.predict(mixed, generation_batch_size=1)


@pytest.mark.parametrize("field,value", [("task", "summarize"), ("strategy", "full"),
                                         ("prompt", {"template": "Say: {source}"})])
def test_edited_metadata_is_refused(tiny_decoder, tmp_path, field, value):
    model = Seq2SeqModel(backbone=tiny_decoder, strategy="zero-shot", progress=False, **FAST).fit(SOURCES, TARGETS)
    model.save(tmp_path / "zs")
    path = tmp_path / "zs" / "headstart.json"
    meta = json.loads(path.read_text())
    meta[field] = {**meta[field], **value} if isinstance(value, dict) else value
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="edited metadata"):
        Seq2SeqModel.load(tmp_path / "zs")
