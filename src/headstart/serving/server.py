"""The HTTP JSON API: FastAPI app with micro-batching, input limits and Prometheus metrics.

Concurrent requests are grouped by a `MicroBatcher`: an asyncio queue whose consumer takes requests
until `max_batch` texts or `max_wait_ms` have passed, and runs the model once per group in a worker
thread, so the event loop keeps accepting requests while the model computes. Each request is checked on
its own before it joins a batch (`request_problem`), and a batch whose model call fails anyway is re-run one
request at a time, so one bad request never fails the others. `guard.Guard` sits in front of every request
(API key, body limit, metrics, one log line per failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np

from .. import __version__
from ..config import Options, opt
from ..data.examples import is_empty_text, unencodable_at
from ..errors import HeadstartError
from ..estimators import load_estimator
from ..model_folder import CLASSIFIER_KIND
from ..tasks import label_task
from .export import OnnxClassifier, onnx_folder_for
from .guard import REQUEST_ID, Guard

log = logging.getLogger("headstart.serving")


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
    """Group concurrent prediction requests into batches and run them in one worker thread.

    The model runs on one dedicated thread (`run_model`), never on asyncio's shared pool: every new thread
    gets its own malloc arena, so model calls spread over the pool's threads grew the server's memory with
    each thread that first ran a batch, after the warm-up had run on another one."""

    def __init__(self, predictor: Predictor, max_batch: int, max_wait_ms: float, max_queue: int,
                 on_batch: Any = None) -> None:
        self.predictor = predictor
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=max_queue)
        self.on_batch = on_batch
        self._task: asyncio.Task | None = None
        self._model_thread: ThreadPoolExecutor | None = None

    async def run_model(self, texts: Sequence[str]) -> np.ndarray:
        """`predictor.decision_scores(texts)` on the model thread."""
        return await asyncio.get_running_loop().run_in_executor(
            self._model_thread, self.predictor.decision_scores, texts)

    def start(self) -> None:
        self._model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="headstart-model")
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._model_thread is not None:
            self._model_thread.shutdown(wait=False, cancel_futures=True)

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
            while size < self.max_batch and (timeout := deadline - loop.time()) > 0:
                try:
                    item = await asyncio.wait_for(self.queue.get(), timeout)
                except asyncio.TimeoutError:
                    break
                items.append(item)
                size += len(item[0])
            await self._predict(items)

    async def _predict(self, items: list[tuple[list[str], asyncio.Future]]) -> None:
        """Score `items` in one model call; if that call fails, score each request on its own, so a request
        the per-request checks let through fails alone instead of failing every request batched with it."""
        items = [(texts, future) for texts, future in items if not future.done()]  # clients that went away
        if not items:
            return
        texts = [t for batch, _ in items for t in batch]
        try:
            scores = await self.run_model(texts)
        except Exception as exc:  # a model failure fails requests, never the server
            if len(items) == 1:
                if not items[0][1].done():
                    items[0][1].set_exception(exc)
                return
            for item in items:
                await self._predict([item])
            return
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


def request_problem(texts: list[str], limits: ServeLimits) -> str | None:
    """Why these texts cannot be predicted (a 422 message), or None. Checked per request, before batching,
    so a bad text is refused on its own and never reaches a model call shared with other requests."""
    if not texts:
        return "expected at least one text in 'texts'; got an empty list."
    if len(texts) > limits.max_texts:
        return (f"expected at most {limits.max_texts} texts per request; got {len(texts)}. "
                "Split the list into several requests.")
    for i, text in enumerate(texts):
        if len(text) > limits.max_text_chars:
            return (f"expected texts of at most {limits.max_text_chars} characters; text {i} has {len(text)}. "
                    "Shorten it (the model reads only the first tokens).")
        if is_empty_text(text):
            return (f"expected non-empty texts (the rule `headstart fit` applies to training data); text {i} "
                    "is empty or only whitespace. Drop it or fill it in.")
        at = unencodable_at(text)
        if at is not None:
            return (f"expected text that UTF-8 can encode; text {i} has a lone surrogate (U+{ord(text[at]):04X}) "
                    f"at character {at}. Send valid Unicode: a surrogate pair such as \\ud83d\\ude00 is one "
                    "character, half of a pair is not text.")
    return None


WARMUP_TEXTS = ["warm-up", "a somewhat longer text, so that the first real batch is not the first of its shape"]


def create_app(predictor: Predictor, metadata: dict[str, Any], limits: ServeLimits | None = None,
               api_key: str | None = None):
    """The FastAPI application serving `predictor`. `metadata` is shown at GET /metadata. With `api_key`,
    every path but /health and the API docs needs `Authorization: Bearer <api_key>`."""
    from fastapi import Depends, FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, PlainTextResponse
    from fastapi.security import HTTPBearer
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
    warm: dict[str, Any] = {"done": False, "error": None}

    async def warm_up() -> None:
        # The first model call pays for lazy initialisation (seconds for PyTorch): pay it before /health says ok.
        try:
            # a full micro-batch too: its buffers are then allocated before the baseline memory is read
            full = [" ".join(WARMUP_TEXTS * 4)] * limits.max_batch
            for texts in (WARMUP_TEXTS, WARMUP_TEXTS[:1], full):
                await batcher.run_model(texts)
        except Exception as exc:
            warm["error"] = type(exc).__name__
            log.error("warm-up failed (%s: %s); /health answers 503", type(exc).__name__, exc)
            return
        warm["done"] = True

    @contextlib.asynccontextmanager
    async def lifespan(app):
        batcher.start()
        warming = asyncio.get_running_loop().create_task(warm_up())
        yield
        warming.cancel()
        await batcher.stop()

    app = FastAPI(title="headstart model server", version=__version__, lifespan=lifespan,
                  description=f"Predictions of a headstart {metadata.get('task', '')} model.")
    known_paths = frozenset({"/predict", "/health", "/metadata", "/metrics", "/docs", "/openapi.json"})
    app.add_middleware(Guard, max_body_bytes=limits.max_body_bytes, api_key=api_key, known_paths=known_paths,
                       observe=lambda path, status, seconds: (requests.labels(path, str(status)).inc(),
                                                              latency.labels(path).observe(seconds)))
    # Declares the bearer scheme in the OpenAPI schema (the Swagger UI's Authorize button); Guard enforces it.
    secured = [Depends(HTTPBearer(auto_error=False))] if api_key else []

    def error(code: int, message: str, **fields: Any) -> JSONResponse:
        return JSONResponse({**fields, "detail": message, "request_id": REQUEST_ID.get()}, status_code=code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        reasons = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return error(422, f"expected JSON like {{\"text\": \"...\"}} or {{\"texts\": [\"...\", ...]}}; "
                                   f"got an invalid body ({reasons})")

    @app.post("/predict", response_model=PredictResponse, dependencies=secured,
              summary="label (and scores) for one text or a list")
    async def predict(body: PredictRequest):
        if (body.text is None) == (body.texts is None):
            return error(422, "expected exactly one of 'text' (a string) or 'texts' (a list of strings); "
                                       f"got {'both' if body.text is not None else 'neither'}.")
        texts = [body.text] if body.text is not None else list(body.texts or [])
        problem = request_problem(texts, limits)
        if problem:
            return error(422, problem)
        try:
            scores = await batcher.submit(texts)
        except asyncio.QueueFull:
            return error(503, "the server is overloaded (request queue full); retry shortly.")
        except HeadstartError as exc:  # the model refused this request's input
            return error(422, str(exc))
        classes = [str(c) for c in predictor.classes_]
        has_classes = label_task(predictor.task_).has_classes  # else (regression) "scores" is null
        return {"predictions": [{"label": label, "scores": {c: round(float(p), 6) for c, p in zip(classes, row)}
                                 if has_classes else None}
                                for label, row in zip(predictor.scores_to_labels(scores), scores)]}

    @app.get("/health", summary="readiness: 200 once the model is loaded and warmed up, 503 before")
    async def health():
        if not warm["done"]:
            status = f"warm-up failed ({warm['error']})" if warm["error"] else "warming up"
            return error(503, f"the model is not ready: {status}", status=status)
        return {"status": "ok", "queue": batcher.queue.qsize()}

    @app.get("/metadata", dependencies=secured, summary="labels, backbone, metrics and versions of the served model")
    async def meta():
        return metadata

    @app.get("/metrics", dependencies=secured, summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics():
        return PlainTextResponse(generate_latest(registry).decode(), media_type=CONTENT_TYPE_LATEST)

    return app


def load_predictor(model: str, onnx: bool = False, int8: bool = False, threads: int = 0) -> tuple[Predictor, dict]:
    """Load a model folder for serving (PyTorch, or its ONNX export) and the metadata to show."""
    if onnx or int8:
        predictor = OnnxClassifier(onnx_folder_for(model), int8=int8, threads=threads)
        source = predictor.metadata_.get("source_metadata", {})
        runtime = f"onnxruntime{' int8' if int8 else ''}"
    else:
        if threads:
            import torch

            torch.set_num_threads(threads)
        predictor = load_estimator(model, kinds=(CLASSIFIER_KIND,))
        source = predictor.metadata_
        runtime = "pytorch"
    metadata = {"labels": [str(c) for c in predictor.classes_], "task": predictor.task_, "runtime": runtime,
                "strategy": source.get("strategy"), "backbone": (source.get("backbone") or {}).get("name"),
                "metrics": source.get("metrics", {}), "headstart_version": __version__,
                "model_version": (source.get("versions") or {}).get("headstart"), "model": str(model)}
    return predictor, metadata
