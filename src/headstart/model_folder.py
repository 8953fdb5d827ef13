"""The saved-model folder every estimator writes: weights, `headstart.json`, file hashes, sealed fields.

One `ModelFolder` per estimator kind says what its headstart.json must hold; saving and loading (format
version, per-file sha256, the digest over the fields that change predictions, library versions) are
written once here, so `TextClassifier` and `Seq2SeqModel` cannot drift apart.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__
from .errors import ModelError, expected
from .io import METADATA_FILE, atomic_folder, folder_digest, read_json, seal_metadata, verify_metadata, write_json

# Classifier folders predate the `kind` field and do not record it: a folder without one is a classifier.
CLASSIFIER_KIND = "classifier"
GENERATION_KIND = "generation"
_MODULE_OF = {"scikit-learn": "sklearn"}  # distribution name -> import name, where they differ


@dataclass(frozen=True)
class ModelFolder:
    """The layout of one estimator kind's saved folder.

    kind: the estimator kind (`headstart.json`'s `kind`, absent for classifiers).
    format_version: the newest layout this headstart reads; newer folders are refused at load.
    sealed_fields: headstart.json fields that change predictions, covered by the recorded digest.
    libraries: the libraries whose versions are recorded next to headstart's and Python's.
    """

    kind: str
    format_version: int
    sealed_fields: tuple[str, ...]
    libraries: tuple[str, ...]

    def metadata(self, fields: dict[str, Any]) -> dict[str, Any]:
        """headstart.json of a model being saved: the format version (and kind), `fields`, the versions of
        headstart, Python and the libraries."""
        import importlib  # the libraries are heavy: imported only when a model is saved

        versions = {"headstart": __version__, "python": platform.python_version()}
        versions.update({name: importlib.import_module(_MODULE_OF.get(name, name)).__version__
                         for name in self.libraries})
        kind = {} if self.kind == CLASSIFIER_KIND else {"kind": self.kind}  # see CLASSIFIER_KIND
        return {"format_version": self.format_version, **kind, **fields, "versions": versions}

    def save(self, folder: str | Path, meta: dict[str, Any], write_files: Callable[[Path], None]) -> Path:
        """Write the folder atomically: `write_files(tmp)` adds the model files, then headstart.json gets the
        hashes of all of them and the digest of the sealed fields."""
        with atomic_folder(folder, kind="model") as tmp:
            write_files(tmp)
            meta["files"] = folder_digest(tmp)
            write_json(tmp / METADATA_FILE, seal_metadata(meta, self.sealed_fields))
        return Path(folder)

    def load(self, folder: str | Path, verify: bool = True) -> dict[str, Any]:
        """headstart.json of a folder of this kind; with `verify`, its sealed fields and every file hash are
        checked, so an edited or partly copied folder is refused (ModelError)."""
        folder = Path(folder)
        meta = read_metadata(folder)
        if model_kind(meta) != self.kind:
            raise ModelError(expected(f"a {self.kind} model folder", f"a {model_kind(meta)} model "
                                      f"('{meta.get('task')}') at {folder}",
                                      "Load it with headstart.load_estimator, which picks the estimator."))
        if meta.get("format_version", 0) > self.format_version:
            raise ModelError(expected(f"model format {self.format_version} or older",
                                      f"format {meta['format_version']}", "Upgrade headstart to load this model."))
        if verify:
            verify_metadata(meta, self.sealed_fields, folder / METADATA_FILE)
        if verify and "files" in meta:
            check_file_hashes(folder, meta["files"], "model files matching the hashes in headstart.json",
                              "The folder was modified or partly copied; copy it again or retrain.")
        return meta


def check_file_hashes(folder: Path, recorded: dict[str, str], wanted: str, fix: str,
                      skip: tuple[str, ...] = (METADATA_FILE,)) -> None:
    """Refuse a folder whose files differ from the sha256 recorded when it was written (ModelError)."""
    actual = folder_digest(folder, skip=skip)
    changed = sorted(k for k, v in recorded.items() if actual.get(k) != v)
    if changed:
        raise ModelError(expected(wanted, f"changed or missing: {short_list(changed)}", fix))


def read_metadata(folder: str | Path) -> dict[str, Any]:
    """headstart.json of a model folder, unchecked; a folder without one is a ModelError naming the fix."""
    folder = Path(folder)
    meta_path = folder / METADATA_FILE
    if not meta_path.exists():
        raise ModelError(expected(f"a headstart model folder with {METADATA_FILE}",
                                  f"{'no folder' if not folder.exists() else 'a folder without it'} at {folder}",
                                  "Pass the -o folder of `headstart fit`."))
    return read_json(meta_path)


def model_kind(meta: dict[str, Any]) -> str:
    """The estimator kind a headstart.json describes."""
    return meta.get("kind", CLASSIFIER_KIND)


def short_list(items: Sequence[Any], n: int = 8) -> str:
    """The first `n` items, comma-separated, with the total when there are more."""
    items = list(items)
    return ", ".join(map(str, items[:n])) + (f" ... ({len(items)} in all)" if len(items) > n else "")
