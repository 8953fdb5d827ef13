"""Issue 2 benchmark: accuracy and fit time of each strategy on the full sst2 and trec training sets,
plus two side-by-side speed ratios measured in the same run:

* probe embedding throughput vs sentence-transformers' own `encode` (same model, same texts);
* finetune training throughput vs a plain `transformers.Trainer` run (same model, batch size, max length).

    python benchmarks/classification.py --data-dir ../shared/data [--device cuda] [--backbone PATH]
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

from headstart import TextClassifier, resolve_backbone  # noqa: E402
from headstart.evaluation.crossval import without_cross_validation  # noqa: E402


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


def embedding_speed(args) -> dict:
    """Both sides load the model first (not timed) and embed the same texts cold (no cache)."""
    import torch
    from sentence_transformers import SentenceTransformer

    from headstart.embeddings import embed, get_encoder

    texts = load(Path(args.data_dir), "sst2")[0]
    ref = resolve_backbone(args.backbone)
    get_encoder(ref, args.device)
    st = SentenceTransformer(str(ref.path), device=args.device)
    embed(ref, texts[:64], cache=False, progress=False, device=args.device)
    st.encode(texts[:64])
    timings = {}
    for _ in range(args.repeats):
        for name, fn in (("headstart", lambda: embed(ref, texts, cache=False, progress=False, device=args.device)),
                         ("sentence_transformers", lambda: st.encode(texts, batch_size=32))):
            if args.device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if args.device == "cuda":
                torch.cuda.synchronize()
            timings.setdefault(name, []).append(time.perf_counter() - start)
    best = {k: min(v) for k, v in timings.items()}
    result = {"texts": len(texts), "headstart_s": round(best["headstart"], 2),
              "sentence_transformers_s": round(best["sentence_transformers"], 2),
              "speed_ratio_headstart_over_st": round(best["sentence_transformers"] / best["headstart"], 2)}
    print(json.dumps({"embedding_speed": result}), flush=True)
    return result


def training_speed(args) -> dict:
    """Samples per second of one epoch: headstart's loop vs transformers.Trainer, same model and settings."""
    import numpy as np
    from datasets import Dataset
    from transformers import (AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer,
                              TrainingArguments)

    from headstart.backbones import hf_folder, load_tokenizer
    from headstart.config import TrainConfig
    from headstart.seeding import set_seed
    from headstart.strategies import Target
    from headstart.training.loop import train_classifier

    X, y = load(Path(args.data_dir), "sst2")[:2]
    X, y = X[:args.speed_rows], y[:args.speed_rows]
    classes = sorted(set(y))
    labels = np.array([classes.index(v) for v in y])
    ref = resolve_backbone(args.backbone)
    tokenizer = load_tokenizer(ref)
    folder = hf_folder(ref)
    bs, max_len = 32, 128

    def fresh_model():
        set_seed(0)
        import torch

        return AutoModelForSequenceClassification.from_pretrained(folder, num_labels=len(classes), dtype=torch.float32)

    model = fresh_model()
    cfg = TrainConfig(epochs=1, batch_size=bs, max_length=max_len, patience=0, valid_fraction=0.0, device=args.device)
    start = time.perf_counter()
    train_classifier(model, tokenizer, Target(X, labels, "classification", classes), None, cfg, seed=0,
                     device=args.device, progress=False)
    ours = time.perf_counter() - start

    model = fresh_model()
    ds = Dataset.from_dict({"text": X, "label": labels.tolist()})
    ds = ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=max_len), batched=True,
                remove_columns=["text"])
    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(output_dir=out, per_device_train_batch_size=bs, num_train_epochs=1,
                                  learning_rate=1e-4, warmup_steps=max(1, len(X) // bs // 10), weight_decay=0.01, logging_strategy="no",
                                  save_strategy="no", report_to=[], use_cpu=args.device == "cpu",
                                  dataloader_num_workers=0, disable_tqdm=True, seed=0)
        trainer = Trainer(model=model, args=targs, train_dataset=ds,
                          data_collator=DataCollatorWithPadding(tokenizer))
        start = time.perf_counter()
        trainer.train()
        theirs = time.perf_counter() - start
    result = {"rows": len(X), "batch_size": bs, "max_length": max_len,
              "headstart_samples_per_s": round(len(X) / ours, 1), "trainer_samples_per_s": round(len(X) / theirs, 1),
              "speed_ratio_headstart_over_trainer": round(theirs / ours, 2)}
    print(json.dumps({"training_speed": result}), flush=True)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--datasets", default="sst2,trec")
    parser.add_argument("--strategies", default="scratch-tfidf,probe,finetune,scratch-init")
    parser.add_argument("--backbone", default="all-MiniLM-L6-v2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed-rows", type=int, default=2000, help="rows for the training-throughput comparison")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats of the embedding comparison (best kept)")
    parser.add_argument("--skip", default="", help="comma list of parts to skip: accuracy,embedding,training")
    args = parser.parse_args(argv)
    skip = set(args.skip.split(","))
    if not Path(args.data_dir).exists():
        sys.exit(f"no data at {args.data_dir}: pass --data-dir pointing at the shared benchmark data")
    import torch

    print(f"# device={args.device} torch_threads={torch.get_num_threads()} backbone={args.backbone}", flush=True)
    report = {}
    if "accuracy" not in skip:
        report["accuracy"] = accuracy_table(args)
    if "embedding" not in skip:
        report["embedding_speed"] = embedding_speed(args)
    if "training" not in skip:
        report["training_speed"] = training_speed(args)
    if "accuracy" in report:
        from headstart.cli.common import table

        print("\n" + table(report["accuracy"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
