"""The HTTP JSON API: FastAPI app with micro-batching, input limits and Prometheus metrics.

Concurrent requests are grouped by a `MicroBatcher`: an asyncio queue whose consumer takes requests
until `max_batch` texts or `max_wait_ms` have passed, and runs the model once per group in a worker
thread, so the event loop keeps accepting requests while the model computes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np

from .. import __version__
from ..config import Options, opt


class Predictor(Protocol):
    classes_: list[Any]
    task_: str

    def decision_scores(self, texts: Sequence[str]) -> np.ndarray: ...

    def scores_to_labels(self, scores: np.ndarray) -> list[Any]: ...


@dataclass
class ServeLimits(Options):
    max_body_bytes: int = opt(1_000_000, "largest request body accepted (bytes); larger ones get 413", min=1)
    max_texts: int = opt(64, "most texts in one request; more get 422", min=1)
    max_text_chars: int = opt(10_000, "longest text accepted (characters); longer ones get 422", min=1)
    max_batch: int = opt(32, "most texts the model sees in one micro-batch", min=1)
    max_wait_ms: float = opt(5.0, "longest a request waits for others to join its micro-batch", min=0)
    max_queue: int = opt(1024, "requests waiting at most; beyond it the server answers 503 (overloaded)", min=1)


class MicroBatcher:
    """Group concurrent prediction requests into batches and run them in one worker thread."""

    def __init__(self, predictor: Predictor, max_batch: int, max_wait_ms: float, max_queue: int,
                 on_batch: Any = None) -> None:
        self.predictor = predictor
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=max_queue)
        self.on_batch = on_batch
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def submit(self, texts: list[str]) -> np.ndarray:
        """Scores for `texts`; raises asyncio.QueueFull when the server is overloaded."""
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((texts, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            size = len(items[0][0])
            deadline = loop.time() + self.max_wait
            while size < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self.queue.get(), timeout)
                except asyncio.TimeoutError:
                    break
                items.append(item)
                size += len(item[0])
            texts = [t for batch, _ in items for t in batch]
            try:
                scores = await asyncio.to_thread(self.predictor.decision_scores, texts)
            except Exception as exc:  # a model failure fails these requests, never the server
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)
                continue
            if self.on_batch is not None:
                self.on_batch(len(texts))
            start = 0
            for batch, future in items:
                if not future.done():  # the client may have gone away
                    future.set_result(scores[start:start + len(batch)])
                start += len(batch)


from pydantic import BaseModel, Field  # noqa: E402  (module level: FastAPI resolves annotations here)


class PredictRequest(BaseModel):
    """One text (`text`) or a list (`texts`)."""

    text: str | None = Field(None, description="a single text", examples=["a gripping, funny film"])
    texts: list[str] | None = Field(None, description="several texts")

class Prediction(BaseModel):
    label: Any
    scores: dict[str, float] | None = None

class PredictResponse(BaseModel):
    predictions: list[Prediction]


def create_app(predictor: Predictor, metadata: dict[str, Any], limits: ServeLimits | None = None):
    """The FastAPI application serving `predictor`. `metadata` is shown at GET /metadata."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, PlainTextResponse
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

    limits = limits or ServeLimits()
    registry = CollectorRegistry()  # per app: several apps (tests) never share counters
    requests = Counter("headstart_requests", "HTTP requests by path and status", ["path", "status"],
                       registry=registry)
    latency = Histogram("headstart_request_seconds", "request latency in seconds", ["path"], registry=registry,
                        buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
    batch_sizes = Histogram("headstart_batch_texts", "texts per model call (micro-batch size)", registry=registry,
                            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
    texts_total = Counter("headstart_texts", "texts predicted", registry=registry)

    batcher = MicroBatcher(predictor, limits.max_batch, limits.max_wait_ms, limits.max_queue,
                           on_batch=lambda n: (batch_sizes.observe(n), texts_total.inc(n)))

    @asynccontextmanager
    async def lifespan(app):
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="headstart model server", version=__version__, lifespan=lifespan,
                  description=f"Predictions of a headstart {metadata.get('task', '')} model.")

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"detail": message}, status_code=status)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        start = time.perf_counter()
        path = request.url.path if request.url.path in known_paths else "other"
        try:
            declared = request.headers.get("content-length")
            if declared is None and request.method == "POST":  # chunked upload: measure what arrived
                declared = str(len(await request.body()))
            if declared is not None and (not declared.isdigit() or int(declared) > limits.max_body_bytes):
                response = error(413, f"expected a body of at most {limits.max_body_bytes} bytes; got "
                                      f"{declared} bytes. Send fewer or shorter texts per request.")
            else:
                response = await call_next(request)
        except Exception as exc:  # never let one request take the server down
            response = error(500, f"internal error: {type(exc).__name__}")
        requests.labels(path, str(response.status_code)).inc()
        latency.labels(path).observe(time.perf_counter() - start)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        reasons = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return error(422, f"expected JSON like {{\"text\": \"...\"}} or {{\"texts\": [\"...\", ...]}}; "
                          f"got an invalid body ({reasons})")

    @app.post("/predict", response_model=PredictResponse, summary="label (and scores) for one text or a list")
    async def predict(body: PredictRequest):
        if (body.text is None) == (body.texts is None):
            return error(422, "expected exactly one of 'text' (a string) or 'texts' (a list of strings); "
                              f"got {'both' if body.text is not None else 'neither'}.")
        texts = [body.text] if body.text is not None else list(body.texts or [])
        if not texts:
            return error(422, "expected at least one text in 'texts'; got an empty list.")
        if len(texts) > limits.max_texts:
            return error(422, f"expected at most {limits.max_texts} texts per request; got {len(texts)}. "
                              "Split the list into several requests.")
        too_long = [i for i, t in enumerate(texts) if len(t) > limits.max_text_chars]
        if too_long:
            return error(422, f"expected texts of at most {limits.max_text_chars} characters; text {too_long[0]} "
                              f"has {len(texts[too_long[0]])}. Shorten it (the model reads only the first tokens).")
        try:
            scores = await batcher.submit(texts)
        except asyncio.QueueFull:
            return error(503, "the server is overloaded (request queue full); retry shortly.")
        labels = predictor.scores_to_labels(scores)
        classes = [str(c) for c in predictor.classes_]
        out = []
        for label, row in zip(labels, scores):
            prediction = {"label": label}
            if predictor.task_ != "regression":
                prediction["scores"] = {c: round(float(p), 6) for c, p in zip(classes, row)}
            out.append(prediction)
        return {"predictions": out}

    @app.get("/health", summary="liveness: 200 when the model is loaded")
    async def health():
        return {"status": "ok", "queue": batcher.queue.qsize()}

    @app.get("/metadata", summary="labels, backbone, metrics and versions of the served model")
    async def meta():
        return metadata

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics():
        return PlainTextResponse(generate_latest(registry).decode(), media_type=CONTENT_TYPE_LATEST)

    known_paths = {"/predict", "/health", "/metadata", "/metrics", "/docs", "/openapi.json"}
    return app


def load_predictor(model: str, onnx: bool = False, int8: bool = False, threads: int = 0) -> tuple[Predictor, dict]:
    """Load a model folder for serving (PyTorch, or its ONNX export) and the metadata to show."""
    from ..classifier import TextClassifier
    from .export import OnnxClassifier, onnx_folder_for

    if onnx or int8:
        predictor = OnnxClassifier(onnx_folder_for(model), int8=int8, threads=threads)
        source = predictor.metadata_.get("source_metadata", {})
        runtime = f"onnxruntime{' int8' if int8 else ''}"
    else:
        if threads:
            import torch

            torch.set_num_threads(threads)
        predictor = TextClassifier.load(model)
        source = predictor.metadata_
        runtime = "pytorch"
    metadata = {"labels": [str(c) for c in predictor.classes_], "task": predictor.task_, "runtime": runtime,
                "strategy": source.get("strategy"), "backbone": (source.get("backbone") or {}).get("name"),
                "metrics": source.get("metrics", {}), "headstart_version": __version__,
                "model_version": (source.get("versions") or {}).get("headstart"), "model": str(model)}
    return predictor, metadata
