"""Embedding runtimes: how frozen features are computed.

- `torch`: the backbone in PyTorch (the reference).
- `onnx`: the backbone plus masked mean pooling exported once to ONNX (fp32) and run by ONNX Runtime
  with every graph optimisation.
- `onnx-int8`: that graph quantised with `onnxruntime.quantization.quantize_dynamic` (int8 weights, one
  scale per output channel); about twice as fast as PyTorch on a CPU.

Exports live in the cache (`$HEADSTART_CACHE/runtimes/<fingerprint>-<runtime>-v1/`), one per backbone
fingerprint and runtime, each with the sha256 of its model file beside it (a corrupt file is rebuilt,
never loaded) and the parity report of the export: the exported graph and PyTorch embed the same
sample of texts and the export is kept only if the cosine of every pair is high enough
(`PARITY_THRESHOLDS`). Normalisation is applied after pooling, in the same code for every runtime.

`runtime="auto"` means `DEFAULT_RUNTIME`, falling back to torch with a one-line warning when the backbone
cannot be exported or fails the check. A runtime the user names is honoured exactly or refused
(`BackboneError`, exit code 2): it never quietly becomes another one.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import __version__, onnx_graph
from .backbones import BackboneRef, cache_root, load_model, load_tokenizer
from .io import atomic_folder, sha256_file, write_json
from .resources import DEMO_TEST
from .seeding import pick_device
from .errors import BackboneError, ConfigError, expected

RUNTIMES = ("torch", "onnx", "onnx-int8")
# What `runtime="auto"` uses. The one place to change it: only after benchmarks/embedding_speed.py has
# measured both targets (speed and probe accuracy) on a quiet machine (docs/runtime.md).
DEFAULT_RUNTIME = "torch"
RuntimeName = Literal["auto", "torch", "onnx", "onnx-int8"]
RUNTIME_HELP = (f"embedding runtime of the frozen features: torch, onnx (ONNX Runtime fp32) or onnx-int8 (int8 weights, "
                f"about 2x faster on CPU); exported once per backbone into the cache and checked against torch. "
                f"'auto' = {DEFAULT_RUNTIME}, falling back to torch with a warning if the export fails; a runtime "
                f"you name is used exactly or refused")
# (mean, min) cosine between the exported graph's and PyTorch's vectors over the parity sample. int8 weights
# measured on all-MiniLM-L6-v2: mean 0.991, min 0.957 (issue 22); fp32 differs only by float rounding.
PARITY_THRESHOLDS: dict[str, tuple[float, float]] = {"onnx": (0.999, 0.99), "onnx-int8": (0.98, 0.90)}
PARITY_TEXTS = 64
PARITY_MAX_LENGTH = 128
EXPORT_FORMAT = 1
OPSET = 17
MODEL_FILE = "model.onnx"
DIGEST_FILE = "model.onnx.sha256"
REPORT_FILE = "export.json"
RECORD_FILE = "runtime.json"  # in a saved model folder: the runtime its features were computed with

_VERIFIED: dict[tuple[str, str, str], Path] = {}
_RESOLVED: dict[tuple[str, str, str, str], str] = {}


class RuntimeUnavailable(Exception):
    """The backbone cannot be run by this runtime (export failed or the parity check did not pass)."""


def check_runtime_name(runtime: str) -> None:
    if runtime not in ("auto", *RUNTIMES):
        raise ConfigError(expected(f"runtime one of {['auto', *RUNTIMES]}", repr(runtime), "Pick one of the choices."))


def resolve_runtime(ref: BackboneRef, runtime: str = "auto", device: str = "cpu",
                    preferred: str | None = None) -> str:
    """The concrete runtime ("torch", "onnx" or "onnx-int8") that embeds with `ref`.

    `runtime="auto"` tries `preferred` (a loaded model's recorded runtime) or `DEFAULT_RUNTIME` and falls back
    to torch with a one-line warning; a named runtime is returned as asked or refused with `BackboneError` /
    `ConfigError`. The export (first use only) happens here, so errors surface before any work is done.
    """
    check_runtime_name(runtime)
    explicit = runtime != "auto"
    wanted = runtime if explicit else (preferred or DEFAULT_RUNTIME)
    key = (str(cache_root()), ref.fingerprint(), runtime, f"{wanted}@{device}")
    if key in _RESOLVED:
        return _RESOLVED[key]
    native = ref.fmt == "onnx"  # a backbone shipped as ONNX: ONNX Runtime is all it has
    fallback = "onnx" if native else "torch"
    if wanted == "torch":
        if native and explicit:
            raise BackboneError(expected("a backbone with PyTorch weights for --runtime torch",
                                         f"{ref.name}, which ships as ONNX only", "Use --runtime onnx (or auto)."))
        chosen = fallback
    elif device != "cpu":
        if explicit:
            raise ConfigError(expected(f"--device cpu with --runtime {wanted} (ONNX Runtime runs on the CPU here)",
                                       f"device {device}", "Pass --device cpu, or --runtime torch to embed on the GPU."))
        chosen = fallback  # on a GPU PyTorch embeds faster than ONNX Runtime on the CPU
    else:
        try:
            onnx_model(ref, wanted)
            chosen = wanted
        except RuntimeUnavailable as exc:
            if explicit:
                message = expected(f"a backbone that exports to ONNX and passes the parity check, for --runtime "
                                   f"{wanted}", f"{ref.name}: {exc}",
                                   f"Use --runtime {fallback}, or --runtime auto to fall back by itself.")
                raise BackboneError(message) from None
            print(f"headstart: warning: embedding runtime {wanted} unavailable for {ref.name} ({exc}); "
                  f"using {fallback}", file=sys.stderr, flush=True)
            chosen = fallback
    _RESOLVED[key] = chosen
    return chosen


def export_dir(ref: BackboneRef, runtime: str) -> Path:
    """The cache folder of one (backbone fingerprint, runtime) export."""
    return cache_root() / "runtimes" / f"{ref.fingerprint()}-{runtime}-v{EXPORT_FORMAT}"


def _versions() -> dict[str, str]:
    import onnxruntime
    import torch
    import transformers

    return {"headstart": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "onnxruntime": onnxruntime.__version__}


def onnx_model(ref: BackboneRef, runtime: str) -> Path:
    """The verified ONNX file of `ref` for `runtime` ("onnx" or "onnx-int8"), exported and checked on first use.

    A cached file whose sha256 differs from the digest beside it is rebuilt (with a warning), never loaded.
    Raises `RuntimeUnavailable` when the backbone cannot be exported or fails the parity check; the failure is
    remembered in the cache (per library versions) so that the next run does not export again.
    """
    if runtime not in PARITY_THRESHOLDS:
        raise ValueError(f"no ONNX model for runtime {runtime!r}")
    if ref.fmt == "onnx" and runtime == "onnx":
        return ref.path  # shipped as ONNX: the file itself (the backbone fingerprint covers its bytes)
    key = (str(cache_root()), ref.fingerprint(), runtime)
    if key in _VERIFIED and _VERIFIED[key].exists():
        return _VERIFIED[key]
    folder = export_dir(ref, runtime)
    model = folder / MODEL_FILE
    if model.exists():
        digest = folder / DIGEST_FILE
        recorded = digest.read_text(encoding="utf-8").split()[0] if digest.exists() else ""
        if recorded and sha256_file(model) == recorded:
            _VERIFIED[key] = model
            return model
        print(f"headstart: warning: cached ONNX model {model} does not match its sha256 digest; rebuilding it",
              file=sys.stderr, flush=True)
    failed = folder.with_name(folder.name + ".failed.json")
    if failed.exists():
        record = json.loads(failed.read_text(encoding="utf-8"))
        if record.get("versions") == _versions():
            raise RuntimeUnavailable(record["reason"])
    try:
        _build(ref, runtime, folder)
    except RuntimeUnavailable as exc:
        write_json(failed, {"reason": str(exc), "versions": _versions()})
        raise
    failed.unlink(missing_ok=True)
    _VERIFIED[key] = model
    return model


def _build(ref: BackboneRef, runtime: str, folder: Path) -> None:
    """Export (or quantise), check parity against the reference vectors, then write folder atomically."""
    texts = parity_sample()
    with atomic_folder(folder) as tmp:
        target = tmp / MODEL_FILE
        tokenizer = load_tokenizer_for(ref)
        model = None if ref.fmt == "onnx" else load_model(ref).eval()
        try:
            if runtime == "onnx":
                _export_encoder(model, tokenizer, target)
            else:
                onnx_graph.quantize_int8(onnx_model(ref, "onnx"), target)
        except RuntimeUnavailable:
            raise
        except Exception as exc:  # the exporter and quantiser raise many types; all mean "cannot export"
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise RuntimeUnavailable(f"export failed: {type(exc).__name__}: {first}") from None
        reference = _normalised(_reference_vectors(ref, model, tokenizer, texts))
        del model
        exported = _normalised(OnnxSession(target).encode(tokenizer, texts, PARITY_MAX_LENGTH))
        cosines = np.sum(reference * exported, axis=1)
        mean_cos, min_cos = float(cosines.mean()), float(cosines.min())
        need_mean, need_min = PARITY_THRESHOLDS[runtime]
        if not (mean_cos >= need_mean and min_cos >= need_min):
            against = "the shipped fp32 graph" if ref.fmt == "onnx" else "torch"
            raise RuntimeUnavailable(f"parity check failed on {len(texts)} texts: mean cosine to {against} {mean_cos:.4f} "
                                     f"(needs >= {need_mean}), min {min_cos:.4f} (needs >= {need_min})")
        digest = sha256_file(target)
        (tmp / DIGEST_FILE).write_text(f"{digest}  {MODEL_FILE}\n", encoding="utf-8")
        write_json(tmp / REPORT_FILE, {
            "runtime": runtime, "backbone": ref.name, "fingerprint": ref.fingerprint(), "texts": len(texts),
            "max_length": PARITY_MAX_LENGTH, "mean_cosine": mean_cos, "min_cosine": min_cos,
            "thresholds": {"mean": need_mean, "min": need_min}, "sha256": digest, "versions": _versions()})


def parity_sample() -> list[str]:
    """The texts every export is checked on: the first rows of the shipped SST-2 test sample."""
    import csv

    with open(DEMO_TEST, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows[:PARITY_TEXTS]]


def load_tokenizer_for(ref: BackboneRef) -> Any:
    return load_tokenizer(ref)


def _reference_vectors(ref: BackboneRef, model: Any, tokenizer: Any, texts: list[str]) -> np.ndarray:
    """What an export must match: PyTorch's pooled vectors (ONNX Runtime fp32 for a backbone shipped as ONNX
    only), computed as `embeddings.Encoder` computes them."""
    if model is None:
        return OnnxSession(onnx_model(ref, "onnx")).encode(tokenizer, texts, PARITY_MAX_LENGTH)
    import torch

    batch = tokenizer(texts, padding=True, truncation=True, max_length=PARITY_MAX_LENGTH, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
        return onnx_graph.masked_mean(hidden, batch["attention_mask"]).float().cpu().numpy()


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


def _export_encoder(model: Any, tokenizer: Any, target: Path) -> None:
    """The backbone plus masked mean pooling as one graph (input_ids, attention_mask) -> embeddings, traced by
    the same exporter as `headstart export` (serving/export.py)."""
    import torch

    class PooledEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = model

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return onnx_graph.masked_mean(hidden, attention_mask)

    onnx_graph.export_graph(PooledEncoder().eval(), tokenizer, target, OPSET, output="embeddings")


def _threads() -> int:
    """ONNX Runtime's intra-op threads follow PyTorch's setting when torch is loaded (one thread policy for
    both runtimes); 0 lets ONNX Runtime pick (one per physical core)."""
    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else 0


class OnnxSession:
    """An ONNX Runtime session over an encoder graph: pooled output (exports) or token states (shipped files)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = _threads() if threads is None else threads
        if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE":
            # the user asked threads not to spin while waiting (a busy machine): ONNX Runtime's pool obeys too
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        outputs = self.session.get_outputs()
        pooled = [o.name for o in outputs if o.name == "embeddings"]
        # exported sentence encoders name outputs arbitrarily; the token states are the rank-3 one
        ranked = [o.name for o in outputs if len(o.shape) == 3]
        self.output = (pooled or ranked or [outputs[0].name])[0]
        self.pooled = bool(pooled)

    def run(self, batch: dict[str, Any]) -> np.ndarray:
        """Mean-pooled (unnormalised) vectors of a tokenised numpy batch."""
        feeds = {k: np.asarray(v).astype(np.int64) for k, v in batch.items() if k in self.inputs}
        if "token_type_ids" in self.inputs and "token_type_ids" not in feeds:
            feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
        out = self.session.run([self.output], feeds)[0]
        if self.pooled:
            return out.astype(np.float32, copy=False)
        mask = np.asarray(batch["attention_mask"])[..., None].astype(np.float32)
        return (out * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)

    def encode(self, tokenizer: Any, texts: list[str], max_length: int) -> np.ndarray:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="np")
        return self.run(batch)


