"""Output folders: the preflight check, atomic replacement, stale leftovers, umask, and the metadata digest."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from headstart.errors import ConfigError, ModelError
from headstart.io import (UncheckedMetadataWarning, atomic_folder, atomic_write_text, check_output_folder,
                          remove_stale, seal_metadata, verify_metadata, write_json)


def _model_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "headstart.json").write_text("{}")
    (path / "weights.bin").write_bytes(b"w")
    return path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- check_output_folder -------------------------------------------------------------------------------
def test_new_and_empty_folders_are_accepted(tmp_path):
    assert check_output_folder(tmp_path / "a" / "b" / "new") == tmp_path / "a" / "b" / "new"
    (tmp_path / "empty").mkdir()
    check_output_folder(tmp_path / "empty")
    assert not (tmp_path / "a").exists()  # the check creates nothing


def test_a_folder_headstart_did_not_write_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match="did not write.*notes.txt"):
            check_output_folder(tmp_path / "d", overwrite=overwrite)


def test_a_model_folder_is_replaced_only_with_overwrite(tmp_path):
    model = _model_folder(tmp_path / "m")
    with pytest.raises(ConfigError, match="--overwrite"):
        check_output_folder(model)
    check_output_folder(model, overwrite=True)


def test_a_folder_of_another_kind_is_refused_even_with_overwrite(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "cells.jsonl").write_text("")
    with pytest.raises(ConfigError, match="headstart comparison folder"):
        check_output_folder(tmp_path / "c", overwrite=True, kind="model")
    check_output_folder(tmp_path / "c", kind="compare")  # its own folder: resumed without --overwrite


@pytest.mark.parametrize("path,message", [("", "empty string"), (".", "named folder"), ("x/..", "named folder")])
def test_empty_and_unnamed_paths_are_refused(path, message):
    with pytest.raises(ConfigError, match=message):
        check_output_folder(path)


def test_an_existing_file_and_a_path_under_a_file_are_refused(tmp_path):
    (tmp_path / "f.txt").write_text("data")
    with pytest.raises(ConfigError, match="existing file"):
        check_output_folder(tmp_path / "f.txt", overwrite=True)
    with pytest.raises(ConfigError, match="which is a file"):
        check_output_folder(tmp_path / "f.txt" / "sub" / "model")


def test_an_unwritable_parent_is_refused(tmp_path, monkeypatch):
    # tests run as root, for whom chmod 0500 still allows writing: the permission check itself is faked
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real(p, mode))
    with pytest.raises(ConfigError, match="no write permission"):
        check_output_folder(tmp_path / "new" / "model")


# -- atomic_folder -------------------------------------------------------------------------------------
def test_atomic_folder_with_a_kind_never_replaces_a_foreign_folder(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError):
        with atomic_folder(tmp_path / "d", kind="model") as tmp:
            (tmp / "headstart.json").write_text("{}")
    assert (tmp_path / "d" / "notes.txt").read_text() == "mine" and os.listdir(tmp_path) == ["d"]


def test_replacing_a_folder_leaves_no_old_or_temporary_entries(tmp_path):
    _model_folder(tmp_path / "m")
    for _ in range(2):
        with atomic_folder(tmp_path / "m", kind="model") as tmp:
            (tmp / "headstart.json").write_text('{"new": true}')
    assert os.listdir(tmp_path) == ["m"] and os.listdir(tmp_path / "m") == ["headstart.json"]


def test_temporary_names_carry_the_pid(tmp_path):
    with atomic_folder(tmp_path / "m") as tmp:
        assert tmp.name.startswith(f".m.tmp-{os.getpid()}-")


def test_stale_leftovers_of_a_dead_process_are_removed_on_the_next_write(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    (tmp_path / f".m.tmp-{dead}-abcd1234").mkdir()
    (tmp_path / f".m.tmp-{dead}-abcd1234" / "model.safetensors").write_bytes(b"x" * 100)
    (tmp_path / f".other.old-{dead}").mkdir()
    (tmp_path / f".x.json.tmp-{dead}-zz99zz99.json").write_text("{}")
    (tmp_path / f".m.tmp-{alive}-abcd1234").mkdir()  # a live writer's folder is not touched
    (tmp_path / ".m.tmp-notapid").mkdir()  # not a name headstart writes
    write_json(tmp_path / "x.json", {})
    assert sorted(os.listdir(tmp_path)) == sorted([".m.tmp-notapid", f".m.tmp-{alive}-abcd1234", "x.json"])
    assert remove_stale(tmp_path) == []


def test_a_killed_save_is_cleaned_up_by_the_next_one(tmp_path):
    code = ("import os, sys; from headstart.io import atomic_folder\n"
            f"with atomic_folder({str(tmp_path / 'm')!r}) as tmp:\n"
            "    (tmp / 'big.bin').write_bytes(b'x' * 1000); os._exit(9)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 9
    leftovers = [p for p in os.listdir(tmp_path) if p.startswith(".m.tmp-")]
    assert len(leftovers) == 1
    with atomic_folder(tmp_path / "m", kind="model") as tmp:
        (tmp / "headstart.json").write_text("{}")
    assert os.listdir(tmp_path) == ["m"]


def test_a_stale_temporary_file_does_not_make_a_folder_foreign(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / f".cells.jsonl.tmp-{_dead_pid()}-abcd1234").write_text("")
    check_output_folder(tmp_path / "c", kind="compare")


# -- umask ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mask,file_mode,dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_saved_files_honour_the_umask(tmp_path, mask, file_mode, dir_mode):
    from safetensors.numpy import save_file
    import numpy as np

    old = os.umask(mask)
    try:
        with atomic_folder(tmp_path / "m") as tmp:
            (tmp / "sub").mkdir()
            save_file({"w": np.zeros(2, dtype=np.float32)}, str(tmp / "sub" / "w.safetensors"))  # 0600 by itself
            write_json(tmp / "headstart.json", {})
        atomic_write_text(tmp_path / "note.txt", "x")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(tmp_path / "m") == mode(tmp_path / "m" / "sub") == dir_mode
    assert mode(tmp_path / "m" / "headstart.json") == mode(tmp_path / "m" / "sub" / "w.safetensors") == file_mode
    assert mode(tmp_path / "note.txt") == file_mode


# -- metadata digest -----------------------------------------------------------------------------------
def test_metadata_digest_refuses_edits_and_warns_without_one():
    fields = ("classes", "temperature")
    meta = seal_metadata({"classes": ["a", "b"], "temperature": 1.5, "notes": "free"}, fields)
    verify_metadata(dict(meta, notes="edited"), fields, "m/headstart.json")  # unsealed fields may change
    with pytest.raises(ModelError, match="edited metadata"):
        verify_metadata(dict(meta, classes=["b", "a"]), fields, "m/headstart.json")
    # the loader's list counts, not the recorded one: shrinking it does not hide an edit
    shrunk = dict(meta, temperature=9.0, metadata_digest={**meta["metadata_digest"], "fields": ["classes"]})
    with pytest.raises(ModelError):
        verify_metadata(shrunk, fields, "m/headstart.json")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        verify_metadata({"classes": ["a"]}, fields, "m/headstart.json")
    assert [w.category for w in caught] == [UncheckedMetadataWarning]
