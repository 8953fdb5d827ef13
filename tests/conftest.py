"""Shared fixtures. Expensive ones are built once per session (sentence-transformers' conftest idea):
a tiny random BERT built from config with a WordPiece tokenizer trained on the shipped demo sample."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# Under pytest-xdist each worker gets its share of the CPUs: torch's default of one thread per core in every
# worker oversubscribes the CPU. It goes through HEADSTART_THREADS before headstart (and so torch) is imported,
# so headstart.threads applies it together with its short OpenMP spin; a value the user set wins.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("HEADSTART_THREADS", str(max(1, len(os.sched_getaffinity(0)) // _WORKERS)))

from headstart.resources import DEMO_TEST, DEMO_TRAIN  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Embedding caches and converted backbones go to a per-session folder, never the user's."""
    os.environ["HEADSTART_CACHE"] = str(tmp_path_factory.mktemp("headstart-cache"))
    yield


@pytest.fixture(scope="session")
def demo_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_csv(DEMO_TRAIN), pd.read_csv(DEMO_TEST)


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory, demo_frames) -> str:
    """A 2-layer, 32-dim BERT with random weights: seconds to train, same code paths as the real model."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(demo_frames[0].text.tolist(), trainers.WordPieceTrainer(vocab_size=600, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")
    fast.save_pretrained(folder)
    config = BertConfig(vocab_size=fast.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    return str(folder)


@pytest.fixture(scope="session")
def small_data(demo_frames):
    """200 training and 100 test rows of the shipped sample."""
    train, test = demo_frames
    return train.iloc[:200], test.iloc[:100]


def write_csv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path
