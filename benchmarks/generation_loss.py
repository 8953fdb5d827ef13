"""Training-step time of a decoder-only LM with the model's own loss vs the target-only loss, side by side.

    python benchmarks/generation_loss.py --data-dir /work/shared/data [--dataset multi30k_en_de] [--steps 4]
        [--batch-size 8] [--backbone SmolLM2-135M-Instruct]

Both losses train a fresh copy of the same model on the same batches (full fine-tuning, AdamW); the script
prints seconds per step, the ratio, and the two losses of the first step (they must agree).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from headstart.backbones import resolve_backbone  # noqa: E402
from headstart.generation import read_pairs  # noqa: E402
from headstart.generation.backends import build_backend  # noqa: E402
from headstart.generation.config import GenerationConfig  # noqa: E402
from headstart.generation.encoding import Prompter, collate, training_examples  # noqa: E402
from headstart.generation.loss import model_loss, target_only_loss  # noqa: E402

COLUMNS = {"multi30k_en_de": ("translate", "source", "target"), "aeslc": ("summarize", "document", "summary")}


def time_steps(model, batches, loss_fn) -> tuple[float, float]:
    """Mean seconds per optimiser step (after one warm-up step) and the first step's loss."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model.train()
    first, started = None, 0.0
    for i, batch in enumerate(batches):
        if i == 1:
            started = time.perf_counter()
        loss = loss_fn(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        first = float(loss.detach()) if first is None else first
    return (time.perf_counter() - started) / max(1, len(batches) - 1), first


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--dataset", default="multi30k_en_de", choices=sorted(COLUMNS))
    p.add_argument("--backbone", default="SmolLM2-135M-Instruct")
    p.add_argument("--steps", type=int, default=4, help="timed steps per loss (one more warms up)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-source-length", type=int, default=256)
    args = p.parse_args(argv)
    import torch

    task, src, tgt = COLUMNS[args.dataset]
    pairs = read_pairs(Path(args.data_dir) / args.dataset / "train.jsonl", src, tgt)
    n = args.batch_size * (args.steps + 1)
    config = GenerationConfig(device="cpu", max_source_length=args.max_source_length)
    backend = build_backend(resolve_backbone(args.backbone), config, "full")
    prompter = Prompter.for_backend(backend, task, config)
    examples = training_examples(backend, prompter, pairs.sources[:n], pairs.targets[:n], config)
    batches = [collate(examples[i:i + args.batch_size], backend.tokenizer.pad_token_id, "cpu")
               for i in range(0, n, args.batch_size)]
    scored = sum(int((b["labels"][:, 1:] != -100).sum()) for b in batches)
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    print(f"{args.backbone} on {args.dataset}: {len(batches)} batches of {args.batch_size}, {tokens} tokens, "
          f"{scored} scored ({scored / tokens:.0%}); torch threads {torch.get_num_threads()}", flush=True)
    results = {}
    for name, fn in (("model", model_loss), ("target-only", target_only_loss)):
        model = copy.deepcopy(backend.model)
        seconds, first = time_steps(model, batches, fn)
        results[name] = seconds
        print(f"{name:>12}: {seconds:.2f} s/step, first-step loss {first:.4f}",
              flush=True)
        del model
    print(f"speed-up (model / target-only): {results['model'] / results['target-only']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
