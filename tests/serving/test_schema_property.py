"""Property: whatever JSON (or bytes) a client posts to /predict, the answer is 2xx or 4xx, never 5xx.

The real tiny ONNX model serves in process, so the texts reach a real tokenizer: lone surrogates, control
characters, empty strings and odd shapes are all generated on purpose."""

from __future__ import annotations

import json

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# Every Unicode category, surrogates (Cs) included: JSON's \udXXX escapes let a client send them.
ANY_CHAR = st.characters(exclude_categories=())
TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.sampled_from(["", " ", "\t\n", "\ud800", "a\udfffb", "\x00", "\ufeff", "\U0010ffff", "😀", "x" * 300]),
)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT)
JSON = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                    st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)
TEXTS = st.one_of(st.lists(TEXT, max_size=10), JSON)
BODY = st.one_of(
    st.fixed_dictionaries({"text": st.one_of(TEXT, JSON)}),
    st.fixed_dictionaries({"texts": TEXTS}),
    st.fixed_dictionaries({"text": TEXT, "texts": TEXTS}),
    st.fixed_dictionaries({}, optional={"text": TEXT, "texts": TEXTS, "extra": JSON}),
    JSON,
)


@pytest.fixture(scope="module")
def client(exported):
    from starlette.testclient import TestClient

    from headstart.serving.export import OnnxClassifier
    from headstart.serving.server import ServeLimits, create_app

    limits = ServeLimits(max_texts=8, max_text_chars=200, max_body_bytes=4000)
    app = create_app(OnnxClassifier(exported, threads=1), {"task": "classification"}, limits)
    with TestClient(app) as test_client:
        for _ in range(600):
            if test_client.get("/health").status_code == 200:
                break
            __import__("time").sleep(0.05)
        yield test_client


def _check(response) -> None:
    assert 200 <= response.status_code < 500, (response.status_code, response.text)
    if response.status_code == 200:
        assert all("label" in p for p in response.json()["predictions"])
    else:
        assert response.json()["detail"]


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODY)
def test_random_json_bodies_never_get_a_5xx(client, body):
    # json.dumps escapes lone surrogates as \udXXX: exactly what a hostile client sends
    _check(client.post("/predict", content=json.dumps(body).encode(), headers={"content-type": "application/json"}))


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300), content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_random_bytes_never_get_a_5xx(client, body, content_type):
    _check(client.post("/predict", content=body, headers={"content-type": content_type} if content_type else {}))
