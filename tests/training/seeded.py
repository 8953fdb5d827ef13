"""Record every training loss a seeded run computes, to pin the numbers of the training loops: a loss is
recorded when `backward()` runs on it, whichever loop (and whichever step helper) called it.

The models here are built from a fixed vocabulary: the shared tiny fixtures train their WordPiece
vocabulary, and `tokenizers` breaks frequency ties differently from run to run, so their token ids (and
every loss) move between runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import pytest

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
RTOL = 1e-4  # thread counts (pytest-xdist) change reduction order in BLAS: last digits, not the trajectory
ATOL = 1e-6


def record_losses(monkeypatch, run: Callable[[], Any]) -> tuple[list[float], Any]:
    """(the loss of every backward pass during `run()`, what `run()` returned)."""
    import torch

    losses: list[float] = []
    original = torch.Tensor.backward

    def backward(self, *args, **kwargs):
        losses.append(float(self.detach().float()))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "backward", backward)
    result = run()
    monkeypatch.undo()
    return losses, result


def parameter_sum(model) -> float:
    """A fingerprint of the trained weights (double-precision sum of every parameter)."""
    return float(sum(p.detach().double().sum() for p in model.parameters()))


EXPECTED = Path(__file__).with_name("seeded_losses.json")


def check(name: str, values: dict[str, Any]) -> None:
    """Compare with the values in seeded_losses.json, computed on main before the loops shared one step
    helper. HEADSTART_RECORD=path appends the actual values there instead (how the file was made)."""
    record = os.environ.get("HEADSTART_RECORD")
    if record:
        with open(record, "a") as fh:
            fh.write(json.dumps({name: values}) + "\n")
        return
    expected = json.loads(EXPECTED.read_text())[name]
    assert sorted(values) == sorted(expected), name
    for key, value in values.items():
        assert _flat(value) == pytest.approx(_flat(expected[key]), rel=RTOL, abs=ATOL), f"{name}: {key}"


def _flat(value: Any) -> list[float]:
    # pytest.approx compares flat sequences only; histories are lists of rows
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in _flat(item)]
    return [value]


def fixed_tokenizer(folder: Path, words: list[str]):
    """A BERT-style WordPiece tokenizer whose vocabulary is `words` (sorted) plus letters and digits."""
    import string

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    pieces = sorted(set(words) | set(string.ascii_lowercase + string.digits)
                    | {"##" + c for c in string.ascii_lowercase + string.digits})
    vocab = {token: i for i, token in enumerate(SPECIALS + pieces)}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", eos_token="[SEP]", bos_token="[CLS]")
    fast.save_pretrained(folder)
    return fast


def seeded_model(folder: Path, words: list[str], build: Callable[[Any], Any]) -> str:
    """Save the tokenizer and `build(tokenizer)` (a model initialised under seed 0) into `folder`."""
    import torch

    tok = fixed_tokenizer(folder, words)
    torch.manual_seed(0)
    build(tok).save_pretrained(folder, safe_serialization=True)
    return str(folder)
