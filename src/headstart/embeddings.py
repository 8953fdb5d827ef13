"""Mean-pooled sentence embeddings from a backbone, cached on disk.

The cache is keyed by (backbone fingerprint, runtime, max_length, normalisation) and text hash, so a second
run, another strategy or another cell of a comparison reuses what was computed, and vectors of different
runtimes (torch, onnx, onnx-int8: `headstart.runtime`) never mix. Safe to delete.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np

from .backbones import BackboneRef, cache_root, load_model, load_tokenizer
from .onnx_graph import masked_mean
from .progress import bar as progress_bar
from .runtime import OnnxSession, onnx_model, resolve_runtime
from .threads import rebalance

_ENCODERS: dict[tuple[str, str, str], "Encoder"] = {}


def pooled(model, batch: dict):
    """Mean-pooled, L2-normalised embeddings of a tokenised batch as a torch tensor (gradients flow when the
    model trains): what SimCSE and contrastive training optimise."""
    import torch

    hidden = model(**batch).last_hidden_state
    return torch.nn.functional.normalize(masked_mean(hidden, batch["attention_mask"]), dim=-1)


class Encoder:
    """A loaded backbone that turns texts into mean-pooled vectors with one runtime (see `headstart.runtime`):
    PyTorch, or ONNX Runtime over the cached export (or over the file of a backbone shipped as ONNX)."""

    def __init__(self, ref: BackboneRef, device: str = "cpu", runtime: str = "torch") -> None:
        self.ref = ref
        self.device = device
        self.runtime = runtime
        self.tokenizer = load_tokenizer(ref)
        if runtime != "torch":
            self.session: OnnxSession | None = OnnxSession(onnx_model(ref, runtime))
            self.model = None
        else:
            import torch

            self.session = None
            self.model = load_model(ref).to(device).eval()
            self.torch = torch

    def encode_batch(self, texts: list[str], max_length: int) -> np.ndarray:
        """Mean-pooled, unnormalised vectors (n, d) of one batch."""
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=max_length,
                               return_tensors="np" if self.session is not None else "pt")
        if self.session is not None:
            return self.session.run(batch)
        torch = self.torch
        with torch.inference_mode():
            batch = {k: v.to(self.device) for k, v in batch.items()}
            hidden = self.model(**batch).last_hidden_state
            return masked_mean(hidden, batch["attention_mask"]).float().cpu().numpy()


def get_encoder(ref: BackboneRef, device: str = "cpu", runtime: str = "torch") -> Encoder:
    """Load once per process: the probe, audits and few-shot strategies share one encoder per runtime.
    `runtime` is a concrete one ("torch", "onnx", "onnx-int8"); `resolve_runtime` turns "auto" into one."""
    if runtime == "torch" and ref.fmt == "onnx":
        runtime = "onnx"  # a backbone shipped as ONNX has nothing else
    key = (str(ref.path), device if runtime == "torch" else "cpu", runtime)
    if key not in _ENCODERS:
        _ENCODERS[key] = Encoder(ref, key[1], runtime)
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


def cache_name(ref: BackboneRef, runtime: str, max_length: int, normalize: bool) -> str:
    """The embedding cache file of one configuration: one per backbone fingerprint, runtime, length and norm."""
    return f"{ref.fingerprint()}-{runtime}-len{max_length}-{'norm' if normalize else 'raw'}.sqlite"


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
    runtime: str = "auto",
) -> np.ndarray:
    """Embed texts (n, d) float32. Texts are encoded sorted by length so batches carry little padding.

    `runtime`: "torch", "onnx", "onnx-int8" (honoured or refused) or "auto" (`DEFAULT_RUNTIME` with a fallback
    to torch); see `headstart.runtime`.
    """
    texts = list(texts)
    keys = [text_key(t) for t in texts]
    runtime = resolve_runtime(ref, runtime, device)
    store = None
    known: dict[str, np.ndarray] = {}
    if cache:
        store = EmbeddingCache(cache_root() / "embeddings" / cache_name(ref, runtime, max_length, normalize))
        known = store.get_many(sorted(set(keys)))
    todo_keys: dict[str, str] = {}
    for key, text in zip(keys, texts):
        if key not in known and key not in todo_keys:
            todo_keys[key] = text
    if todo_keys:
        encoder = get_encoder(ref, device, runtime)
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
            rebalance()
        bar.close()
        if store is not None:
            store.put_many(fresh)
        known.update(fresh)
    if store is not None:
        store.close()
    return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)
