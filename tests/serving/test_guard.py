"""The server in process (httpx's ASGI transport, a scripted predictor): batch isolation, warm-up, body
limit while reading, API key, and the one-line failure log. Fast: no model, no subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading

import httpx
import numpy as np
import pytest

from headstart.errors import DataError
from headstart.serving import guard
from headstart.serving.server import ServeLimits, create_app

KEY = "k3y-for-tests-0123456789"


class Scripted:
    """A predictor that records each model call; fails the whole call when any text contains BOOM."""

    classes_ = ["neg", "pos"]
    task_ = "classification"

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[list[str]] = []
        self.gate = gate

    def decision_scores(self, texts):
        if self.gate is not None:
            self.gate.wait(10)
        self.calls.append(list(texts))
        if any("BOOM" in t for t in texts):
            raise RuntimeError("the model broke on: " + " | ".join(texts))
        if any("REFUSE" in t for t in texts):
            raise DataError("expected a text this model can read; got one it cannot. Change it.")
        return np.tile([0.25, 0.75], (len(texts), 1))

    def scores_to_labels(self, scores):
        return [self.classes_[i] for i in scores.argmax(axis=1)]


@contextlib.asynccontextmanager
async def serving(predictor, ready: bool = True, api_key: str | None = None, **limits):
    keyed = {"api_key": api_key} if api_key else {}
    app = create_app(predictor, {"task": "classification"}, ServeLimits(**limits), **keyed)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1",
                                     timeout=30) as client:
            if ready:
                for _ in range(500):
                    if (await client.get("/health")).status_code == 200:
                        break
                    await asyncio.sleep(0.01)
            yield client


def raw(body: dict) -> dict:
    """Request kwargs for a JSON body; json.dumps escapes lone surrogates as \\udXXX, as a client's would."""
    return {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}


def test_a_failing_batch_is_retried_one_request_at_a_time():
    model = Scripted()

    async def run():
        async with serving(model, max_wait_ms=300) as client:
            model.calls.clear()
            texts = [f"good {i}" for i in range(4)] + ["BOOM"] + [f"good {i}" for i in range(4, 8)]
            return await asyncio.gather(*(client.post("/predict", **raw({"text": t})) for t in texts))

    responses = asyncio.run(run())
    statuses = [r.status_code for r in responses]
    assert statuses == [200] * 4 + [500] + [200] * 4
    assert all(r.json()["predictions"][0]["label"] == "pos" for i, r in enumerate(responses) if i != 4)
    assert len(model.calls[0]) == 9  # one shared batch failed; then each request alone
    assert sorted(map(tuple, model.calls[1:])) == sorted((t,) for t in model.calls[0])
    assert "request id" in responses[4].json()["detail"]


def test_input_the_model_refuses_is_a_422_for_that_request_only():
    async def run():
        async with serving(Scripted(), max_wait_ms=200) as client:
            return await asyncio.gather(*(client.post("/predict", **raw({"text": t}))
                                          for t in ["fine", "REFUSE this", "also fine"]))

    assert [r.status_code for r in asyncio.run(run())] == [200, 422, 200]


@pytest.mark.parametrize("body, reason", [
    ({"text": ""}, "text 0 is empty"),
    ({"text": "   \n"}, "text 0 is empty"),
    ({"texts": ["ok", "\t"]}, "text 1 is empty"),
    ({"text": "\ud800"}, "lone surrogate (U+D800) at character 0"),
    ({"texts": ["ok", "ab\udc00"]}, "text 1 has a lone surrogate (U+DC00) at character 2"),
])
def test_empty_and_unencodable_texts_are_refused_before_any_batch(body, reason):
    model = Scripted()

    async def run():
        async with serving(model) as client:
            model.calls.clear()
            return await client.post("/predict", **raw(body))

    response = asyncio.run(run())
    assert response.status_code == 422 and reason in response.json()["detail"]
    assert model.calls == []  # refused per request: it never joined a batch


