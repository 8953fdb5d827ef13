"""Serving benchmark: PyTorch vs ONNX vs ONNX int8 vs `transformers.pipeline`, on one model, in one run.

    PYTHONPATH=src python benchmarks/serving.py --model runs/sst2-ft            # or let it fine-tune one
    PYTHONPATH=src python benchmarks/serving.py --train-rows 2000 --n-test 0     # 0 = the whole test file

Measures, for each runtime:
- single-request latency (p50/p99, one text per call, in process, after warm-up);
- throughput under `--concurrency` concurrent clients: for headstart's runtimes through the real HTTP
  server (`headstart serve`, micro-batched) in a subprocess, with the server's RSS sampled during the load;
  for the pipeline baseline, the same number of client threads calling `pipeline(text)` in process
  (there is no server to put it behind; no HTTP overhead, which favours the baseline);
- accuracy on the sst2 test file for PyTorch, ONNX and int8 (and the pipeline, as a sanity check);
and prints ratios against the pipeline baseline, plus failed requests (target: zero).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

SRC = str(Path(__file__).resolve().parents[1] / "src")
sys.path.insert(0, SRC)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def latency(predict, texts: list[str]) -> dict[str, float]:
    for t in texts[:5]:
        predict([t])  # warm-up
    times = []
    for t in texts:
        start = time.perf_counter()
        predict([t])
        times.append(time.perf_counter() - start)
    return {"p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99)}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_load(model: str, flags: list[str], texts: list[str], requests: int, concurrency: int,
              threads: int) -> dict[str, float]:
    """Start `headstart serve`, fire `requests` single-text requests `concurrency` at a time, sample RSS."""
    import httpx

    port = free_port()
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.Popen([sys.executable, "-m", "headstart", "serve", model, *flags, "--port", str(port),
                             "--threads", str(threads), "--max-queue", "4096"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("server did not start")
                time.sleep(0.3)
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append(rss_mb(proc.pid))
                stop.wait(0.25)

        async def run() -> tuple[list[int], float]:
            statuses: list[int] = []
            sem = asyncio.Semaphore(concurrency)
            async with httpx.AsyncClient(base_url=url, timeout=120,
                                         limits=httpx.Limits(max_connections=concurrency)) as client:
                async def one(i: int) -> None:
                    async with sem:
                        try:
                            r = await client.post("/predict", json={"text": texts[i % len(texts)]})
                            statuses.append(r.status_code)
                        except httpx.HTTPError:
                            statuses.append(-1)
                await asyncio.gather(*(one(i) for i in range(concurrency * 2)))  # warm-up
                statuses.clear()
                start = time.perf_counter()
                await asyncio.gather(*(one(i) for i in range(requests)))
                return statuses, time.perf_counter() - start

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        statuses, seconds = asyncio.run(run())
        stop.set()
        sampler.join()
        quarter = max(1, len(samples) // 4)
        return {"throughput_rps": requests / seconds, "failed": sum(s != 200 for s in statuses),
                "rss_start_mb": statistics.mean(samples[:quarter]), "rss_end_mb": statistics.mean(samples[-quarter:]),
                "rss_max_mb": max(samples)}
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def thread_load(predict, texts: list[str], requests: int, concurrency: int) -> dict[str, float]:
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda t: predict([t]), texts[:concurrency * 2]))
        start = time.perf_counter()
        futures = [pool.submit(predict, [texts[i % len(texts)]]) for i in range(requests)]
        for f in futures:
            if f.exception() is not None:
                failed += 1
        seconds = time.perf_counter() - start
    return {"throughput_rps": requests / seconds, "failed": failed}


def train_model(train_csv: str, rows: int, out: Path) -> None:
    frame = pd.read_csv(train_csv).sample(n=rows, random_state=0)
    data = out.parent / f"{out.name}-train.csv"
    frame.to_csv(data, index=False)
    subprocess.run([sys.executable, "-m", "headstart", "fit", str(data), "--strategy", "finetune", "--epochs", "1",
                    "--max-length", "64", "--patience", "0", "-o", str(out), "--quiet"],
                   check=True, env=dict(os.environ, PYTHONPATH=SRC))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="", help="fine-tuned model folder (default: fine-tune one)")
    parser.add_argument("--train", default="/work/shared/data/sst2/train.csv")
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--test", default="/work/shared/data/sst2/test.csv")
    parser.add_argument("--n-test", type=int, default=0, help="test rows for accuracy (0 = all)")
    parser.add_argument("--latency-requests", type=int, default=100)
    parser.add_argument("--requests", type=int, default=2000, help="requests in each load test")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="model threads (0 = runtime default)")
    parser.add_argument("--work", default="/tmp/headstart-bench-serving")
    args = parser.parse_args()

    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from headstart import TextClassifier
    from headstart.serving.export import OnnxClassifier, export_onnx

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)  # same budget for PyTorch, the pipeline and onnxruntime
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    model = Path(args.model) if args.model else work / "sst2-finetune"
    if not (model / "headstart.json").exists():
        print(f"fine-tuning {model} on {args.train_rows} rows of {args.train} (1 epoch)", flush=True)
        train_model(args.train, args.train_rows, model)
    test = pd.read_csv(args.test)
    if args.n_test:
        test = test.sample(n=min(args.n_test, len(test)), random_state=0)
    texts, labels = test.text.astype(str).tolist(), test.label.astype(str).tolist()
    onnx_dir = model / "onnx"
    if not (onnx_dir / "model.int8.onnx").exists():
        report = export_onnx(model, onnx_dir, int8=True)  # parity on the demo sample; accuracy is measured below
        print("\n".join(report.lines()), flush=True)

    torch_clf = TextClassifier.load(model)
    onnx_clf = OnnxClassifier(onnx_dir, threads=args.threads)
    int8_clf = OnnxClassifier(onnx_dir, int8=True, threads=args.threads)
    pipe = pipeline("text-classification", model=AutoModelForSequenceClassification.from_pretrained(model),
                    tokenizer=AutoTokenizer.from_pretrained(model), device="cpu", truncation=True, max_length=64)
    runtimes = {
        "pytorch": (torch_clf.predict, [], ),
        "onnx": (onnx_clf.predict, ["--onnx"]),
        "onnx-int8": (int8_clf.predict, ["--int8"]),
        "pipeline": (lambda batch: [r["label"] for r in pipe(list(batch))], None),
    }
    rows = {}
    sample = texts[: max(args.latency_requests, 1)]
    for name, (predict, flags) in runtimes.items():
        print(f"[{name}] latency ...", flush=True)
        row: dict[str, float] = dict(latency(predict, sample))
        print(f"[{name}] load: {args.requests} requests, {args.concurrency} concurrent ...", flush=True)
        row.update(thread_load(predict, texts, args.requests, args.concurrency))
        if flags is not None:
            served = http_load(str(model), flags, texts, args.requests, args.concurrency, args.threads)
            row.update({("http_" + k if k in ("throughput_rps", "failed") else k): v for k, v in served.items()})
        print(f"[{name}] accuracy on {len(texts)} test rows ...", flush=True)
        row["accuracy"] = float(np.mean([str(p) == y for p, y in zip(predict(texts), labels)]))
        rows[name] = row
        print(f"[{name}] {json.dumps({k: round(v, 4) for k, v in row.items()})}", flush=True)

    base = rows["pipeline"]["throughput_rps"]
    print(f"\nmodel {model}; {len(texts)} test rows; {args.requests} requests x {args.concurrency} concurrent; "
          f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (shared machine)")
    header = ["runtime", "p50 ms", "p99 ms", "in-process req/s", "x pipeline", "HTTP req/s (micro-batched)",
              "HTTP x pipeline", "failed", "accuracy", "server RSS start->end MB"]
    print(" | ".join(header))
    for name, r in rows.items():
        rss = f"{r['rss_start_mb']:.0f}->{r['rss_end_mb']:.0f} (max {r['rss_max_mb']:.0f})" if "rss_end_mb" in r else "-"
        http = (f"{r['http_throughput_rps']:.1f} | {r['http_throughput_rps'] / base:.2f}"
                if "http_throughput_rps" in r else "- | -")
        failed = int(r["failed"] + r.get("http_failed", 0))
        print(f"{name} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['throughput_rps']:.1f} | "
              f"{r['throughput_rps'] / base:.2f} | {http} | {failed} | {r['accuracy']:.4f} | {rss}")
    change = 100 * (rows["onnx-int8"]["accuracy"] - rows["pytorch"]["accuracy"])
    int8 = rows["onnx-int8"]
    print(f"int8 accuracy change vs PyTorch: {change:+.2f} points; int8 throughput vs pipeline: "
          f"{int8['throughput_rps'] / base:.2f}x in process, {int8['http_throughput_rps'] / base:.2f}x over HTTP")
    (work / "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
