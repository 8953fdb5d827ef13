"""Issue 19 part 2: the generation trainer and decoder against plain Hugging Face, through benchmarks/sidebyside.py
(every side in its own process, interleaved over --repeats rounds, equal counted work asserted before a ratio is
printed, one JSON row appended to benchmarks/results/generation-speed-cpu.jsonl).

* training: headstart's trainer (length-grouped batches, output layer on target positions only, fused AdamW) vs
  a plain `transformers.Trainer` (DataCollatorForSeq2Seq, the model's own loss over every position), with the
  same LoRA model (peft, headstart's lora strategy builds both), pairs, prompt, max lengths, batch size, epochs,
  optimiser, lr schedule and clipping. Counted on both sides from the outside: rows, examples, optimiser steps,
  widest batch and the real (non-pad) tokens the model body saw. The padding rule differs and is recorded.
* generation: headstart's batched decoding (batch 16, KV cache, longest first, left padding) vs one
  `model.generate` call per input (no padding), greedy; the outputs' digest is part of the compared work, so the
  ratio is only printed when every output is identical.

    python benchmarks/generation_speed.py --data-dir /work/shared/data            # default: a few minutes, 2 cores
    python benchmarks/generation_speed.py --pairs 256 --gen-inputs 128 --repeats 5  # bigger
    python benchmarks/generation_speed.py --profile        # where one training step's time goes
    python benchmarks/generation_speed.py --memory 4,8,16  # trainer peak RSS per batch size
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import sidebyside  # noqa: E402  (benchmarks/ is on sys.path when this script runs)
# headstart sets its OpenMP settings (threads, short spin) at import, which only works before torch is imported:
# imported here, every side (the Trainer and one-by-one sides too) runs with the same settings
import headstart  # noqa: E402,F401

DATASETS = {"multi30k_en_de": ("translate", "source", "target"), "aeslc": ("summarize", "document", "summary")}


# ------------------------------------------------------------------------------------------------- shared set-up


def _pairs(config: dict):
    from headstart.generation.data import read_pairs

    _, source_col, target_col = DATASETS.get(config["dataset"], ("", "source", "target"))
    pairs = read_pairs(config["pairs_file"], source_col, target_col)
    start = config.get("offset", 0)
    return pairs.sources[start:start + config["rows"]], pairs.targets[start:start + config["rows"]]


def _gen_config(config: dict):
    from headstart.generation.config import GenerationConfig

    return GenerationConfig(epochs=config["epochs"], batch_size=config["batch_size"], lr=config["lr"],
                            max_length=config["max_length"], max_source_length=config["max_source_length"],
                            max_target_length=config["max_target_length"], valid_fraction=0.0, patience=0,
                            max_new_tokens=config["max_new_tokens"], generation_batch_size=config["gen_batch_size"],
                            device=config["device"])


def _backend(config: dict, strategy: str):
    """The model both sides start from (headstart's own strategy builds it, so LoRA settings are identical)."""
    from headstart import resolve_backbone
    from headstart.seeding import set_seed
    from headstart.strategies import get_strategy

    set_seed(config["seed"])
    cfg = _gen_config(config)
    return get_strategy(strategy, config["task"])().build_backend(resolve_backbone(config["backbone"]), cfg), cfg


def _examples(config: dict):
    from headstart.generation.encoding import Prompter, training_examples

    backend, cfg = _backend(config, "lora")
    sources, targets = _pairs(config)
    prompter = Prompter.for_backend(backend, config["task"], cfg)
    return backend, cfg, training_examples(backend, prompter, sources, targets, cfg)


def count_tokens(body, work: "sidebyside.Work"):
    """Real (non-pad) tokens the model body sees in training mode, added to the compared work."""
    work.extra["tokens"] = 0

    def hook(module, args, kwargs):
        mask = kwargs.get("attention_mask")
        if module.training and mask is not None:
            work.extra["tokens"] += int(mask.sum())

    return body.register_forward_pre_hook(hook, with_kwargs=True)


def _counted_training(model, config: dict, rows: int, padding: str = "longest-in-batch"):
    # the body (LlamaModel), not the top model: headstart's target-only loss calls the body directly, the
    # Trainer reaches it through the causal-LM forward; both pass it input_ids and attention_mask
    body = model.get_decoder()
    # both pad each batch to its longest row; which rows share a batch (the grouping) differs and is recorded
    ctx = sidebyside.count_training(body, rows, config["max_length"], padding, batch_size=config["batch_size"])
    return body, ctx


# ------------------------------------------------------------------------------------------------- training sides


def side_train_headstart(config: dict, clock) -> "sidebyside.Work":
    """headstart's trainer. Its batches are counted as the loop draws them (rows, width, padded and real tokens),
    not at the body: with a shared prefix the body sees each batch in two calls (the prefix once, then the rows
    from there), and counting calls would count the prefix as an extra row. What the body computed is recorded
    beside the compared work (`body_tokens`)."""
    import torch

    from headstart.generation import trainer as loop
    from headstart.generation.encoding import collate
    from headstart.generation.loss import shared_prefix_length

    backend, cfg, examples = _examples(config)
    pad_id = backend.tokenizer.pad_token_id
    counting = sidebyside.count_training(torch.nn.Identity(), len(examples), config["max_length"],
                                         "longest-in-batch", batch_size=config["batch_size"])  # optimiser steps
    draw = loop.length_grouped_batches
    with counting as work:
        work.extra["tokens"], work.info["shareable_tokens"] = 0, 0

        def counted(*args, **kwargs):
            for index in draw(*args, **kwargs):
                batch = collate([examples[i] for i in index], pad_id, "cpu")
                work.examples += len(index)
                work.longest_batch = max(work.longest_batch, int(batch["input_ids"].shape[1]))
                work.info["padded_tokens"] += int(batch["input_ids"].numel())
                work.extra["tokens"] += int(batch["attention_mask"].sum())
                work.info["shareable_tokens"] += shared_prefix_length(batch) * (len(index) - 1)
                yield index

        loop.length_grouped_batches = counted
        try:
            with clock:
                result = loop.train(backend.model, examples, None, cfg, pad_id, config["seed"], config["device"])
        finally:
            loop.length_grouped_batches = draw
    shared = "shared-prefix" in result["loss"]
    work.info.update(loss=result["loss"], grouping="length-grouped batches", output_layer="target positions only",
                     body_tokens=work.extra["tokens"] - (work.info["shareable_tokens"] if shared else 0))
    return work


def side_train_trainer(config: dict, clock) -> "sidebyside.Work":
    """A plain `transformers.Trainer` on the same examples: random batches padded to the longest row, the
    model's own loss (full-vocabulary logits at every position), AdamW with the same lr, warmup, decay, clipping."""
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    backend, cfg, examples = _examples(config)
    rows = [{"input_ids": e["input_ids"], "attention_mask": [1] * len(e["input_ids"]), "labels": e["labels"]}
            for e in examples]
    steps = -(-len(rows) // cfg.batch_size) * cfg.epochs
    body, counting = _counted_training(backend.model, config, len(rows))
    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(output_dir=out, per_device_train_batch_size=cfg.batch_size,
                                  num_train_epochs=cfg.epochs, learning_rate=cfg.lr, weight_decay=cfg.weight_decay,
                                  warmup_steps=int(cfg.warmup_ratio * steps), lr_scheduler_type="linear",
                                  max_grad_norm=cfg.max_grad_norm, logging_strategy="no", save_strategy="no",
                                  report_to=[], use_cpu=config["device"] == "cpu", dataloader_num_workers=0,
                                  disable_tqdm=True, seed=config["seed"], remove_unused_columns=False)
        collator = DataCollatorForSeq2Seq(backend.tokenizer, padding="longest", label_pad_token_id=-100)
        trainer = Trainer(model=backend.model, args=targs, train_dataset=rows, data_collator=collator)
        with counting as work:
            hook = count_tokens(body, work)
            with clock:
                trainer.train()
            hook.remove()
    work.info.update(loss="model", grouping="random batches", output_layer="every position")
    return work


# ----------------------------------------------------------------------------------------------- generation sides


def _gen_inputs(config: dict):
    from headstart.generation.encoding import Prompter, source_inputs

    backend, cfg = _backend(config, "zero-shot")
    sources, _ = _pairs(dict(config, rows=config["gen_inputs"]))
    prompter = Prompter.for_backend(backend, config["task"], cfg)
    return backend, cfg, source_inputs(backend, prompter, sources, cfg.max_source_length)


def _generation_work(config: dict, outputs: list[list[int]], padding: str) -> "sidebyside.Work":
    """The outputs' digest is compared work: a ratio is only printed when every output is identical. The
    padding rule is what is measured (batched: left padding; one by one: none), so it is recorded, not compared."""
    digest = hashlib.sha256(json.dumps(outputs).encode()).hexdigest()[:16]
    return sidebyside.Work(rows=len(outputs), examples=len(outputs), max_length=config["max_new_tokens"],
                           padding="greedy", extra={"generated_tokens": sum(len(o) for o in outputs),
                                                    "outputs_sha256": digest, "num_beams": 1},
                           info={"padding": padding})


def side_generate_batched(config: dict, clock) -> "sidebyside.Work":
    from headstart.generation.decoding import generate

    backend, cfg, inputs = _gen_inputs(config)
    generate(backend, inputs[:2], cfg, config["device"], desc="warm-up")
    tok = backend.tokenizer
    with clock:
        texts, stats = generate(backend, inputs, cfg, config["device"])
    outputs = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]  # same token view on both sides
    work = _generation_work(config, outputs, f"left, batches of {cfg.generation_batch_size}, longest first")
    work.info["decoder_tokens"] = stats.generated_tokens
    return work


def side_generate_one_by_one(config: dict, clock) -> "sidebyside.Work":
    import torch

    from headstart.generation.decoding import _until_eos

    backend, cfg, inputs = _gen_inputs(config)
    model, tok = backend.model, backend.tokenizer
    model.eval()

    def one(ids: list[int]) -> list[int]:
        x = torch.tensor([ids], device=config["device"])
        out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=cfg.max_new_tokens,
                             num_beams=1, do_sample=False, pad_token_id=tok.pad_token_id,
                             eos_token_id=tok.eos_token_id)
        return _until_eos(out[0, x.shape[1]:].tolist(), tok.eos_token_id, skip_first=False)

    with torch.no_grad():
        for ids in inputs[:2]:
            one(ids)  # warm-up
        with clock:
            rows = [one(ids) for ids in inputs]
    texts = [tok.decode(r, skip_special_tokens=True).strip() for r in rows]
    outputs = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    work = _generation_work(config, outputs, "none (one input per call)")
    work.info["decoder_tokens"] = sum(len(r) for r in rows)
    return work