def test_the_empty_text_rule_is_the_one_fit_uses():
    from headstart.data.examples import Examples, check_trainable, is_empty_text

    assert [is_empty_text(t) for t in ["", " \t\n", "a", " a "]] == [True, True, False, False]
    with pytest.raises(DataError, match="1 empty texts"):
        check_trainable(Examples(["good", " \t", "bad"], ["a", "b", "a"]))


def counting(chunks: int, size: int, consumed: list[int]):
    async def stream():
        for _ in range(chunks):
            consumed.append(size)
            yield b"x" * size
    return stream()


def test_a_chunked_body_is_cut_at_the_limit_while_reading():
    consumed: list[int] = []

    async def run():
        async with serving(Scripted(), max_body_bytes=5000) as client:
            return await client.post("/predict", content=counting(1000, 1000, consumed),
                                     headers={"content-type": "application/json"})

    response = asyncio.run(run())
    assert response.status_code == 413 and "at most 5000 bytes" in response.json()["detail"]
    assert response.headers["connection"] == "close"
    assert sum(consumed) <= 6000  # stopped at the first chunk past the limit; the old code read all 1,000,000


def test_a_declared_length_over_the_limit_is_refused_unread():
    consumed: list[int] = []

    async def run():
        async with serving(Scripted(), max_body_bytes=5000) as client:
            return await client.post("/predict", content=counting(10, 1000, consumed),
                                     headers={"content-type": "application/json", "content-length": "10000"})

    assert asyncio.run(run()).status_code == 413 and consumed == []


def test_health_is_503_until_the_model_is_warmed_up():
    gate = threading.Event()
    model = Scripted(gate)

    async def run():
        async with serving(model, ready=False) as client:
            before = await client.get("/health")
            gate.set()
            for _ in range(500):
                after = await client.get("/health")
                if after.status_code == 200:
                    break
                await asyncio.sleep(0.01)
            return before, after, list(model.calls)

    before, after, calls = asyncio.run(run())
    assert before.status_code == 503 and before.json()["status"] == "warming up"
    assert after.status_code == 200 and after.json()["status"] == "ok"
    assert calls, "the model was called before /health said ok"


def test_a_failed_warm_up_keeps_health_at_503(caplog):
    class Broken(Scripted):
        def decision_scores(self, texts):
            raise RuntimeError("no")

    async def run():
        async with serving(Broken(), ready=False) as client:
            await asyncio.sleep(0.2)
            return await client.get("/health")

    with caplog.at_level(logging.ERROR, "headstart.serving"):
        response = asyncio.run(run())
    assert response.status_code == 503 and response.json()["status"] == "warm-up failed (RuntimeError)"
    assert any("warm-up failed" in r.getMessage() for r in caplog.records)


def test_api_key_is_required_on_every_path_but_health_and_docs(monkeypatch):
    compared = []
    real = guard.hmac.compare_digest
    monkeypatch.setattr(guard.hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b))

    async def run():
        async with serving(Scripted(), api_key=KEY) as client:
            good = {"authorization": f"Bearer {KEY}"}
            return {
                "none": await client.post("/predict", json={"text": "hi"}),
                "wrong": await client.post("/predict", json={"text": "hi"}, headers={"authorization": "Bearer nope"}),
                "basic": await client.post("/predict", json={"text": "hi"}, headers={"authorization": f"Basic {KEY}"}),
                "good": await client.post("/predict", json={"text": "hi"}, headers=good),
                "lower": await client.post("/predict", json={"text": "hi"}, headers={"authorization": f"bearer {KEY}"}),
                "metadata": await client.get("/metadata"),
                "metrics": await client.get("/metrics"),
                "metrics-key": await client.get("/metrics", headers=good),
                "health": await client.get("/health"),
                "docs": await client.get("/openapi.json"),
            }

    r = asyncio.run(run())
    for name in ("none", "wrong", "basic", "metadata", "metrics"):
        assert r[name].status_code == 401, name
        assert r[name].headers["www-authenticate"] == "Bearer"
        assert KEY not in r[name].text
    assert "no such header" in r["none"].json()["detail"] and "a wrong key" in r["wrong"].json()["detail"]
    assert r["good"].status_code == r["lower"].status_code == r["metrics-key"].status_code == 200
    assert r["health"].status_code == 200 and r["docs"].status_code == 200
    assert "HTTPBearer" in json.dumps(r["docs"].json()["components"]["securitySchemes"])
    assert compared, "keys are compared with hmac.compare_digest (constant time)"


