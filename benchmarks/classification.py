"""Issue 2 benchmark: accuracy and fit time of each strategy on the full sst2 and trec training sets,
plus two side-by-side speed ratios, each through benchmarks/sidebyside.py (every side in its own process,
interleaved over --repeats rounds, equal counted work asserted before a ratio is printed, one JSON row appended
to benchmarks/results/classification-*.jsonl):

* probe embedding vs sentence-transformers' own `encode` (same model, same distinct texts, batch 32, length 256);
* finetune training vs a plain `transformers.Trainer` (same model, rows, 1 epoch, optimiser steps, batch 32,
  max length 128, longest-in-batch padding). headstart runs with min_steps=0: its default of 100 stretched a
  1-epoch run on 1,000 rows to 4 epochs, which made the old ratio compare 4 epochs against 1.

    python benchmarks/classification.py --data-dir ../shared/data [--device cuda] [--backbone PATH]
    python benchmarks/classification.py --skip accuracy          # only the two speed comparisons
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HEADSTART_CACHE", tempfile.mkdtemp(prefix="hs-bench-"))

import pandas as pd  # noqa: E402

import sidebyside  # noqa: E402  (benchmarks/ is on sys.path when this script runs)
from headstart import TextClassifier, resolve_backbone  # noqa: E402
from headstart.grid import without_cross_validation  # noqa: E402


def load(data_dir: Path, name: str):
    train = pd.read_csv(data_dir / name / "train.csv", keep_default_na=False)
    test = pd.read_csv(data_dir / name / "test.csv", keep_default_na=False)
    return train.text.tolist(), train.label.tolist(), test.text.tolist(), test.label.tolist()


def accuracy_table(args) -> list[dict]:
    rows = []
    for dataset in args.datasets.split(","):
        X, y, Xt, yt = load(Path(args.data_dir), dataset)
        for strategy in args.strategies.split(","):
            options = {"device": args.device} if strategy != "scratch-tfidf" else {}
            options = without_cross_validation(strategy, options)  # scored on the test set; fit time comparable
            start = time.perf_counter()
            clf = TextClassifier(backbone=args.backbone, strategy=strategy, seed=args.seed, progress=False,
                                 **options).fit(X, y)
            fit_seconds = time.perf_counter() - start
            metrics = clf.evaluate(Xt, yt)
            row = {"dataset": dataset, "strategy": strategy, "train": len(X), "test": len(Xt),
                   "accuracy": round(metrics["accuracy"], 4), "macro_f1": round(metrics["macro_f1"], 4),
                   "fit_s": round(fit_seconds, 1), "trainable": clf.fit_report_.trainable_parameters}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def _speed_config(args) -> dict:
    return {"data_dir": str(Path(args.data_dir).resolve()), "backbone": args.backbone, "device": args.device,
            "rows": args.speed_rows, "batch_size": 32, "max_length": 128, "epochs": 1, "seed": args.seed}


def _unique_texts(config: dict) -> list[str]:
    """Distinct texts: headstart embeds each distinct text once, so both sides get the same distinct rows."""
    texts = load(Path(config["data_dir"]), "sst2")[0]
    texts = list(dict.fromkeys(texts))
    return texts[:config["embed_rows"]] if config.get("embed_rows") else texts


def side_embed_headstart(config: dict, clock) -> "sidebyside.Work":
    from headstart.embeddings import embed, get_encoder

    texts, ref = _unique_texts(config), resolve_backbone(config["backbone"])
    encoder = get_encoder(ref, config["device"])
    embed(ref, texts[:64], cache=False, progress=False, device=config["device"], batch_size=32)  # warm-up
    with sidebyside.count_inference(encoder.model, len(texts), 256, "longest-in-batch, length-sorted",
                                    batch_size=32) as work, clock:
        embed(ref, texts, cache=False, progress=False, device=config["device"], batch_size=32, max_length=256)
    return work


def side_embed_st(config: dict, clock) -> "sidebyside.Work":
    from sentence_transformers import SentenceTransformer

    texts, ref = _unique_texts(config), resolve_backbone(config["backbone"])
    st = SentenceTransformer(str(ref.path), device=config["device"])
    st.encode(texts[:64], batch_size=32)  # warm-up
    # st[0] (its Transformer module): it calls the Hugging Face model's forward directly, past any hook on it
    with sidebyside.count_inference(st[0], len(texts), st.max_seq_length,
                                    "longest-in-batch, length-sorted", batch_size=32) as work, clock:
        st.encode(texts, batch_size=32)
    return work


def _training_rows(config: dict):
    import numpy as np

    X, y = load(Path(config["data_dir"]), "sst2")[:2]
    X, y = X[:config["rows"]], y[:config["rows"]]
    classes = sorted(set(y))
    return X, np.array([classes.index(v) for v in y]), classes


def _fresh_model(config: dict, classes):
    import torch
    from transformers import AutoModelForSequenceClassification

    from headstart.backbones import hf_folder, load_tokenizer
    from headstart.seeding import set_seed

    ref = resolve_backbone(config["backbone"])
    set_seed(config["seed"])
    model = AutoModelForSequenceClassification.from_pretrained(hf_folder(ref), num_labels=len(classes),
                                                               dtype=torch.float32)
    return model, load_tokenizer(ref)


def side_train_headstart(config: dict, clock) -> "sidebyside.Work":
    """headstart's loop for exactly `epochs` epochs: min_steps=0, or tiny sets get stretched (issue 22)."""
    from headstart.config import TrainConfig
    from headstart.strategies import Target
    from headstart.training.loop import train_classifier

    X, labels, classes = _training_rows(config)
    model, tokenizer = _fresh_model(config, classes)
    cfg = TrainConfig(epochs=config["epochs"], min_steps=0, batch_size=config["batch_size"],
                      max_length=config["max_length"], patience=0, valid_fraction=0.0, device=config["device"])
    with sidebyside.count_training(model, len(X), config["max_length"], "longest-in-batch",
                                   batch_size=config["batch_size"]) as work, clock:
        train_classifier(model, tokenizer, Target(X, labels, "classification", classes), None, cfg,
                         seed=config["seed"], device=config["device"], progress=False)
    work.info["grouping"] = "length-grouped batches"
    return work