def strategy_runtime(ref: BackboneRef, config: Any, recorded: str | None = None) -> str:
    """The concrete runtime a frozen-feature strategy embeds with: its config's `runtime` (and `device`); for
    a fitted or loaded model with runtime "auto", the runtime it was fitted with (`recorded`) first."""
    return resolve_runtime(ref, config.runtime, pick_device(config.device), preferred=recorded)


def save_record(folder: Path, requested: str, used: str) -> None:
    """Write which runtime a saved model's features came from (read back by `load_record`)."""
    (folder / RECORD_FILE).write_text(json.dumps({"requested": requested, "used": used,
                                                  "default": DEFAULT_RUNTIME}) + "\n", encoding="utf-8")


def load_record(folder: Path) -> str:
    """The runtime a saved model was fitted with; models saved before runtimes existed used torch."""
    path = folder / RECORD_FILE
    if not path.exists():
        return "torch"
    used = json.loads(path.read_text(encoding="utf-8")).get("used", "torch")
    return used if used in RUNTIMES else "torch"


__all__ = ["DEFAULT_RUNTIME", "RUNTIMES", "PARITY_THRESHOLDS", "RuntimeName", "RuntimeUnavailable", "OnnxSession",
           "export_dir", "load_record", "onnx_model", "resolve_runtime", "save_record", "strategy_runtime"]
