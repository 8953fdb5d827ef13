"""`headstart serve`: an HTTP JSON API for a saved model (FastAPI + uvicorn), on 127.0.0.1 unless told."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from dataclasses import dataclass
from typing import Literal

from ..config import Options, opt
from ..errors import ConfigError, expected
from .args import add_dataclass_args, parse_into

API_KEY_ENV = "HEADSTART_API_KEY"
MIN_KEY_CHARS = 16
NEW_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


@dataclass
class ServeArgs(Options):
    model: str = opt(None, "model folder written by `headstart fit` (or an ONNX export folder)", positional=True)
    onnx: bool = opt(False, "serve the ONNX export (MODEL/onnx, from `headstart export MODEL --onnx`)")
    int8: bool = opt(False, "serve the int8 ONNX model (implies --onnx)")
    host: str = opt("127.0.0.1", "address to bind; any other than a loopback address (0.0.0.0 exposes the server to "
                    "the network) needs an API key — and put the server behind a TLS proxy")
    port: int = opt(8000, "TCP port", min=1, max=65535)
    threads: int = opt(0, "CPU threads for the model (0: the runtime's default)", min=0)
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = opt(
        "warning", "uvicorn log level; at warning every failed request logs one line (status, reason, request id), "
        "never its text")
    api_key: str = opt("", f"shared secret clients send as 'Authorization: Bearer KEY'; required unless --host is a "
                       f"loopback address. Prefer the {API_KEY_ENV} environment variable: a command line is "
                       "visible to other users of the machine")


def add_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    from ..serving.server import ServeLimits

    add_dataclass_args(parser, ServeArgs)
    add_dataclass_args(parser, ServeLimits, "limits and batching")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from ..serving.server import ServeLimits, create_app, load_predictor

    sa = parse_into(args, ServeArgs)  # the port and the limits are range-checked here (see their `opt`)
    limits = parse_into(args, ServeLimits)
    if not sa.model:
        raise ConfigError(expected("a model folder", "none", "Usage: headstart serve MODEL [--onnx] [--port 8000]"))
    api_key = resolve_api_key(sa.api_key, os.environ.get(API_KEY_ENV, ""), sa.host)
    predictor, metadata = load_predictor(sa.model, onnx=sa.onnx, int8=sa.int8, threads=sa.threads)
    _log_to_stderr(sa.log_level)
    if not _is_loopback(sa.host):
        print(f"warning: {sa.host} is reached over plain HTTP: the API key and the texts travel unencrypted; "
              "put a TLS-terminating proxy in front.", file=sys.stderr)
    app = create_app(predictor, metadata, limits, api_key=api_key)
    auth = "clients must send 'Authorization: Bearer <key>'" if api_key else "no API key (loopback only)"
    print(f"serving {sa.model} ({metadata['runtime']}) at http://{sa.host}:{sa.port} — docs at /docs; {auth}",
          flush=True)
    uvicorn.run(app, host=sa.host, port=sa.port, log_level=sa.log_level, access_log=False)
    return 0


def resolve_api_key(flag: str, env: str, host: str) -> str | None:
    """The API key from --api-key or the environment; refused (ConfigError) when the two disagree, when it
    is too short or not plain ASCII, or when it is missing for a non-loopback --host. Never echoes the key."""
    if flag and env and flag != env:
        raise ConfigError(expected("one API key", f"--api-key and {API_KEY_ENV} with different values",
                                   f"Give the key once: unset {API_KEY_ENV} or drop --api-key."))
    key = flag or env
    if not key:
        if _is_loopback(host):
            return None
        raise ConfigError(expected(
            "an API key when the server binds a non-loopback address", f"--host {host} and no key",
            f"Anyone who can reach {host} could use the model. Create a key ({NEW_KEY}), export it as "
            f"{API_KEY_ENV} (or pass --api-key) and give it to the clients; or bind --host 127.0.0.1."))
    plain = key.isascii() and key.isprintable() and " " not in key  # it must travel in an HTTP header
    if len(key) < MIN_KEY_CHARS or not plain:
        raise ConfigError(expected(
            f"an API key of at least {MIN_KEY_CHARS} printable ASCII characters without spaces",
            f"a key of {len(key)} characters{'' if plain else ' including others'}", f"Create one with {NEW_KEY}."))
    return key


def _log_to_stderr(level: str) -> None:
    """Failed requests are logged on the `headstart.serving` logger; uvicorn configures only its own."""
    logger = logging.getLogger("headstart.serving")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(getattr(logging, level.upper(), logging.WARNING))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


COMMAND = ("serve", "serve a saved model over HTTP (POST /predict, /health, /metadata, /metrics, /docs)",
           add_arguments, run)
