"""`headstart pretrain`, `headstart lr-find` and toolbox options of `headstart fit`, through the CLI."""

from __future__ import annotations

import json
import math

import pytest

from headstart.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory, small_data):
    folder = tmp_path_factory.mktemp("toolbox-cli")
    train, _ = small_data
    train.iloc[:80].to_csv(folder / "train.csv", index=False)
    (folder / "corpus.txt").write_text("\n".join(train.text.tolist()) + "\n\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def pretrained(files, tiny_backbone):
    out = files / "backbones" / "mine"
    code = main(["pretrain", str(files / "corpus.txt"), "--backbone", tiny_backbone, "-o", str(out), "--epochs", "3",
                 "--lr", "2e-3", "--max-length", "32", "--head-warmup-steps", "5", "--holdout", "0.2", "--quiet"])
    assert code == 0
    return out


def test_pretrain_writes_a_backbone_and_lowers_heldout_loss(pretrained, capsys):
    report = json.loads((pretrained / "pretrain_report.json").read_text())
    assert report["objective"] == "masked-lm" and report["holdout_lines"] == 40 and report["train_lines"] == 160
    assert report["steps"] == 15
    assert report["after"]["loss"] < report["before"]["loss"]
    assert math.isfinite(report["after"]["perplexity"]) and 0 <= report["after"]["token_accuracy"] <= 1
    assert any("head" in note for note in report["notes"])  # the tiny BertModel had no MLM head
    from headstart.backbones import resolve_backbone

    assert resolve_backbone(pretrained).kind == "encoder"


def test_every_trained_strategy_accepts_the_pretrained_backbone(pretrained, files, tmp_path):
    for strategy in ("finetune", "lora"):
        out = tmp_path / strategy
        assert main(["fit", str(files / "train.csv"), "--strategy", strategy, "--backbone", str(pretrained),
                     "--epochs", "1", "--min-steps", "10", "--max-length", "32", "-o", str(out), "--quiet"]) == 0
        meta = json.loads((out / "headstart.json").read_text())
        assert meta["backbone"]["name"] == "mine"


def test_pretrain_simcse_keeps_an_encoder_and_lowers_heldout_loss(files, tiny_backbone, tmp_path, capsys):
    out = tmp_path / "simcse"
    assert main(["pretrain", str(files / "corpus.txt"), "--backbone", tiny_backbone, "-o", str(out), "--objective",
                 "simcse", "--epochs", "3", "--lr", "2e-3", "--batch-size", "16", "--max-length", "32",
                 "--holdout", "0.2", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "retrieval accuracy" in printed
    report = json.loads((out / "pretrain_report.json").read_text())
    assert report["objective"] == "simcse" and report["train_lines"] == 160 and report["steps"] == 30
    assert report["after"]["loss"] < report["before"]["loss"]
    assert 0 <= report["after"]["retrieval_accuracy"] <= 1
    from safetensors.torch import load_file

    adapted, original = load_file(out / "model.safetensors"), load_file(f"{tiny_backbone}/model.safetensors")
    assert set(adapted) == set(original)  # the plain encoder, no extra head: every strategy reads it as before
    assert any(not (adapted[k] == original[k]).all() for k in original)
    assert main(["fit", str(files / "train.csv"), "--strategy", "probe", "--backbone", str(out), "-o",
                 str(tmp_path / "m"), "--quiet"]) == 0


def test_pretrain_simcse_refuses_a_decoder(files, tmp_path, capsys):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path / "tiny-llama"
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=2)).save_pretrained(folder)
    assert main(["pretrain", str(files / "corpus.txt"), "--backbone", str(folder), "-o", str(tmp_path / "x"),
                 "--objective", "simcse"]) == 2
    assert "encoder backbone for the simcse objective" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_pretrain_errors(files, tmp_path, capsys):
    assert main(["pretrain", str(tmp_path / "nope.txt"), "-o", str(tmp_path / "x")]) == 2
    assert "no file at" in capsys.readouterr().err
    (tmp_path / "short.txt").write_text("one line\n")
    assert main(["pretrain", str(tmp_path / "short.txt"), "-o", str(tmp_path / "x")]) == 2
    assert "at least 4" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_lr_find_writes_plot_json_and_suggestion(files, tiny_backbone, tmp_path, capsys):
    out = tmp_path / "lr"
    assert main(["lr-find", str(files / "train.csv"), "--backbone", tiny_backbone, "-o", str(out), "--steps", "15",
                 "--max-length", "32", "--start-lr", "1e-5", "--end-lr", "1"]) == 0
    printed = capsys.readouterr().out
    assert "suggested lr:" in printed
    data = json.loads((out / "lr_find.json").read_text())
    assert 1e-5 <= data["suggested_lr"] <= 1 and len(data["losses"]) == len(data["lrs"]) <= 15
    assert f"{data['suggested_lr']:.2e}" in printed
    assert (out / "lr_find.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_with_layerwise_lr_and_schedule(files, tiny_backbone, tmp_path):
    out = tmp_path / "topk"
    assert main(["fit", str(files / "train.csv"), "--strategy", "top-k", "--k", "1", "--lr-decay", "0.8",
                 "--schedule", "slanted-triangular", "--backbone", tiny_backbone, "--epochs", "1",
                 "--max-length", "32", "-o", str(out), "--quiet"]) == 0
    config = json.loads((out / "headstart.json").read_text())["config"]
    assert config["k"] == 1 and config["lr_decay"] == 0.8 and config["schedule"] == "slanted-triangular"


def test_strategy_help_lists_toolbox_options(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--strategy", "lora", "--help"])
    text = capsys.readouterr().out
    for flag in ("--rank", "--alpha", "--target-modules", "--merge", "--lr-decay", "one-cycle"):
        assert flag in text
    with pytest.raises(SystemExit):
        main(["fit", "--strategy", "finetune", "--help"])
    text = capsys.readouterr().out
    assert "--l2sp" in text and "--wise" in text


@pytest.mark.slow  # about a minute on 2 cores; the encoder (masked-LM) path stays in the default suite
def test_pretrain_a_decoder_with_causal_lm(files, tiny_backbone, tmp_path):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path / "tiny-llama"
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    out = tmp_path / "adapted"
    assert main(["pretrain", str(files / "corpus.txt"), "--backbone", str(folder), "-o", str(out), "--epochs", "2",
                 "--lr", "3e-3", "--max-length", "32", "--quiet"]) == 0
    report = json.loads((out / "pretrain_report.json").read_text())
    assert report["objective"] == "causal-lm" and not report["notes"]  # a causal LM keeps its own head
    assert report["after"]["perplexity"] < report["before"]["perplexity"]
    assert main(["fit", str(files / "train.csv"), "--strategy", "top-k", "--k", "1", "--backbone", str(out),
                 "--epochs", "1", "--max-length", "32", "-o", str(tmp_path / "m"), "--quiet"]) == 0
