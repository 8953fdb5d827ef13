"""Issue 22 benchmark: frozen-feature throughput of headstart's embedding runtimes (torch, onnx, onnx-int8)
against `SentenceTransformer.encode` (sentence-transformers loading the same model folder), on the same
texts in one run, plus the probe accuracy each runtime's vectors give on sst2, trec and emotion.

    python benchmarks/embedding_speed.py --data-dir ../shared/data

Method: batch 32, max length 256 (the probe's default and all-MiniLM-L6-v2's own limit), 2 threads for
PyTorch and ONNX Runtime; every side is loaded and warmed up before timing, then the sides are run
interleaved (the order rotates every repeat) and min / median / max of each are printed. Before any ratio
is printed the run asserts equal work: every side embedded exactly the same (deduplicated) texts, the same
number of them, at the same max length and batch size, and sentence-transformers' vectors match headstart's
torch vectors. Peak RSS (sampled) of each side, the load average before and after, and versions go into
one JSON row appended to benchmarks/results/embedding-speed-cpu.jsonl with the exact command.
Targets: onnx-int8 >= 2.0x sentence-transformers; probe accuracy within 0.5 points of torch on all three.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HEADSTART_CACHE", tempfile.mkdtemp(prefix="hs-bench-"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import sidebyside  # noqa: E402  (benchmarks/ is on sys.path when this script runs)

RUNTIMES = ("torch", "onnx", "onnx-int8")
SIDES = ("sentence_transformers",) + RUNTIMES
RESULTS = Path(__file__).resolve().parent / "results" / "embedding-speed-cpu.jsonl"


class PeakRss:
    """Highest resident set size seen while the block runs (sampled every 10 ms), in MB."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(0.01)

    def __enter__(self) -> "PeakRss":
        self.start = self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mb(self) -> float:
        return round(self.peak / 1e6, 1)

    @property
    def growth_mb(self) -> float:
        """How far above the RSS at the start of the block the peak went: this side's working memory."""
        return round((self.peak - self.start) / 1e6, 1)


def rss_mb() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 1e6, 1)


