"""Mean-pooled sentence embeddings from a backbone, cached on disk.

The cache is keyed by (backbone fingerprint, max_length, normalisation) and text hash, so a second
run, another strategy or another cell of a comparison reuses what was computed. Safe to delete.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np

from .backbones import BackboneRef, cache_root, load_model, load_tokenizer
from .progress import bar as progress_bar

_ENCODERS: dict[tuple[str, str], "Encoder"] = {}


def masked_mean(hidden, attention_mask):
    """Mean of the token states over real (unpadded) tokens: the pooling of all-MiniLM and most sentence
    encoders. Torch tensors in, a (batch, hidden) tensor out; used for caching, training and ONNX export."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def pooled(model, batch: dict):
    """Mean-pooled, L2-normalised embeddings of a tokenised batch as a torch tensor (gradients flow when the
    model trains): what SimCSE and contrastive training optimise."""
    import torch

    hidden = model(**batch).last_hidden_state
    return torch.nn.functional.normalize(masked_mean(hidden, batch["attention_mask"]), dim=-1)


class Encoder:
    """A loaded backbone that turns texts into mean-pooled vectors (PyTorch or ONNX Runtime)."""

    def __init__(self, ref: BackboneRef, device: str = "cpu") -> None:
        self.ref = ref
        self.device = device
        self.tokenizer = load_tokenizer(ref)
        if ref.fmt == "onnx":
            import onnxruntime as ort

            self.session = ort.InferenceSession(str(ref.path), providers=["CPUExecutionProvider"])
            self.onnx_inputs = {i.name for i in self.session.get_inputs()}
            # exported sentence encoders name outputs arbitrarily; the token states are the rank-3 one
            ranked = [o.name for o in self.session.get_outputs() if len(o.shape) == 3]
            self.onnx_output = ranked[0] if ranked else self.session.get_outputs()[0].name
            self.model = None
        else:
            import torch

            self.model = load_model(ref).to(device).eval()
            self.torch = torch

    def encode_batch(self, texts: list[str], max_length: int) -> np.ndarray:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=max_length,
                               return_tensors="np" if self.model is None else "pt")
        if self.model is None:
            feeds = {k: v.astype(np.int64) for k, v in batch.items() if k in self.onnx_inputs}
            if "token_type_ids" in self.onnx_inputs and "token_type_ids" not in feeds:
                feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
            hidden = self.session.run([self.onnx_output], feeds)[0]
            mask = batch["attention_mask"][..., None].astype(np.float32)
            return (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
        torch = self.torch
        with torch.inference_mode():
            batch = {k: v.to(self.device) for k, v in batch.items()}
            hidden = self.model(**batch).last_hidden_state
            return masked_mean(hidden, batch["attention_mask"]).float().cpu().numpy()


def get_encoder(ref: BackboneRef, device: str = "cpu") -> Encoder:
    """Load once per process: the probe, audits and few-shot strategies share one encoder."""
    key = (str(ref.path), device)
    if key not in _ENCODERS:
        _ENCODERS[key] = Encoder(ref, device)
    return _ENCODERS[key]


class EmbeddingCache:
    """An SQLite table of text-hash -> float32 vector for one backbone configuration."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), timeout=60)
        self.conn.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = self.conn.execute(f"SELECT key, vec FROM emb WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)",
                                  [(k, np.asarray(v, np.float32).tobytes()) for k, v in items.items()])

    def close(self) -> None:
        self.conn.close()


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def embed(
    ref: BackboneRef,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int = 256,
    normalize: bool = True,
    cache: bool = True,
    device: str = "cpu",
    progress: bool | None = None,
) -> np.ndarray:
    """Embed texts (n, d) float32. Texts are encoded sorted by length so batches carry little padding."""
    texts = list(texts)
    keys = [text_key(t) for t in texts]
    store = None
    known: dict[str, np.ndarray] = {}
    if cache:
        name = f"{ref.fingerprint()}-len{max_length}-{'norm' if normalize else 'raw'}.sqlite"
        store = EmbeddingCache(cache_root() / "embeddings" / name)
        known = store.get_many(sorted(set(keys)))
    todo_keys: dict[str, str] = {}
    for key, text in zip(keys, texts):
        if key not in known and key not in todo_keys:
            todo_keys[key] = text
    if todo_keys:
        encoder = get_encoder(ref, device)
        pending = list(todo_keys.items())
        lengths = [len(t) for _, t in pending]
        order = np.argsort(lengths)[::-1]  # longest first: memory peaks early, not at the end
        fresh: dict[str, np.ndarray] = {}
        bar = progress_bar(len(pending), "embedding", "text", enabled=progress)
        for start in range(0, len(order), batch_size):
            chunk = [pending[i] for i in order[start:start + batch_size]]
            vectors = encoder.encode_batch([t for _, t in chunk], max_length)
            if normalize:
                vectors = vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
            fresh.update({k: v.astype(np.float32) for (k, _), v in zip(chunk, vectors)})
            bar.update(len(chunk))
        bar.close()
        if store is not None:
            store.put_many(fresh)
        known.update(fresh)
    if store is not None:
        store.close()
    return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)
