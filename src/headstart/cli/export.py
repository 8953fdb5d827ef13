"""`headstart export`: a saved model to ONNX (optionally int8), checked against PyTorch before it is kept."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ..config import Options, opt
from ..errors import ConfigError, expected
from ..io import check_output_folder
from ..serving.export import export_onnx
from .args import options_adder, parse_into


@dataclass
class ExportArgs(Options):
    model: str = opt(None, "model folder written by `headstart fit`", positional=True)
    onnx: bool = opt(False, "export to ONNX (the only format so far; required)")
    int8: bool = opt(False, "also write a dynamically quantised int8 model (model.int8.onnx)")
    test: str = opt("", "labelled file: parity texts and the accuracy of PyTorch vs ONNX vs int8 "
                        "(default: the shipped demo sample, parity only)")
    output: str = opt("", "output folder (default: MODEL/onnx); replaced atomically", aliases=("-o",))
    overwrite: bool = opt(False, "replace an existing headstart ONNX export folder at --output")
    tolerance: float = opt(1e-4, "largest allowed |p_onnx - p_torch|; beyond it the export fails and writes nothing",
                           gt=0)
    parity_texts: int = opt(64, "texts compared in the parity check", min=1)
    opset: int = opt(17, "ONNX opset version", min=9)


def run(args: argparse.Namespace) -> int:
    ea = parse_into(args, ExportArgs)
    if not ea.model:
        raise ConfigError(expected("a model folder", "none", "Usage: headstart export MODEL --onnx [--int8]"))
    if not ea.onnx:
        raise ConfigError(expected("an export format", "none", "Pass --onnx (the supported format)."))
    check_output_folder(ea.output or Path(ea.model) / "onnx", ea.overwrite, "onnx")  # before the export runs
    report = export_onnx(ea.model, ea.output or None, int8=ea.int8, test=ea.test or None, tolerance=ea.tolerance,
                         parity_limit=ea.parity_texts, opset=ea.opset)
    for line in report.lines():
        print(line)
    return 0


COMMAND = ("export", "export a saved model to ONNX (optionally int8) with a parity check against PyTorch",
           options_adder(ExportArgs), run)
