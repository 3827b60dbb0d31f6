"""Request bodies: read whole, bounded in size and in time, before any route or dependency runs.

A route, or a dependency of it, may take a pooled database connection; were the body read
after that, a client sending its body one byte at a time would hold the connection as long
as it liked, and a dozen such clients the whole pool. So `BodyGuard` reads every body before
the app sees the request, and the app reads it from memory (docs/decisions.md, "Slow
clients").
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rollcall import metrics
from rollcall.errors import PayloadTooLarge, Problem, RequestTimeout, UnsupportedMediaType

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
DEFAULT_BODY_TIMEOUT_S = 10.0
_BODY_METHODS = {b"POST", b"PUT", b"PATCH"}


class BodyGuard:
    """Read each request's body whole before the app runs, then hand it on from memory.

    Refused before the app runs: a body over MAX_BODY_BYTES (413, counted as the bytes arrive,
    so a body without Content-Length is bounded too), a non-JSON body on the API (415), a body
    that has not arrived within `timeout_s` of the headers (408, and the connection is
    closed). A client that goes away mid-body is one line in the log, at INFO.
    """

    def __init__(self, app: ASGIApp, *, timeout_s: float = DEFAULT_BODY_TIMEOUT_S) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if not _has_body(headers):
            await self.app(scope, receive, send)
            return
        problem = _check_headers(scope["method"].encode(), scope["path"], headers)
        if problem is not None:
            await _send_problem(problem, send)
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                body = await _read_body(receive)
        except TimeoutError:
            metrics.REQUESTS_CUT_OFF.labels(reason="body_timeout").inc()
            log.info("request body not complete after %gs: %s", self.timeout_s, _request(scope))
            await _send_problem(
                RequestTimeout(f"the request body did not arrive within {self.timeout_s:g} s"),
                send,
            )
            return
        except _BodyTooLarge:
            await _send_problem(_too_large(), send)
            return
        except _ClientGone:
            metrics.REQUESTS_CUT_OFF.labels(reason="client_gone").inc()
            log.info("client went away before its request body was complete: %s", _request(scope))
            return
        await self.app(scope, _replay(body, receive), send)


def _has_body(headers: dict[bytes, bytes]) -> bool:
    length = headers.get(b"content-length")
    return (length is not None and length.strip(b"0 ") != b"") or b"transfer-encoding" in headers


def _check_headers(method: bytes, path: str, headers: dict[bytes, bytes]) -> Problem | None:
    length = headers.get(b"content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        return _too_large()
    if method in _BODY_METHODS and path.startswith("/api/"):
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media != b"application/json" and not media.endswith(b"+json"):
            return UnsupportedMediaType("send the body as JSON with Content-Type: application/json")
    return None


async def _read_body(receive: Receive) -> bytes:
    """The whole body, or _BodyTooLarge past MAX_BODY_BYTES, or _ClientGone."""
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientGone
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > MAX_BODY_BYTES:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body read, then whatever the server says next (a disconnect)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _request(scope: Scope) -> str:
    client = scope.get("client")
    where = f" from {client[0]}" if client else ""
    return f"{scope['method']} {scope['path']}{where}"


def _too_large() -> PayloadTooLarge:
    metrics.REQUESTS_CUT_OFF.labels(reason="body_too_large").inc()
    return PayloadTooLarge(f"request bodies are limited to {MAX_BODY_BYTES} bytes")


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


async def _send_problem(problem: Problem, send: Send) -> None:
    """Answer with the problem and close the connection: what is left of the body is unread."""
    from rollcall.problems import problem_response

    response = problem_response(problem)
    headers = [*response.raw_headers, (b"connection", b"close")]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