class Work:
    """What one side actually embedded during one call: the texts (hashed), how many, the max length asked
    for, the batch sizes and the padded token count (batch size x padded width, summed over batches)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count, self.max_lengths, self.batches, self.padded_tokens, self.widest = 0, set(), [], 0, 0
        self.seen: list[str] = []

    def record(self, texts: list[str], max_length: int, input_ids) -> None:
        rows, width = tuple(input_ids.shape)
        assert rows == len(texts)
        self.count += len(texts)
        self.max_lengths.add(int(max_length))
        self.batches.append(len(texts))
        self.padded_tokens += rows * width
        self.widest = max(self.widest, width)
        self.seen.extend(texts)

    def summary(self) -> dict:
        return {"texts": self.count, "max_length": sorted(self.max_lengths), "largest_batch": max(self.batches),
                "batches": len(self.batches), "padded_tokens": self.padded_tokens, "widest_batch": self.widest,
                "texts_sha256": hashlib.sha256("\n".join(sorted(self.seen)).encode()).hexdigest()}


class CountingTokenizer:
    """Delegates to a tokenizer and records every batch it encodes into a Work counter."""

    def __init__(self, tokenizer, work: Work) -> None:
        self._tokenizer, self._work = tokenizer, work

    def __call__(self, texts, *args, **kwargs):
        out = self._tokenizer(texts, *args, **kwargs)
        self._work.record(list(texts), kwargs["max_length"], out["input_ids"])
        return out

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)


def load_texts(data_dir: Path, name: str, split: str) -> pd.DataFrame:
    return pd.read_csv(data_dir / name / f"{split}.csv", keep_default_na=False)


def sides(args, ref):
    """Loaded, instrumented, warmed-up callables texts -> (n, d) normalised vectors, and their Work counters."""
    from sentence_transformers import SentenceTransformer

    from headstart.embeddings import embed, get_encoder

    work = {side: Work() for side in SIDES}
    calls, loaded = {}, {}
    for runtime in RUNTIMES:
        before = rss_mb()
        encoder = get_encoder(ref, "cpu", runtime)  # exports (and checks) the ONNX graph on first use
        loaded[runtime] = round(rss_mb() - before, 1)
        encoder.tokenizer = CountingTokenizer(encoder.tokenizer, work[runtime])
        calls[runtime] = (lambda texts, _rt=runtime: embed(ref, texts, batch_size=args.batch_size,
                                                           max_length=args.max_length, cache=False, progress=False,
                                                           runtime=_rt))
    before = rss_mb()
    st = SentenceTransformer(str(ref.path), device="cpu")
    loaded["sentence_transformers"] = round(rss_mb() - before, 1)
    st.max_seq_length = args.max_length
    preprocess = st.preprocess

    def st_preprocess(inputs, *a, **kw):
        features = preprocess(inputs, *a, **kw)
        work["sentence_transformers"].record(list(inputs), st.max_seq_length, features["input_ids"])
        return features

    st.preprocess = st_preprocess
    calls["sentence_transformers"] = lambda texts: st.encode(texts, batch_size=args.batch_size, convert_to_numpy=True,
                                                             show_progress_bar=False)
    return calls, work, loaded


def check_equal_work(work: dict, texts: list[str], args) -> dict:
    """Fail loudly unless every side embedded the same texts, as many, at the same length and batch size."""
    expected = hashlib.sha256("\n".join(sorted(texts)).encode()).hexdigest()
    summaries = {side: w.summary() for side, w in work.items()}
    for side, s in summaries.items():
        assert s["texts"] == len(texts), f"{side} embedded {s['texts']} texts, not {len(texts)}"
        assert s["texts_sha256"] == expected, f"{side} embedded other texts than the benchmark's"
        assert s["max_length"] == [args.max_length], f"{side} used max length {s['max_length']}"
        assert s["widest_batch"] <= args.max_length, f"{side} ran batches {s['widest_batch']} tokens wide"
        assert s["largest_batch"] == min(args.batch_size, len(texts)), f"{side} used batches of {s['largest_batch']}"
    tokens = [s["padded_tokens"] for s in summaries.values()]
    # every side sorts by character length and pads each batch to its longest text; only the order of texts
    # of equal length may differ, so the padded token counts agree to well within 1%
    assert max(tokens) <= 1.01 * min(tokens), f"padded token counts differ: {tokens}"
    return {side: {k: v for k, v in s.items() if k != "texts_sha256"} for side, s in summaries.items()}


def cosines(a: np.ndarray, b: np.ndarray) -> dict:
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {"mean": round(float(cos.mean()), 5), "min": round(float(cos.min()), 5)}


def speed(args, ref, texts: list[str]) -> dict:
    calls, work, loaded = sides(args, ref)
    for side in SIDES:  # warm-up (not timed): first-call allocations, thread pools, graph optimisation
        calls[side](texts[:64])
    times = {side: [] for side in SIDES}
    rss = {side: 0.0 for side in SIDES}
    growth = {side: 0.0 for side in SIDES}
    vectors = {}
    with sidebyside.watching_others() as watch:
        for repeat in range(args.repeats):
            order = SIDES[repeat % len(SIDES):] + SIDES[:repeat % len(SIDES)]
            for side in order:
                work[side].reset()
                with PeakRss() as peak:
                    start = time.perf_counter()
                    out = calls[side](texts)
                    times[side].append(time.perf_counter() - start)
                rss[side] = max(rss[side], peak.mb)
                growth[side] = max(growth[side], peak.growth_mb)
                check_equal_work({side: work[side]}, texts, args)
                vectors.setdefault(side, np.asarray(out, dtype=np.float32))
            print(f"# repeat {repeat + 1}: " + ", ".join(f"{s} {times[s][-1]:.2f}s" for s in SIDES), flush=True)
    equal = check_equal_work(work, texts, args)
    st_vs_torch = cosines(vectors["sentence_transformers"], vectors["torch"])
    assert st_vs_torch["min"] > 0.999, f"sentence-transformers and headstart torch vectors differ: {st_vs_torch}"
    stats = {s: {"min": round(min(t), 3), "median": round(statistics.median(t), 3), "max": round(max(t), 3)}
             for s, t in times.items()}
    st_median = stats["sentence_transformers"]["median"]
    return {"seconds": stats,
            "texts_per_s_median": {s: round(len(texts) / v["median"], 1) for s, v in stats.items()},
            "speed_vs_sentence_transformers": {s: round(st_median / stats[s]["median"], 3) for s in RUNTIMES},
            "speed_vs_sentence_transformers_range": {s: [round(stats["sentence_transformers"]["min"] / stats[s]["max"], 3),
                                                         round(stats["sentence_transformers"]["max"] / stats[s]["min"], 3)]
                                                     for s in RUNTIMES},
            # one process holds every side, so the absolute peak includes the others' models: the load growth
            # (in load order, the first side also pays for shared libraries) and the growth during a call are
            # each side's own
            "peak_rss_mb": rss, "rss_growth_on_load_mb": loaded, "rss_growth_during_call_mb": growth,
            "load_avg_before": watch["load_before"], "load_avg_after": watch["load_after"],
            "other_cores": watch["other_cores"], "other_cores_before": watch["other_cores_before"],
            "equal_work": equal, "cosine_to_torch": {s: cosines(vectors[s], vectors["torch"]) for s in SIDES}}


def probe_accuracy(args, ref) -> dict:
    """Logistic regression (the probe's head, its default C) on each runtime's vectors; same rows everywhere."""
    from headstart.embeddings import embed
    from headstart.heads import fit_head
    from headstart.strategies.probe import ProbeConfig

    data_dir = Path(args.data_dir)
    out = {}
    for name in args.datasets.split(","):
        train = load_texts(data_dir, name, "train").sample(frac=1.0, random_state=args.seed)
        train = train.iloc[:args.train_rows] if args.train_rows else train
        test = load_texts(data_dir, name, "test")
        test = test.iloc[:args.test_rows] if args.test_rows else test
        classes = sorted(set(train.label.astype(str)))
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[str(v)] for v in train.label])
        out[name] = {"train_rows": len(train), "test_rows": len(test)}
        for runtime in RUNTIMES:
            kw = dict(batch_size=args.batch_size, max_length=args.max_length, cache=False, progress=False,
                      runtime=runtime)
            x, xt = embed(ref, train.text.tolist(), **kw), embed(ref, test.text.tolist(), **kw)
            head = fit_head(x, y, "classification", "logistic", ProbeConfig().C, seed=args.seed)
            pred = [classes[i] for i in head.scores(xt).argmax(1)]
            out[name][runtime] = round(float(np.mean([p == str(t) for p, t in zip(pred, test.label)])), 4)
        out[name]["delta_points"] = {r: round(100 * (out[name][r] - out[name]["torch"]), 2) for r in RUNTIMES[1:]}
        print(f"# probe accuracy {name}: " + ", ".join(f"{r} {out[name][r]:.4f}" for r in RUNTIMES), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--backbone", default="all-MiniLM-L6-v2")
    parser.add_argument("--speed-texts", type=int, default=0, help="sst2 training texts timed (0: all 6,920)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timed repeats (at least 3)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch and ONNX Runtime intra-op threads")
    parser.add_argument("--datasets", default="sst2,trec,emotion")
    parser.add_argument("--train-rows", type=int, default=2000, help="training rows per data set for the probe (0: all)")
    parser.add_argument("--test-rows", type=int, default=0, help="test rows per data set (0: the full test set)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--quiet-load", type=float, default=sidebyside.OTHER_CORES_ABOVE,
                        help="average cores used by OTHER processes during the timed runs above which the run is "
                             "marked as measured on a loaded machine (the 1-minute load average before it decides "
                             "where /proc/stat is missing)")
    parser.add_argument("--output", default=str(RESULTS), help="JSONL file the result row is appended to")
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats must be at least 3 (min / median / max of interleaved runs)")
    if not Path(args.data_dir).exists():
        sys.exit(f"no data at {args.data_dir}: pass --data-dir pointing at the shared benchmark data")
    load_start = os.getloadavg()
    import torch

    torch.set_num_threads(args.threads)  # ONNX Runtime sessions follow torch's thread count (headstart.runtime)
    from headstart import resolve_backbone
    from headstart.runtime import _threads

    ref = resolve_backbone(args.backbone)
    texts = load_texts(Path(args.data_dir), "sst2", "train").text.tolist()
    texts = list(dict.fromkeys(texts))  # headstart embeds each distinct text once: give every side distinct texts
    texts = texts[:args.speed_texts] if args.speed_texts else texts
    print(f"# {len(texts)} texts, batch {args.batch_size}, max length {args.max_length}, torch threads "
          f"{torch.get_num_threads()}, onnxruntime threads {_threads()}, load average {load_start[0]:.2f}", flush=True)
    row = {"benchmark": "embedding_speed", "command": " ".join([Path(sys.executable).name, *sys.argv]),
           "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "backbone": ref.name, "fingerprint": ref.fingerprint(), "texts": len(texts), "batch_size": args.batch_size,
           "max_length": args.max_length, "repeats": args.repeats, "torch_threads": torch.get_num_threads(),
           "onnxruntime_threads": _threads(), "cpus": os.cpu_count(), "load_avg_start": load_start}
    row.update(speed(args, ref, texts))
    if not args.skip_accuracy:
        row["probe_accuracy"] = probe_accuracy(args, ref)
    row["peak_rss_process_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1)
    row["load_avg_end"] = os.getloadavg()
    other = row["other_cores"]
    row["machine_loaded"] = other > args.quiet_load if other is not None else row["load_avg_before"][0] > 0.5
    row["targets"] = {"onnx_int8_at_least_2x_sentence_transformers": row["speed_vs_sentence_transformers"]["onnx-int8"] >= 2.0}
    if "probe_accuracy" in row:
        row["targets"]["probe_accuracy_within_0.5_points_of_torch"] = all(
            abs(v["delta_points"][r]) <= 0.5 for v in row["probe_accuracy"].values() for r in RUNTIMES[1:])
    import onnxruntime
    import sentence_transformers
    import transformers

    from headstart import __version__

    row["versions"] = {"headstart": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
                       "onnxruntime": onnxruntime.__version__, "sentence_transformers": sentence_transformers.__version__,
                       "python": platform.python_version()}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    s = row["seconds"]
    print("\nside                    min     median  max     texts/s  vs ST   peak RSS  +load  +call (MB)")
    for side in SIDES:
        ratio = row["speed_vs_sentence_transformers"].get(side, 1.0)
        print(f"{side:22s} {s[side]['min']:7.2f} {s[side]['median']:7.2f} {s[side]['max']:7.2f} "
              f"{row['texts_per_s_median'][side]:8.1f} {ratio:6.2f}x {row['peak_rss_mb'][side]:8.0f} "
              f"{row['rss_growth_on_load_mb'][side]:6.0f} {row['rss_growth_during_call_mb'][side]:6.0f}")
    for name, acc in row.get("probe_accuracy", {}).items():
        print(f"probe accuracy {name:8s} ({acc['train_rows']} train / {acc['test_rows']} test rows): "
              + ", ".join(f"{r} {acc[r]:.4f}" for r in RUNTIMES)
              + " | vs torch " + ", ".join(f"{r} {d:+.2f} pts" for r, d in acc["delta_points"].items()))
    if row["machine_loaded"]:
        used = "an unmeasured share" if row["other_cores"] is None else f"{row['other_cores']:.2f}"
        print(f"NOTE: measured on a loaded machine (other processes used {used} cores on average during the "
              f"timed runs): ratios are not representative")
    print(json.dumps({"targets": row["targets"], "appended_to": args.output}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
