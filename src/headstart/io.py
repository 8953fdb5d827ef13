"""Atomic writes, output-folder checks and the headstart metadata file that sits beside every saved model.

Every command that writes a folder goes through `check_output_folder` before any work starts and
through `atomic_folder` (a whole folder replaced in one rename) or `atomic_write_text` (one file) when it
writes. Temporary names carry the writer's PID (`.NAME.tmp-PID-XXXXXXXX`, `.NAME.old-PID`), so leftovers of
a killed process are recognised and removed on the next write beside them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterator, Sequence

from .errors import ConfigError, ModelError, expected

METADATA_FILE = "headstart.json"
DIGEST_KEY = "metadata_digest"

# What headstart writes, recognised by a file only it puts there. A folder of one kind is never replaced by
# another kind: `fit -o` onto a comparison folder would throw away hours of cells.
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "model": ("headstart model", (METADATA_FILE,)),
    "onnx": ("headstart ONNX export", ("headstart-onnx.json",)),
    "backbone": ("headstart pretrain backbone", ("pretrain_report.json",)),
    "compare": ("headstart comparison", ("cells.jsonl", "results.json", "final.json")),
    "audit": ("headstart audit", ("audit.json",)),
    "bias": ("headstart bias report", ("bias.json",)),
    "lr-find": ("headstart lr-find", ("lr_find.json",)),
}
RESUMABLE = frozenset({"compare"})  # its own folder is resumed, not refused
_STALE = re.compile(r"^\..+\.(?:tmp-(?P<tmp>\d+)-[a-z0-9_]{8}(?:\.\w+)?|old-(?P<old>\d+))$")


class UncheckedMetadataWarning(Warning):
    """A model saved before metadata digests existed: edits to its headstart.json cannot be detected.

    Not a UserWarning, so the CLI's filter of library chatter does not hide it.
    """


# -- output folders ------------------------------------------------------------------------------------
def folder_kind(path: str | os.PathLike) -> str | None:
    """The kind of headstart output `path` holds (see KINDS), or None."""
    path = Path(path)
    for kind, (_, markers) in KINDS.items():
        if any((path / m).is_file() for m in markers):
            return kind
    return None


def check_output_folder(path: str | os.PathLike, overwrite: bool = False, kind: str = "model",
                        option: str = "--output") -> Path:
    """Refuse, before any work starts, an output folder that cannot be written or whose contents would be lost.

    Accepted: a new folder (under a parent that exists or can be created and is writable), an empty
    folder, a folder of the same `kind` when `overwrite` is set, and for resumable kinds (compare) its
    own folder. Refused with ConfigError (CLI exit 2): an empty path, an existing file, a non-empty
    folder headstart did not write, a folder of another kind, a folder of this kind without `overwrite`.
    """
    label = KINDS[kind][0]
    if str(path) == "":
        raise ConfigError(expected(f"a folder path for {option}", "an empty string", f"Pass {option} FOLDER."))
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise ConfigError(expected(f"a named folder for {option}", f"'{path}'",
                                   f"Name a folder to create, e.g. {option} {Path(path, 'model')}."))
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise ConfigError(expected(f"a folder for {option}", f"an existing file at {path}",
                                       f"Choose another {option}; headstart never replaces a file with a folder."))
        try:  # leftovers of a killed write are ours to clean, not the user's
            entries = sorted(p.name for p in path.iterdir() if not _STALE.match(p.name))
        except OSError as exc:
            raise ConfigError(expected(f"a readable folder for {option}", f"{path}: {exc.strerror}",
                                       f"Choose another {option}.")) from None
        if entries:
            found = folder_kind(path)
            if found is None:
                shown = ", ".join(entries[:3]) + (f" ... ({len(entries)} entries)" if len(entries) > 3 else "")
                raise ConfigError(expected(
                    f"a new or empty folder for {option} (or a {label} folder to replace with --overwrite)",
                    f"a folder headstart did not write at {path}, holding {shown}",
                    f"Choose another {option}; nothing in {path} was touched."))
            if found != kind:
                raise ConfigError(expected(f"a new folder or a {label} folder for {option}",
                                           f"a {KINDS[found][0]} folder at {path}",
                                           f"Choose another {option}; nothing was touched."))
            if kind not in RESUMABLE and not overwrite:
                raise ConfigError(expected(f"a new or empty folder for {option}", f"an existing {label} at {path}",
                                           f"Pass --overwrite to replace it, or choose another {option}."))
        _require_writable(path, option)
    ancestor = path.parent  # the nearest existing folder above a new one
    while not (ancestor.exists() or ancestor.is_symlink()) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    _require_writable(ancestor, option, creating=path)
    return path


def _require_writable(folder: Path, option: str, creating: Path | None = None) -> None:
    what = f"a writable place for {option}" if creating is None else f"a place where {creating} can be created"
    if not folder.is_dir():
        raise ConfigError(expected(what, f"{folder}, which is a file, not a folder", f"Choose another {option}."))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(expected(what, f"no write permission on {folder}",
                                   f"Choose another {option}, or fix the folder's permissions."))


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike, kind: str | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside `target`; on success it replaces `target` in one rename.

    An exception (or a kill) leaves `target` as it was: a half-written model never loads. With `kind`,
    `target` must be absent, empty or a folder of that kind (see `check_output_folder`), so a save never
    deletes what it did not write.
    """
    target = Path(target)
    if kind is not None:
        check_output_folder(target, overwrite=True, kind=kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    try:
        yield tmp
        honour_umask(tmp)
        if target.exists() or target.is_symlink():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            _remove(old)
            os.rename(target, old)
            try:
                os.rename(tmp, target)
            except BaseException:
                os.rename(old, target)
                raise
            _remove(old)
        else:
            os.rename(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path beside `path` (same extension); on success it replaces `path` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", suffix=path.suffix, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600 whatever the umask says
        os.close(fd)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file through a temporary file and a rename."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def remove_stale(folder: Path) -> list[Path]:
    """Remove `.NAME.tmp-PID-*` and `.NAME.old-PID` entries in `folder` whose process is gone; return them."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _STALE.match(name)
        if match is None:
            continue
        pid = int(match.group("tmp") or match.group("old"))
        if pid != os.getpid() and not _alive(pid):
            _remove(folder / name)
            removed.append(folder / name)
    return removed


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a PID we wrote: leave it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's live process
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def honour_umask(folder: Path) -> None:
    """Give every file and folder under `folder` the mode the umask asks for.

    Writers that go through temporary files (mkdtemp, safetensors' save_file) create 0700/0600 whatever the
    umask; a saved model should be as readable as any file the user creates.
    """
    mask = current_umask()
    os.chmod(folder, 0o777 & ~mask)
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            mode = os.lstat(path).st_mode  # links are left alone: chmod would follow them out of the folder
            if stat.S_ISDIR(mode):
                os.chmod(path, 0o777 & ~mask)
            elif stat.S_ISREG(mode):
                os.chmod(path, (0o777 if mode & 0o111 else 0o666) & ~mask)


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask can only set it)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# -- JSON and digests ----------------------------------------------------------------------------------
def write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def folder_digest(folder: str | os.PathLike, skip: tuple[str, ...] = (METADATA_FILE,)) -> dict[str, str]:
    """sha256 of every file in a model folder (relative path -> hex), for integrity checks at load."""
    folder = Path(folder)
    digests: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel not in skip:
            digests[rel] = sha256_file(path)
    return digests


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 4 MB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def fields_digest(meta: dict[str, Any], fields: Sequence[str]) -> str:
    """sha256 of `fields` of `meta` as they read back from JSON (so save and load hash the same values)."""
    chosen = json.loads(json.dumps({f: meta.get(f) for f in fields}, default=_json_default))
    canonical = json.dumps(chosen, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def seal_metadata(meta: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """Record the digest of the fields that change predictions; call it last, after `files` is set."""
    meta[DIGEST_KEY] = {"fields": list(fields), "sha256": fields_digest(meta, fields)}
    return meta


def verify_metadata(meta: dict[str, Any], fields: Sequence[str], path: str | os.PathLike) -> None:
    """Refuse metadata whose prediction fields were edited after saving (ModelError).

    `fields` is the loader's own list, never the recorded one, so an edit cannot shrink what is checked.
    Metadata without a digest (saved by headstart before it had one) loads with an UncheckedMetadataWarning.
    """
    record = meta.get(DIGEST_KEY)
    if not isinstance(record, dict):
        warnings.warn(f"{path} has no metadata digest (saved by an older headstart): edits to its "
                      f"{', '.join(fields)} cannot be detected. Save the model again to add the check.",
                      UncheckedMetadataWarning, stacklevel=3)
        return
    if record.get("sha256") != fields_digest(meta, fields):
        raise ModelError(expected(f"{Path(path).name} matching the digest recorded when the model was saved",
                                  f"edited metadata in {path} (one of: {', '.join(fields)})",
                                  "Restore the file from the original copy or retrain; these fields change "
                                  "predictions, so an edited file is not loaded."))