SIDES = {"training:trainer": side_train_trainer, "training:headstart": side_train_headstart,
         "generation:one-by-one": side_generate_one_by_one, "generation:batched": side_generate_batched}


# ------------------------------------------------------------------------------------------------- profile, memory


def profile_step(config: dict, steps: int = 3) -> list[dict]:
    """Seconds of each part of a training step (body forward, output layer + loss, backward, clipping, optimiser),
    for the target-only loss and for the model's own loss, on length-grouped batches; padding share counted."""
    import numpy as np
    import torch

    from headstart.generation.encoding import collate
    from headstart.generation.loss import model_loss
    from headstart.training.batching import length_grouped_batches
    from headstart.training.loop import default_param_groups
    from headstart.training.step import TrainStep

    backend, cfg, examples = _examples(config)
    model, pad = backend.model, backend.tokenizer.pad_token_id
    model.train()
    step = TrainStep(default_param_groups(model, cfg.lr, cfg.weight_decay), lr=cfg.lr, total_steps=100,
                     max_grad_norm=cfg.max_grad_norm, clip=model.parameters(), progress=False)
    lengths = [len(e["input_ids"]) for e in examples]
    batches = length_grouped_batches(lengths, cfg.batch_size, np.random.default_rng(config["seed"]))

    def timed(fn):
        start = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - start

    rows = []
    for i, index in enumerate(batches[:steps + 1]):
        batch = collate([examples[j] for j in index], pad, config["device"])
        body, head = model.get_decoder(), model.get_output_embeddings()
        hidden, t_body = timed(lambda: body(input_ids=batch["input_ids"],
                                            attention_mask=batch["attention_mask"]).last_hidden_state)
        targets = batch["labels"][:, 1:]
        scored = targets != -100
        loss, t_head = timed(lambda: torch.nn.functional.cross_entropy(head(hidden[:, :-1][scored]).float(),
                                                                       targets[scored]))
        step.optimizer.zero_grad(set_to_none=True)
        _, t_back = timed(loss.backward)
        _, t_clip = timed(lambda: torch.nn.utils.clip_grad_norm_(step.clip, cfg.max_grad_norm))
        _, t_opt = timed(step.optimizer.step)
        full, t_full = timed(lambda: model_loss(model, batch))
        step.optimizer.zero_grad(set_to_none=True)
        _, t_full_back = timed(full.backward)
        step.optimizer.zero_grad(set_to_none=True)
        row = {"batch": i, "width": int(batch["input_ids"].shape[1]), "real_tokens": int(batch["attention_mask"].sum()),
               "padded_tokens": int(batch["input_ids"].numel()), "scored_tokens": int(scored.sum()),
               "body_forward_s": t_body, "output_layer_loss_s": t_head, "backward_s": t_back, "clip_s": t_clip,
               "optimiser_s": t_opt, "model_loss_forward_s": t_full, "model_loss_backward_s": t_full_back}
        if i:  # the first batch warms up allocators and kernels
            rows.append(row)
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    return rows


