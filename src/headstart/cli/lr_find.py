"""`headstart lr-find`: learning-rate range test on a labelled file; writes a plot and JSON, prints a suggestion."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ..backbones import DEFAULT_BACKBONE, resolve_backbone
from ..classifier import TextClassifier
from ..config import MIN_TOKENS, Options, opt
from ..errors import ConfigError, expected
from ..io import atomic_file, check_output_folder, write_json
from ..seeding import pick_device, set_seed
from ..training.lr_find import lr_range_test, plot
from ..training.seqcls import pretrained_classifier
from .args import options_adder, parse_into
from .common import ColumnArgs, read_labelled


@dataclass
class LrFindArgs(Options):
    data: str = opt(None, "training data: .csv, .tsv, .jsonl or .parquet", positional=True)
    output: str = opt("runs/lr-find", "folder for lr_find.png and lr_find.json", aliases=("-o",))
    overwrite: bool = opt(False, "replace an existing headstart lr-find result in --output")
    backbone: str = opt(DEFAULT_BACKBONE, "pre-trained model: a name from `headstart models`, a folder or a hub id")
    steps: int = opt(100, "steps of the test (the rate rises geometrically over them)", min=2)
    start_lr: float = opt(1e-7, "learning rate of the first step", gt=0)
    end_lr: float = opt(1.0, "learning rate of the last step (above --start-lr)", gt=0)
    batch_size: int = opt(16, "examples per step", min=1)
    max_length: int = opt(128, "tokens kept per text", min=MIN_TOKENS)
    seed: int = opt(0, "random seed", min=0)
    device: str = opt("auto", "'auto', 'cpu' or 'cuda'")


def run(args: argparse.Namespace) -> int:
    a = parse_into(args, LrFindArgs)
    if not a.data:
        raise ConfigError(expected("a training data file", "none", "Usage: headstart lr-find DATA -o FOLDER"))
    check_output_folder(a.output, a.overwrite, "lr-find")  # before the test runs
    examples = read_labelled(a.data, parse_into(args, ColumnArgs))
    # Label encoding is TextClassifier's; borrow it rather than duplicating it.
    encoder = TextClassifier(task=examples.task)
    encoder.task_, encoder.classes_ = examples.task, examples.classes()
    target = encoder.encode(examples)
    set_seed(a.seed)
    ref = resolve_backbone(a.backbone)
    classifier = pretrained_classifier(ref, target, a.max_length, pick_device(a.device))
    print(f"lr-find: {a.steps} steps from {a.start_lr:g} to {a.end_lr:g} on {len(examples):,} rows, "
          f"backbone {ref.name}", flush=True)
    result = lr_range_test(classifier.model, classifier.tokenizer, target, start_lr=a.start_lr, end_lr=a.end_lr,
                           steps=a.steps, batch_size=a.batch_size, max_length=a.max_length, seed=a.seed,
                           device=classifier.device)
    out = Path(a.output)
    with atomic_file(out / "lr_find.png") as tmp:
        plot(result, str(tmp), f"lr-find: {ref.name} on {Path(a.data).name}")
    write_json(out / "lr_find.json", {"backbone": ref.name, "data": a.data, **result.to_dict()})
    if result.stopped_early:
        print(f"the loss diverged after {len(result.lrs)} steps (at lr {result.lrs[-1]:.2e}); the test stopped there")
    print(f"suggested lr: {result.suggested_lr:.2e} (steepest descent of the smoothed loss); "
          f"minimum-loss lr / 10: {result.min_loss_lr:.2e}")
    print(f"wrote {out / 'lr_find.png'} and {out / 'lr_find.json'}")
    return 0


COMMAND = ("lr-find", "learning-rate range test: plot the loss against the learning rate and suggest one",
           options_adder(LrFindArgs, (ColumnArgs, "columns")), run)
