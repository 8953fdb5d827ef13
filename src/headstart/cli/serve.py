"""`headstart serve`: an HTTP JSON API for a saved model (FastAPI + uvicorn), on 127.0.0.1 unless told."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from dataclasses import dataclass
from typing import Literal

from ..config import Options, opt
from ..errors import ConfigError, expected
from .args import add_dataclass_args, parse_into


@dataclass
class ServeArgs(Options):
    model: str = opt(None, "model folder written by `headstart fit` (or an ONNX export folder)", positional=True)
    onnx: bool = opt(False, "serve the ONNX export (MODEL/onnx, from `headstart export MODEL --onnx`)")
    int8: bool = opt(False, "serve the int8 ONNX model (implies --onnx)")
    host: str = opt("127.0.0.1", "address to bind; 0.0.0.0 exposes the server to the network — put it behind a proxy")
    port: int = opt(8000, "TCP port", min=1, max=65535)
    threads: int = opt(0, "CPU threads for the model (0: the runtime's default)", min=0)
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = opt("warning", "uvicorn log level")


def add_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    from ..serving.server import ServeLimits

    add_dataclass_args(parser, ServeArgs)
    add_dataclass_args(parser, ServeLimits, "limits and batching")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from ..serving.server import ServeLimits, create_app, load_predictor

    sa = parse_into(args, ServeArgs)
    limits = parse_into(args, ServeLimits)
    if not sa.model:
        raise ConfigError(expected("a model folder", "none", "Usage: headstart serve MODEL [--onnx] [--port 8000]"))
    if not 0 < sa.port < 65536:
        raise ConfigError(expected("a port between 1 and 65535", str(sa.port), "Pick another --port."))
    if min(limits.max_body_bytes, limits.max_texts, limits.max_text_chars, limits.max_batch, limits.max_queue) < 1:
        raise ConfigError(expected("positive limits", str(limits), "Raise the limit that is 0 or negative."))
    predictor, metadata = load_predictor(sa.model, onnx=sa.onnx, int8=sa.int8, threads=sa.threads)
    if not _is_loopback(sa.host):
        print(f"warning: binding to {sa.host} exposes the model to the network; the API has no authentication.",
              file=sys.stderr)
    app = create_app(predictor, metadata, limits)
    print(f"serving {sa.model} ({metadata['runtime']}) at http://{sa.host}:{sa.port} — docs at /docs", flush=True)
    uvicorn.run(app, host=sa.host, port=sa.port, log_level=sa.log_level, access_log=False)
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


COMMAND = ("serve", "serve a saved model over HTTP (POST /predict, /health, /metadata, /metrics, /docs)",
           add_arguments, run)