def side_memory(config: dict, clock) -> "sidebyside.Work":
    """One epoch of headstart's trainer at this batch size: its peak RSS is what the harness records."""
    return side_train_headstart(config, clock)


# ------------------------------------------------------------------------------------------------------------ main


def build_config(args) -> dict:
    task = DATASETS[args.dataset][0]
    return {"dataset": args.dataset, "task": task, "pairs_file": str(Path(args.data_dir) / args.dataset / "train.jsonl"),
            "backbone": args.backbone, "device": args.device, "rows": args.pairs, "epochs": args.epochs,
            "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed, "max_length": args.max_length,
            "max_source_length": args.max_source_length, "max_target_length": args.max_target_length,
            "max_new_tokens": args.max_new_tokens, "gen_batch_size": args.gen_batch_size, "gen_inputs": args.gen_inputs}


def tokens_per_second(row: dict, key: str) -> dict[str, float]:
    tokens = row["work"][key]
    return {side: tokens / figures["seconds"]["median"] for side, figures in row["sides"].items()}


def main(argv=None) -> int:
    if sidebyside.child_requested(argv):
        sides = dict(SIDES, memory=side_memory)
        return sidebyside.child_main(sides, argv)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--dataset", default="multi30k_en_de", choices=sorted(DATASETS))
    p.add_argument("--backbone", default="SmolLM2-135M-Instruct")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pairs", type=int, default=32, help="training pairs of each training run")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--max-source-length", type=int, default=192)
    p.add_argument("--max-target-length", type=int, default=64)
    p.add_argument("--gen-inputs", type=int, default=8, help="inputs decoded by each generation run")
    p.add_argument("--gen-batch-size", type=int, default=16)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads of every side (0: the usable CPUs)")
    p.add_argument("--skip", default="", help="comma list of parts to skip: training,generation")
    p.add_argument("--profile", action="store_true", help="only print where one training step's time goes")
    p.add_argument("--memory", default="", help="comma list of batch sizes: the trainer's peak RSS at each")
    p.add_argument("--memory-steps", type=int, default=1, help="optimiser steps of each --memory run (the peak "
                   "comes with the first: activations of one batch, LoRA optimiser state is a few MB)")
    p.add_argument("--results-dir", default=str(sidebyside.RESULTS_DIR), help="'' to keep no rows")
    p.add_argument("--results-name", default="generation-speed-cpu")
    args = p.parse_args(argv)
    if not (Path(args.data_dir) / args.dataset / "train.jsonl").exists():
        sys.exit(f"no {args.dataset}/train.jsonl under {args.data_dir}: pass --data-dir (the shared benchmark data)")
    config = build_config(args)
    results = Path(args.results_dir) if args.results_dir else None
    if args.profile:
        if args.threads:
            os.environ.setdefault("HEADSTART_THREADS", str(args.threads))
        profile_step(config)
        return 0
    if args.memory:
        for size in [int(s) for s in args.memory.split(",")]:
            sidebyside.compare(f"{args.results_name.replace('speed', 'memory')}", __file__, ["memory"],
                               dict(config, batch_size=size, rows=size * args.memory_steps), repeats=1,
                               threads=args.threads, results_dir=results)
        return 0
    skip = set(args.skip.split(","))
    if "training" not in skip:
        row = sidebyside.compare(args.results_name, __file__, ["training:trainer", "training:headstart"], config,
                                 repeats=args.repeats, ratios=[("training:trainer", "training:headstart")],
                                 threads=args.threads, results_dir=None)
        _finish(row, "tokens", "training tokens/s", results)
    if "generation" not in skip:
        row = sidebyside.compare(args.results_name, __file__, ["generation:one-by-one", "generation:batched"],
                                 config, repeats=args.repeats, ratios=[("generation:one-by-one", "generation:batched")],
                                 threads=args.threads, results_dir=None)
        _finish(row, "generated_tokens", "generated tokens/s", results)
    return 0


def _finish(row: dict, key: str, what: str, results: Path | None) -> None:
    """Tokens per second of each side (from the counted, equal tokens), printed and added to the row."""
    row["part"] = "training" if key == "tokens" else "generation"
    row["tokens_per_second"] = tokens_per_second(row, key)
    for side, value in row["tokens_per_second"].items():
        print(f"  {side:<28} {value:9.1f} {what}")
    if results is not None:
        results.mkdir(parents=True, exist_ok=True)
        with open(results / f"{row['benchmark']}.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"# appended to {results / (row['benchmark'] + '.jsonl')}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
