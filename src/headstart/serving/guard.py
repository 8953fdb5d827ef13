"""The ASGI layer in front of every request: request id, API key, body limit, metrics and failure log.

It is plain ASGI rather than a Starlette `BaseHTTPMiddleware` because it must control how the body is read:
the body is read here, message by message, and reading stops the moment it passes the limit, whether the
client declared a Content-Length or sent it chunked. Memory per request is bounded by the limit, and the
413 goes out with `Connection: close` so the rest of an oversized upload is never read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
import traceback
import uuid
from contextvars import ContextVar
from typing import Any, Awaitable, Callable

log = logging.getLogger("headstart.serving")

# /health stays open so load balancers can probe without the key; the OpenAPI page and schema describe the
# API, not the model, and the Swagger UI could not load without them.
OPEN_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/openapi.json"})
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# The id of the request being handled: the app's error bodies quote it (the endpoints run in Guard's task).
REQUEST_ID: ContextVar[str] = ContextVar("headstart_request_id", default="-")
_REASON_CHARS = 300

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _digest(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()


class Guard:
    """ASGI middleware: see the module docstring. `observe(path, status, seconds)` records metrics."""

    def __init__(self, app: Any, *, max_body_bytes: int, api_key: str | None, known_paths: frozenset[str],
                 observe: Callable[[str, int, float], None]) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Comparing fixed-length digests with compare_digest keeps the check constant-time, length included.
        self.key_digest = _digest(api_key.encode()) if api_key else None
        self.known_paths = known_paths
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers: dict[bytes, list[bytes]] = {}
        for name, value in scope.get("headers", []):
            headers.setdefault(name.lower(), []).append(value)
        request_id = _request_id(headers.get(b"x-request-id", []))
        REQUEST_ID.set(request_id)
        path = scope["path"] if scope["path"] in self.known_paths else "other"
        sent = {"status": 0, "reason": b""}

        async def tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                message = dict(message, headers=[*message.get("headers", []),
                                                 (b"x-request-id", request_id.encode())])
            elif message["type"] == "http.response.body" and sent["status"] >= 400:
                sent["reason"] = (sent["reason"] + message.get("body", b""))[:4096]
            await send(message)

        async def answer(status: int, detail: str, extra: list[tuple[bytes, bytes]] = ()) -> None:
            body = json.dumps({"detail": detail, "request_id": request_id}).encode()
            await tracked({"type": "http.response.start", "status": status,
                           "headers": [(b"content-type", b"application/json"),
                                       (b"content-length", str(len(body)).encode()), *extra]})
            await tracked({"type": "http.response.body", "body": body})

        try:
            if self.key_digest is not None and scope["path"] not in OPEN_PATHS and not self._authorised(headers):
                # Connection: close, so an unauthenticated client's body is not read either.
                await answer(401, "expected an 'Authorization: Bearer <key>' header with this server's API key; "
                                  f"got {'no such header' if b'authorization' not in headers else 'a wrong key'}. "
                                  "Send the key the server was started with (--api-key / HEADSTART_API_KEY).",
                             [(b"www-authenticate", b"Bearer"), (b"connection", b"close")])
                return
            body = await self._read_body(headers, receive, answer)
            if body is None:
                return
            await self.app(scope, _replay(body, receive), tracked)
        except Exception as exc:  # never let one request take the server down
            # Type and place only: an exception's message may quote the input, which must stay out of the log.
            where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
            sent["error"] = type(exc).__name__ + (f" at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}"
                                                  if where else "")
            if not sent["status"]:
                await answer(500, f"internal error ({type(exc).__name__}); quote request id {request_id} "
                                  "to the server's operator, whose log has the details.")
            else:  # the response had started: all that can be done is to log it
                sent["status"] = sent["status"] if sent["status"] >= 500 else 500
        finally:
            if sent["status"]:
                self.observe(path, sent["status"], time.perf_counter() - start)
                if sent["status"] >= 400:
                    _log_failure(request_id, scope["method"], path, sent)

    def _authorised(self, headers: dict[bytes, list[bytes]]) -> bool:
        values = headers.get(b"authorization", [])
        if len(values) != 1:
            return False
        scheme, _, token = values[0].strip().partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(_digest(token.strip()), self.key_digest)

    async def _read_body(self, headers: dict[bytes, list[bytes]], receive: Receive,
                         answer: Callable[..., Awaitable[None]]) -> bytes | None:
        """The whole body, or None once a 413 (or nothing, for a client that left) has been answered."""
        limit = self.max_body_bytes
        declared = headers.get(b"content-length", [b""])[-1]
        if declared.strip().isdigit() and int(declared) > limit:
            await answer(413, _too_large(limit, f"{int(declared)} bytes declared"), [(b"connection", b"close")])
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:  # stop reading here: the rest of the upload is never buffered
                await answer(413, _too_large(limit, f"more than {limit} bytes (still arriving)"),
                             [(b"connection", b"close")])
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _too_large(limit: int, got: str) -> str:
    return (f"expected a body of at most {limit} bytes; got {got}. Send fewer or shorter texts per request "
            "(or start the server with a larger --max-body-bytes).")


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then defers to the server (disconnects)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


def _request_id(given: list[bytes]) -> str:
    """The client's X-Request-ID when it is a short plain token (it ends up in logs), else a fresh one."""
    if len(given) == 1:
        value = given[0].decode("latin-1")
        if _CLIENT_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex[:16]


def _log_failure(request_id: str, method: str, path: str, sent: dict[str, Any]) -> None:
    """One line per failed request. The reason is the error message the server wrote itself, which names
    positions and sizes, never the request's text; the path is a known route or 'other', never the client's."""
    if "error" in sent:
        reason = f"unhandled {sent['error']}"
    else:
        try:
            reason = str(json.loads(sent["reason"].decode()).get("detail", ""))[:_REASON_CHARS]
        except (ValueError, AttributeError, UnicodeDecodeError):
            reason = "(no JSON detail)"
    level = logging.ERROR if sent["status"] >= 500 else logging.WARNING
    log.log(level, "request %s %s %s -> %d: %s", request_id, method, path, sent["status"], reason)
