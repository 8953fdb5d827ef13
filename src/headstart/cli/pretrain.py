"""`headstart pretrain`: continue pre-training a backbone on unlabelled in-domain text (one text per line)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from ..backbones import DEFAULT_BACKBONE, resolve_backbone
from ..config import Options, opt
from ..errors import ConfigError, expected
from ..io import check_output_folder
from ..tables import table
from ..training.pretrain import PretrainConfig, continue_pretraining, read_corpus
from .args import options_adder, parse_into


@dataclass
class PretrainArgs(Options):
    corpus: str = opt(None, "UTF-8 text file, one unlabelled text per line", positional=True)
    output: str = opt("backbones/adapted", "folder for the adapted backbone (replaced atomically); pass it to "
                                           "any strategy as --backbone", aliases=("-o",))
    overwrite: bool = opt(False, "replace an existing headstart pretrain backbone folder at --output")
    backbone: str = opt(DEFAULT_BACKBONE, "backbone to continue from: a name from `headstart models` or a folder")
    quiet: bool = opt(False, "no progress bars")


def run(args: argparse.Namespace) -> int:
    a = parse_into(args, PretrainArgs)
    if not a.corpus:
        raise ConfigError(expected("a text file", "none", "Usage: headstart pretrain corpus.txt -o backbones/mine"))
    config = parse_into(args, PretrainConfig)
    check_output_folder(a.output, a.overwrite, "backbone")  # before anything trains
    lines = read_corpus(a.corpus)
    ref = resolve_backbone(a.backbone)
    print(f"pretrain: continuing {ref.name} ({ref.kind}) on {len(lines):,} lines of {a.corpus}", flush=True)
    report = continue_pretraining(ref, lines, a.output, config, progress=not a.quiet)
    rows = [{"when": when, **scores} for when, scores in (("before", report.before), ("after", report.after))]
    print(table(rows, ["when", *report.before]))
    for note in report.notes:
        print(f"note: {note}")
    print(f"{report.objective}: held-out {summary_line(report)} after {report.steps} steps ({report.seconds:.0f}s, "
          f"{report.train_lines:,} training lines, {report.holdout_lines:,} held out)")
    print(f"saved the backbone to {a.output}; use it with --backbone {a.output}")
    return 0


def summary_line(report) -> str:
    """The headline before -> after figure of a pre-training report, named for its objective."""
    if report.objective == "simcse":
        return (f"contrastive loss {report.before['loss']:.3g} -> {report.after['loss']:.3g}, retrieval accuracy "
                f"{report.before['retrieval_accuracy']:.3f} -> {report.after['retrieval_accuracy']:.3f}")
    name = "masked-token perplexity" if report.objective == "masked-lm" else "perplexity"
    return (f"{name} {report.before['perplexity']:.2f} -> {report.after['perplexity']:.2f}, token accuracy "
            f"{report.before['token_accuracy']:.4f} -> {report.after['token_accuracy']:.4f}")


COMMAND = ("pretrain", "continue pre-training a backbone on unlabelled in-domain text (masked or causal LM, or SimCSE)",
           options_adder(PretrainArgs, (PretrainConfig, "training")), run)
