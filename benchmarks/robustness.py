"""Robustness benchmark: can one hostile client hurt the good ones? A bounded run on 127.0.0.1 only.

    PYTHONPATH=src python benchmarks/robustness.py                      # 2,000 good requests, 16 concurrent
    PYTHONPATH=src python benchmarks/robustness.py --requests 200       # a quick check that it works

Starts `headstart serve` in a subprocess and sends `--requests` good single-text requests, `--concurrency`
at a time, twice: alone (baseline), then while a second process plays a hostile client that sends, at
`--hostile-rps`, lone surrogates (`{"text": "\\ud800"}`), bodies over --max-body-bytes (declared and
chunked), malformed JSON, wrong types and empty texts. It prints good requests failed (target 0), p50/p99
latency without and with the hostile client (target: p99 ratio <= 1.5), the server's RSS from ready to the
end (target: growth <= 50 MB), the hostile requests by answer (all should be 4xx), the server's log lines
for them (one per failed request), and that /health answers after. It appends one JSON row, with the exact
command, load average before/after and the model's thread count, to benchmarks/results/robustness-cpu.jsonl.
Every request goes to 127.0.0.1; the run is bounded by the request counts and by --max-seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing as mp
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from serving import SRC, free_port, rss_mb, train_model  # noqa: E402  (sibling benchmark script)

RESULTS = HERE / "results" / "robustness-cpu.jsonl"
HOST = "127.0.0.1"  # never anything else: this script attacks a server
GOOD_TEXTS = ["a gripping, funny and moving film", "dull, tedious and far too long", "it was fine, I suppose",
              "the best thing I have seen this year", "the acting is wooden and the plot makes no sense"]


def hostile_bodies(max_body: int) -> list[tuple[str, dict]]:
    """(kind, httpx request kwargs) the hostile client cycles through; every one deserves a 4xx."""
    json_type = {"content-type": "application/json"}

    def chunked(total: int):
        def stream():
            sent = 0
            while sent < total:
                sent += 65536
                yield b"x" * 65536
        return stream

    return [
        ("unencodable", {"content": b'{"text": "\\ud800"}', "headers": json_type}),
        ("unencodable", {"content": b'{"texts": ["fine", "a\\udfffb"]}', "headers": json_type}),
        ("oversized", {"content": b'{"text": "' + b"y" * (max_body + 10) + b'"}', "headers": json_type}),
        ("chunked", {"content": chunked(64 * max_body), "headers": json_type}),
        ("malformed", {"content": b'{"text": "unterminated', "headers": json_type}),
        ("malformed", {"content": b"\xff\xfe\x00garbage", "headers": json_type}),
        ("malformed", {"json": {"texts": "not a list"}}),
        ("malformed", {"json": [1, 2, 3]}),
        ("malformed", {"json": {"text": 5}}),
        ("empty", {"json": {"text": "   "}}),
    ]


def hostile(url: str, max_body: int, rps: float, started, stop, limit: int, out) -> None:
    """The hostile client (its own process, so its CPU use is the server's problem, not the good clients')."""
    import httpx

    kinds = hostile_bodies(max_body)
    counts: dict[str, int] = {}
    interval = 1.0 / rps if rps > 0 else 0.0
    sent = 0
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set() and sent < limit:
            kind, kwargs = kinds[sent % len(kinds)]
            kwargs = dict(kwargs)
            if callable(kwargs.get("content")):
                kwargs["content"] = kwargs["content"]()
            start = time.monotonic()
            try:
                status = str(client.post("/predict", **kwargs).status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            key = f"{kind}:{status}"
            counts[key] = counts.get(key, 0) + 1
            sent += 1
            started.set()
            stop.wait(max(0.0, interval - (time.monotonic() - start)))
    out.put(counts)


async def good_load(url: str, requests: int, concurrency: int, deadline: float) -> tuple[list[float], int]:
    """Latencies (s) of `requests` good requests, `concurrency` in flight; and how many failed.
    Raises TimeoutError at `deadline` (time.monotonic())."""
    import httpx

    latencies: list[float] = []
    failed = 0
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=concurrency)) as c:
        async def one(i: int) -> None:
            nonlocal failed
            async with sem:
                start = time.perf_counter()
                try:
                    r = await c.post("/predict", json={"text": f"{GOOD_TEXTS[i % len(GOOD_TEXTS)]} ({i})"})
                    ok = r.status_code == 200 and len(r.json()["predictions"]) == 1
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                failed += not ok
        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(requests))),
                               max(1.0, deadline - time.monotonic()))
    return latencies, failed


def wait_ready(url: str, proc: subprocess.Popen, seconds: float) -> float:
    import httpx

    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready after {seconds:.0f} s")


def ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def run(args: argparse.Namespace, model: Path) -> dict:
    import httpx

    deadline = time.monotonic() + args.max_seconds
    flags = {"pytorch": [], "onnx": ["--onnx"], "int8": ["--int8"]}[args.runtime]
    port = free_port()
    url = f"http://{HOST}:{port}"
    log = tempfile.NamedTemporaryFile("w+", prefix="headstart-robustness-", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "-m", "headstart", "serve", str(model), *flags, "--host", HOST,
                             "--port", str(port), "--threads", str(args.threads),
                             "--max-body-bytes", str(args.max_body_bytes)],
                            env=dict(os.environ, PYTHONPATH=SRC), stdout=log, stderr=subprocess.STDOUT)
    try:
        ready_s = wait_ready(url, proc, 300)
        rss = {"ready": rss_mb(proc.pid)}
        first = time.perf_counter()  # the first request after /health said ok (issue 16: it took 8.5 s)
        httpx.post(url + "/predict", json={"text": GOOD_TEXTS[0]}, timeout=60).raise_for_status()
        first_ms = (time.perf_counter() - first) * 1000
        asyncio.run(good_load(url, 2 * args.concurrency, args.concurrency, deadline))  # connections, first shapes
        print(f"server ready in {ready_s:.1f} s; baseline: {args.requests} good requests ...", flush=True)
        base, base_failed = asyncio.run(good_load(url, args.requests, args.concurrency, deadline))
        rss["after_baseline"] = rss_mb(proc.pid)

        ctx = mp.get_context("spawn")
        started, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
        attacker = ctx.Process(target=hostile, args=(url, args.max_body_bytes, args.hostile_rps, started, stop,
                                                     args.hostile_max, out), daemon=True)
        attacker.start()
        if not started.wait(120):  # the hostile client is under way before the measured requests start
            raise RuntimeError("the hostile client did not start")
        print(f"with the hostile client: {args.requests} good requests ...", flush=True)
        try:
            under, under_failed = asyncio.run(good_load(url, args.requests, args.concurrency, deadline))
        finally:
            stop.set()
        counts = out.get(timeout=60)
        attacker.join(30)
        rss["end"] = rss_mb(proc.pid)
        health = httpx.get(url + "/health", timeout=10)
        time.sleep(0.5)  # let the last log lines reach the file
        lines = Path(log.name).read_text().splitlines()
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        os.unlink(log.name)
    hostile_sent = sum(counts.values())
    hostile_4xx = sum(n for k, n in counts.items() if k.split(":")[1].startswith("4"))
    logged = sum(" -> 4" in line or " -> 5" in line for line in lines)
    leaked = sum(any(word in line for word in ("ud800", "unterminated", "garbage", "yyyyyyyy")) for line in lines)
    return {
        "good_requests": 2 * args.requests, "good_failed": base_failed + under_failed,
        "good_failed_with_hostile": under_failed,
        "p50_ms": ms(base, 50), "p99_ms": ms(base, 99),
        "p50_ms_hostile": ms(under, 50), "p99_ms_hostile": ms(under, 99),
        "p99_ratio": ms(under, 99) / ms(base, 99),
        "rss_mb": rss, "rss_growth_mb": rss["end"] - rss["ready"],
        "hostile_sent": hostile_sent, "hostile_4xx": hostile_4xx, "hostile_by_answer": counts,
        "failure_log_lines": logged, "log_lines_quoting_bodies": leaked,
        "health_after": health.status_code, "ready_s": ready_s, "first_request_ms": first_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="", help="model folder (default: fine-tune one as benchmarks/serving.py)")
    parser.add_argument("--runtime", choices=["pytorch", "onnx", "int8"], default="pytorch")
    parser.add_argument("--train", default="/work/shared/data/sst2/train.csv")
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=2000, help="good requests in each of the two phases")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--hostile-rps", type=float, default=20.0, help="hostile requests per second")
    parser.add_argument("--hostile-max", type=int, default=20000, help="most hostile requests in the run")
    parser.add_argument("--max-body-bytes", type=int, default=1_000_000, help="the server's --max-body-bytes")
    parser.add_argument("--threads", type=int, default=0, help="the server's --threads (0: runtime default)")
    parser.add_argument("--max-seconds", type=float, default=1800,
                        help="abort the load phases after this long (the server is stopped either way)")
    parser.add_argument("--work", default="/tmp/headstart-bench-serving")
    parser.add_argument("--results", default=str(RESULTS), help="JSONL file the run's row is appended to")
    parser.add_argument("--no-record", action="store_true", help="append no row")
    args = parser.parse_args()

    import torch

    model = Path(args.model) if args.model else Path(args.work) / "sst2-finetune"
    if not (model / "headstart.json").exists():
        print(f"fine-tuning {model} on {args.train_rows} rows of {args.train} (1 epoch)", flush=True)
        model.parent.mkdir(parents=True, exist_ok=True)
        train_model(args.train, args.train_rows, model)
    if args.runtime != "pytorch" and not (model / "onnx" / "model.int8.onnx").exists():
        from headstart.serving.export import export_onnx

        export_onnx(model, model / "onnx", int8=True)
    load_before = os.getloadavg()
    result = run(args, model)
    load_after = os.getloadavg()
    targets = {"good_failed_0": result["good_failed"] == 0, "p99_ratio_le_1.5": result["p99_ratio"] <= 1.5,
               "rss_growth_le_50mb": result["rss_growth_mb"] <= 50, "health_after_200": result["health_after"] == 200,
               "hostile_all_4xx": result["hostile_4xx"] == result["hostile_sent"]}
    rss = result["rss_mb"]
    print(f"\nmodel {model} ({args.runtime}); {args.requests} good requests x 2 phases, {args.concurrency} concurrent; "
          f"hostile client at {args.hostile_rps:g} req/s; cores {os.cpu_count()}, load average "
          f"{load_before[0]:.1f} -> {load_after[0]:.1f}")
    print(f"good requests failed: {result['good_failed']} of {result['good_requests']} "
          f"({result['good_failed_with_hostile']} while the hostile client ran)   target 0")
    print(f"latency p50/p99: {result['p50_ms']:.1f} / {result['p99_ms']:.1f} ms alone, "
          f"{result['p50_ms_hostile']:.1f} / {result['p99_ms_hostile']:.1f} ms with the hostile client; "
          f"p99 ratio {result['p99_ratio']:.2f}   target <= 1.5")
    print(f"server RSS: {rss['ready']:.0f} MB ready -> {rss['after_baseline']:.0f} after the baseline -> "
          f"{rss['end']:.0f} MB at the end; growth {result['rss_growth_mb']:+.0f} MB   target <= 50")
    print(f"server ready (warmed up) after {result['ready_s']:.1f} s; first request {result['first_request_ms']:.0f} ms")
    print(f"hostile requests: {result['hostile_sent']} sent, {result['hostile_4xx']} got a 4xx: "
          f"{json.dumps(result['hostile_by_answer'], sort_keys=True)}")
    print(f"server log: {result['failure_log_lines']} failed-request lines, "
          f"{result['log_lines_quoting_bodies']} quoting a body; /health after: {result['health_after']}")
    print("targets: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in targets.items()))
    row = {"date": dt.datetime.now().isoformat(timespec="seconds"),
           "command": shlex.join([Path(sys.executable).name, *sys.argv]), "model": str(model),
           "runtime": args.runtime, "requests": args.requests, "concurrency": args.concurrency,
           "hostile_rps": args.hostile_rps, "server_threads": args.threads,
           "torch_threads": args.threads or torch.get_num_threads(), "cores": os.cpu_count(),
           "load_average_before": [round(x, 2) for x in load_before],
           "load_average_after": [round(x, 2) for x in load_after], **result, "targets": targets}
    if not args.no_record:
        results = Path(args.results)
        results.parent.mkdir(parents=True, exist_ok=True)
        with results.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"appended to {results}")


if __name__ == "__main__":
    main()
