"""A real webhook receiver on loopback (http.server in threads), whose behaviour a test sets.

It records every request it answers. `mode` says how it answers: "ok" (204), "fail" (500),
"hang" (never answers), "redirect" (302 elsewhere), "huge" (a 1 GB body), "slow" (ok, after
`delay_s`). stop() closes the port, so deliveries are refused, and start() opens it again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from tests.polling import eventually
from tests.servers import free_port

HUGE_BYTES = 1 << 30
CHUNK = b"\0" * 65536


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    def verify(self, secret: str) -> dict[str, Any]:
        """The payload, if the signature is valid for this secret (Standard Webhooks' verifier)."""
        data: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return data


class Receiver:
    def __init__(self, mode: str = "ok", *, delay_s: float = 0.0) -> None:
        self.mode = mode
        self.delay_s = delay_s
        self.port = free_port()
        self.received: list[Received] = []
        self.huge_bytes_sent = 0
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                receiver._answer(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._release.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port: from now on connections are refused. Hanging answers end."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        record = Received(
            handler.path, {k.lower(): v for k, v in handler.headers.items()}, body, time.time()
        )
        with self._lock:
            self.received.append(record)
        mode = self.mode
        if mode == "slow":
            time.sleep(self.delay_s)
        if mode in ("ok", "slow"):
            handler.send_response(204)
            handler.end_headers()
        elif mode == "fail":
            _reply(handler, 500, b"receiver is broken")
        elif mode == "redirect":
            handler.send_response(302)
            handler.send_header("Location", f"http://127.0.0.1:{self.port}/redirected")
            handler.end_headers()
        elif mode == "hang":
            self._release.wait()
        elif mode == "huge":
            handler.send_response(500)
            handler.send_header("Content-Length", str(HUGE_BYTES))
            handler.end_headers()
            try:
                for _ in range(HUGE_BYTES // len(CHUNK)):
                    handler.wfile.write(CHUNK)
                    with self._lock:
                        self.huge_bytes_sent += len(CHUNK)
            except OSError:
                pass  # the client hung up, as it should

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    async def until(
        self, predicate: Callable[[list[Received]], bool], *, timeout: float, what: str
    ) -> list[Received]:
        """The requests so far, once the predicate holds of them (within the deadline)."""

        async def held() -> tuple[list[Received]] | None:
            got = self.snapshot()
            return (got,) if predicate(got) else None  # a tuple: true even when `got` is empty

        try:
            return (await eventually(held, timeout=timeout, what=what))[0]
        except AssertionError as late:
            got = len(self.snapshot())
            raise TimeoutError(f"{what}: not within {timeout} s; got {got} requests") from late


def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def first_of_each(received: list[Received]) -> list[Received]:
    """The first delivery of each webhook-id, in the order they arrived."""
    seen: set[str] = set()
    firsts = []
    for request in received:
        if request.webhook_id not in seen:
            seen.add(request.webhook_id)
            firsts.append(request)
    return firsts