def side_train_trainer(config: dict, clock) -> "sidebyside.Work":
    """A plain `transformers.Trainer` with the same model, rows, epochs, batch size, max length and padding.
    The rows are a plain list (no `datasets` needed); the collator pads each batch to its longest row."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    X, labels, classes = _training_rows(config)
    model, tokenizer = _fresh_model(config, classes)
    encoded = tokenizer(X, truncation=True, max_length=config["max_length"])
    rows = [{"input_ids": ids, "attention_mask": mask, "label": int(label)}
            for ids, mask, label in zip(encoded["input_ids"], encoded["attention_mask"], labels)]
    steps_per_epoch = -(-len(rows) // config["batch_size"])
    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(output_dir=out, per_device_train_batch_size=config["batch_size"],
                                  num_train_epochs=config["epochs"], learning_rate=1e-4, weight_decay=0.01,
                                  warmup_steps=max(1, int(0.1 * steps_per_epoch * config["epochs"])),
                                  logging_strategy="no", save_strategy="no", report_to=[],
                                  use_cpu=config["device"] == "cpu", dataloader_num_workers=0, disable_tqdm=True,
                                  seed=config["seed"])
        trainer = Trainer(model=model, args=targs, train_dataset=rows, data_collator=DataCollatorWithPadding(tokenizer))
        with sidebyside.count_training(model, len(X), config["max_length"], "longest-in-batch",
                                       batch_size=config["batch_size"]) as work, clock:
            trainer.train()
    work.info["grouping"] = "random batches"
    return work


SIDES = {"embedding:sentence-transformers": side_embed_st, "embedding:headstart": side_embed_headstart,
         "training:trainer": side_train_trainer, "training:headstart": side_train_headstart}


def embedding_speed(args) -> dict:
    """Both sides load the model first (not timed) and embed the same distinct texts cold (no cache)."""
    config = dict(_speed_config(args), embed_rows=args.embed_rows)
    return sidebyside.compare("classification-embedding", __file__,
                              ["embedding:sentence-transformers", "embedding:headstart"], config,
                              repeats=args.repeats,
                              ratios=[("embedding:sentence-transformers", "embedding:headstart")],
                              threads=args.threads, results_dir=_results_dir(args))


def training_speed(args) -> dict:
    """Training throughput: headstart's loop vs transformers.Trainer, interleaved, equal work asserted."""
    return sidebyside.compare("classification-training", __file__, ["training:trainer", "training:headstart"],
                              _speed_config(args), repeats=args.repeats,
                              ratios=[("training:trainer", "training:headstart")], threads=args.threads,
                              results_dir=_results_dir(args))


def _results_dir(args):
    return Path(args.results_dir) if args.results_dir else None


def main(argv=None) -> int:
    if sidebyside.child_requested(argv):
        return sidebyside.child_main(SIDES, argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--datasets", default="sst2,trec")
    parser.add_argument("--strategies", default="scratch-tfidf,probe,finetune,scratch-init")
    parser.add_argument("--backbone", default="all-MiniLM-L6-v2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed-rows", type=int, default=1000, help="rows for the training-throughput comparison")
    parser.add_argument("--embed-rows", type=int, default=0, help="distinct texts for the embedding comparison "
                                                                 "(0: every distinct sst2 training text)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of each side-by-side comparison")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads of every side (0: the CPUs this process may use)")
    parser.add_argument("--results-dir", default=str(sidebyside.RESULTS_DIR),
                        help="append one JSON row per comparison here ('' to keep none)")
    parser.add_argument("--skip", default="", help="comma list of parts to skip: accuracy,embedding,training")
    args = parser.parse_args(argv)
    skip = set(args.skip.split(","))
    if not Path(args.data_dir).exists():
        sys.exit(f"no data at {args.data_dir}: pass --data-dir pointing at the shared benchmark data")
    print(f"# device={args.device} backbone={args.backbone} (torch threads: see each side)", flush=True)
    report = {}
    if "accuracy" not in skip:
        report["accuracy"] = accuracy_table(args)
    if "embedding" not in skip:
        report["embedding_speed"] = embedding_speed(args)
    if "training" not in skip:
        report["training_speed"] = training_speed(args)
    if "accuracy" in report:
        from headstart.tables import table

        print("\n" + table(report["accuracy"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