def test_without_a_key_an_unauthenticated_body_is_never_read():
    consumed: list[int] = []

    async def run():
        async with serving(Scripted(), api_key=KEY) as client:
            return await client.post("/predict", content=counting(50, 1000, consumed),
                                     headers={"content-type": "application/json"})

    assert asyncio.run(run()).status_code == 401 and consumed == []


def test_each_failed_request_logs_one_line_without_its_text(caplog):
    secret = "SECRETWORD"
    bodies = [
        raw({"text": secret * 100}),  # too long
        raw({"text": secret + "\ud800"}),  # unencodable
        raw({"texts": [secret, "   "]}),  # empty text
        raw({"texts": [secret, 3]}),  # wrong type
        raw({"text": secret, "texts": [secret]}),  # both
        {"content": b'{"text": "' + secret.encode() + b'", oops', "headers": {"content-type": "application/json"}},
        raw({"text": "BOOM " + secret}),  # the model fails
        {"content": secret.encode() * 1000},  # too large
    ]

    async def run():
        async with serving(Scripted(), max_text_chars=500, max_body_bytes=5000) as client:
            caplog.clear()
            with caplog.at_level(logging.INFO, "headstart.serving"):
                failed = [await client.post("/predict", **b) for b in bodies]
                failed.append(await client.get("/" + secret))
                failed.append(await client.post("/predict", json={"text": "x"},
                                                headers={"x-request-id": "client-chosen.id-1"}))
                ok = await client.post("/predict", json={"text": "a fine text"})
            return failed, ok, list(caplog.records)

    failed, ok, records = asyncio.run(run())
    assert ok.status_code == 200 and all(400 <= r.status_code for r in failed[:-1])
    assert failed[-1].status_code == 200 and failed[-1].headers["x-request-id"] == "client-chosen.id-1"
    failed = failed[:-1]
    assert len(records) == len(failed)  # one line per failed request, none for the good ones
    for response, record in zip(failed, records):
        line = record.getMessage()
        assert response.headers["x-request-id"] in line and f"-> {response.status_code}:" in line, line
        assert secret not in line and secret.lower() not in line
        if response.status_code != 404:  # Starlette's own 404 body has no id; its header does
            assert response.json()["request_id"] == response.headers["x-request-id"]
    assert "unhandled RuntimeError" in records[6].getMessage()


def test_a_strange_client_request_id_is_replaced():
    async def run():
        async with serving(Scripted()) as client:
            return await client.get("/health", headers={"x-request-id": "evil\nline " + "x" * 100})

    rid = asyncio.run(run()).headers["x-request-id"]
    assert "\n" not in rid and len(rid) == 16


def test_warm_up_and_every_batch_run_on_one_dedicated_model_thread():
    """A model called from asyncio's shared pool ran on whichever thread was free, each with its own malloc
    arena: memory grew with each new thread after the warm-up (robustness benchmark: +51 MB)."""
    threads: list[str] = []

    class Recording(Scripted):
        def decision_scores(self, texts):
            threads.append(threading.current_thread().name)
            return super().decision_scores(texts)

    async def run():
        async with serving(Recording(), max_wait_ms=1) as client:
            warmed = len(threads)
            answers = await asyncio.gather(*[client.post("/predict", json={"text": f"t{i}"}) for i in range(40)])
            return warmed, [a.status_code for a in answers]

    warmed, statuses = asyncio.run(run())
    assert statuses == [200] * 40
    assert warmed >= 1 and len(threads) > warmed
    assert set(threads) == {threads[0]} and threads[0].startswith("headstart-model")
