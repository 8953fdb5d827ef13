"""Loading and serving safely: pickles only on request, hashes checked at load, loopback by default."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from headstart.cli import main
from headstart.cli.serve import ServeArgs, _is_loopback


@pytest.fixture(scope="module")
def pickled_backbone(tiny_backbone, tmp_path_factory):
    """The tiny backbone with its weights as a pickled pytorch_model.bin only."""
    import torch
    from safetensors.torch import load_file

    folder = tmp_path_factory.mktemp("pickled")
    src = Path(tiny_backbone)
    for f in src.iterdir():
        if f.suffix != ".safetensors":
            shutil.copy(f, folder / f.name)
    torch.save(load_file(str(src / "model.safetensors")), folder / "pytorch_model.bin")
    return folder


def test_fit_refuses_pickled_backbone_without_opt_in(pickled_backbone, small_data, tmp_path, capsys):
    train = tmp_path / "train.csv"
    small_data[0].iloc[:60].to_csv(train, index=False)
    args = ["fit", str(train), "--strategy", "finetune", "--backbone", str(pickled_backbone), "--epochs", "1",
            "--quiet", "-o", str(tmp_path / "m")]
    assert main(args) == 2
    assert "--allow-pickle" in capsys.readouterr().err and not (tmp_path / "m").exists()
    assert main(args + ["--allow-pickle"]) == 0
    assert (tmp_path / "m" / "model.safetensors").exists()  # what we save is always safetensors


def test_serve_refuses_a_modified_model(tiny_model, tmp_path, capsys):
    copy = tmp_path / "m"
    shutil.copytree(tiny_model, copy, ignore=shutil.ignore_patterns("onnx"))
    with open(copy / "model.safetensors", "ab") as fh:
        fh.write(b"\0")
    assert main(["serve", str(copy)]) == 2
    assert "changed or missing: model.safetensors" in capsys.readouterr().err


def test_server_binds_to_loopback_unless_told():
    assert ServeArgs().host == "127.0.0.1"
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0")


KEY = "a-test-key-0123456789abcdef"


@pytest.fixture
def no_uvicorn(monkeypatch):
    """uvicorn.run replaced by a recorder: a test that expects a refusal must not start (and block on) a server."""
    import uvicorn

    started: list = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append((app, kw)))
    monkeypatch.delenv("HEADSTART_API_KEY", raising=False)
    return started


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_serve_refuses_a_network_address_without_an_api_key(tiny_model, no_uvicorn, capsys, host):
    assert main(["serve", str(tiny_model), "--host", host]) == 2
    err = capsys.readouterr().err
    assert "expected an API key" in err and "HEADSTART_API_KEY" in err and "--host 127.0.0.1" in err
    assert no_uvicorn == []


@pytest.mark.parametrize("flag, env, reason", [
    ("short", "", "a key of 5 characters"),
    ("with spaces in the key 0123", "", "including others"),
    (KEY, KEY[::-1], "different values"),
])
def test_serve_refuses_a_bad_api_key_without_echoing_it(tiny_model, no_uvicorn, monkeypatch, capsys, flag, env,
                                                         reason):
    if env:
        monkeypatch.setenv("HEADSTART_API_KEY", env)
    assert main(["serve", str(tiny_model), "--host", "0.0.0.0", "--api-key", flag]) == 2
    out = capsys.readouterr()
    assert reason in out.err and flag not in out.err + out.out and (not env or env not in out.err + out.out)
    assert no_uvicorn == []


def test_serve_takes_the_key_from_the_environment_and_enforces_it(tiny_model, no_uvicorn, monkeypatch, capsys):
    import asyncio

    import httpx

    monkeypatch.setenv("HEADSTART_API_KEY", KEY)
    assert main(["serve", str(tiny_model), "--host", "0.0.0.0"]) == 0
    out = capsys.readouterr()
    assert KEY not in out.out + out.err and "Authorization: Bearer" in out.out
    ((app, kwargs),) = no_uvicorn
    assert kwargs["host"] == "0.0.0.0"

    async def run():
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
                return (await client.post("/predict", json={"text": "a film"}),
                        await client.post("/predict", json={"text": "a film"}, headers={"authorization": f"Bearer {KEY}"}))

    without, with_key = asyncio.run(run())
    assert without.status_code == 401 and with_key.status_code == 200


def test_a_loopback_server_needs_no_key_but_honours_one(tiny_model, no_uvicorn):
    assert main(["serve", str(tiny_model)]) == 0
    assert main(["serve", str(tiny_model), "--api-key", KEY]) == 0
    assert len(no_uvicorn) == 2


def test_a_real_server_never_logs_the_key(exported):
    import httpx

    from .conftest import Server

    server = Server([str(exported.parent), "--onnx", "--host", "127.0.0.1", "--log-level", "info"],
                    env={"HEADSTART_API_KEY": KEY})
    try:
        assert httpx.post(server.url + "/predict", json={"text": "hi"}).status_code == 401
        bad = httpx.post(server.url + "/predict", json={"text": "hi"}, headers={"authorization": f"Bearer {KEY}x"})
        assert bad.status_code == 401
        ok = httpx.post(server.url + "/predict", json={"text": "hi"}, headers={"authorization": f"Bearer {KEY}"})
        assert ok.status_code == 200
    finally:
        output = server.output()
        server.stop()
    assert output.count("-> 401:") == 2 and KEY not in output
