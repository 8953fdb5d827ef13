"""Install noise: pyproject.toml builds without setuptools deprecation warnings, and the Chromium set-up of
`make test` says when it installs a system package."""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_has_no_setuptools_deprecation_warnings():
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert [str(w.message).splitlines()[0] for w in caught if "license" in str(w.message).lower()] == []
    assert dist.metadata.license_expression == "Apache-2.0"


def test_ensure_chromium_says_when_it_installs_through_apt(tmp_path):
    # a PATH with no chromium, root, and an apt-get that only records what it was asked
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    for name, body in (("id", "echo 0"), ("apt-get", f'echo "$@" >> {log}')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    result = subprocess.run(["/bin/sh", str(ROOT / "scripts" / "ensure-chromium.sh")], capture_output=True,
                            text=True, env={**os.environ, "PATH": str(bin_dir)}, timeout=30)
    assert result.returncode == 0
    assert "install -y -qq chromium" in log.read_text()
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "installing" in lines[0] and "apt-get" in lines[0] and "chromium" in lines[0], lines
