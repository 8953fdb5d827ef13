"""A tiny fine-tuned model (and its ONNX export) shared by the serving tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tiny_backbone, small_data) -> Path:
    from headstart import TextClassifier

    train, _ = small_data
    clf = TextClassifier(backbone=tiny_backbone, strategy="finetune", epochs=2, batch_size=16, lr=1e-3,
                         max_length=64, progress=False)
    clf.fit(train.text.tolist(), train.label.tolist())
    return clf.save(tmp_path_factory.mktemp("serving") / "m1")


@pytest.fixture(scope="session")
def exported(tiny_model, tmp_path_factory, small_data) -> Path:
    from headstart.serving.export import export_onnx

    test_csv = tmp_path_factory.mktemp("export-data") / "test.csv"
    small_data[1].to_csv(test_csv, index=False)
    export_onnx(tiny_model, int8=True, test=str(test_csv))
    return tiny_model / "onnx"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`headstart serve` as a real subprocess on 127.0.0.1; stopped (terminate, then kill) at the end.

    Its output goes to a file (`output()`), not a pipe: a server logging one line per failed request would
    block once a pipe nobody reads is full."""

    def __init__(self, args: list[str], timeout: float = 120.0, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="headstart-serve-", suffix=".log", delete=False)
        env = dict(os.environ, **(env or {}), PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen([sys.executable, "-m", "headstart", "serve", *args, "--port", str(self.port),
                                      "--threads", "1"], env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not start in time")

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def onnx_server(exported):
    server = Server([str(exported.parent), "--onnx", "--max-texts", "8", "--max-text-chars", "500",
                     "--max-body-bytes", "20000"])
    yield server
    server.stop()
