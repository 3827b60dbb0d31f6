"""The HTTP/1.1 protocol `rollcall serve` runs: uvicorn's, with a deadline and a size bound on
each request's header block.

uvicorn bounds neither: a client that sends its headers one byte every few seconds, or a
connection that sends nothing at all, is kept for as long as it likes, and httptools (llhttp)
accepts header blocks of any size. Here the header block must arrive within
`ROLLCALL_HEADER_TIMEOUT_S` of the request's first byte (or of the connection, for its first
request): otherwise 408 and the connection is closed, or only closed when nothing came. A
target and header fields over `ROLLCALL_MAX_HEADER_BYTES` are answered 431 and the connection
closed. A request answered before its body has arrived closes its connection. The body's own
deadline is `limits.BodyGuard`'s, in the app.
"""

from __future__ import annotations

import asyncio
from asyncio import TimerHandle
from functools import lru_cache
from typing import Any, ClassVar, NamedTuple

from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from rollcall import metrics
from rollcall.errors import HeadersTooLarge, Problem, RequestTimeout
from rollcall.settings import get_settings

PROTOCOL = "rollcall.httpprotocol:GuardedHttpProtocol"
"""What `rollcall serve` gives uvicorn as `http=`: each worker process imports it by name."""


class HeaderLimits(NamedTuple):
    timeout_s: float
    max_bytes: int


@lru_cache(maxsize=1)
def _limits_from_settings() -> HeaderLimits:
    settings = get_settings()
    return HeaderLimits(settings.header_timeout_s, settings.max_header_bytes)


LINGER_S = 2.0
"""How long a connection ended after an early answer still reads, and drops, what the client
sends (as a web server's lingering close): long enough for the answer to reach the client and
its bytes in flight to arrive; a trickler costs its socket no longer than that."""


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; each request's header block is bounded in time and size."""

    limits: ClassVar[HeaderLimits | None] = None
    """None: from the settings (the environment), read once per process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = self.limits or _limits_from_settings()
        self._header_deadline: TimerHandle | None = None
        self._header_bytes = 0
        self._in_headers = False
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._in_headers = True
        self._arm()

    def on_url(self, url: bytes) -> None:
        if self._counted(len(url)):
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._counted(len(name) + len(value)):
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._in_headers = False
        if not self._refused:
            super().on_headers_complete()
            if self.cycle is not None:
                self.cycle.__class__ = OneWriteCycle

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def on_response_complete(self) -> None:
        if self.cycle is not None and self.cycle.more_body:
            # Answered before its body had arrived (a 421 for a foreign Host, say): the rest
            # of the body could keep the connection for as long as it trickled in.
            self._close_after_answer()
        super().on_response_complete()

    def _counted(self, size: int) -> bool:
        """Count header bytes; False (and 431 sent) once they pass the limit."""
        if self._refused:
            return False
        self._header_bytes += size
        if self._header_bytes <= self._limits.max_bytes:
            return True
        self._disarm()
        metrics.REQUESTS_CUT_OFF.labels(reason="headers_too_large").inc()
        self._refuse(
            HeadersTooLarge(
                f"the request target and header fields are limited to {self._limits.max_bytes}"
                " bytes"
            )
        )
        return False

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(
                self._limits.timeout_s, self._on_header_deadline
            )

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _on_header_deadline(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        if not self._in_headers:
            self._refused = True
            self.transport.close()  # a connection that sent nothing
            return
        metrics.REQUESTS_CUT_OFF.labels(reason="header_timeout").inc()
        timeout = self._limits.timeout_s
        self._refuse(RequestTimeout(f"the request headers did not arrive within {timeout:g} s"))

    def _refuse(self, problem: Problem) -> None:
        """Answer with the problem as problem+json and close the connection."""
        from rollcall.problems import problem_response

        self._refused = True
        response = problem_response(problem)
        headers = [
            *self.server_state.default_headers,
            *response.raw_headers,
            (b"connection", b"close"),
        ]
        lines = [STATUS_LINE[problem.status]]
        for name, value in headers:
            lines.extend([name, b": ", value, b"\r\n"])
        lines.extend([b"\r\n", bytes(response.body)])
        self.transport.write(b"".join(lines))
        self._close_after_answer()

    def _close_after_answer(self) -> None:
        """End the connection once the answer is out, without losing the answer.

        Closing a socket that holds bytes the client sent and nobody read makes the kernel
        reset the connection, and a reset can reach the client before it has read the answer
        (it sees "connection reset" instead of the 408, 421 or 431). So: end the sending side
        after the answer (FIN), keep reading and dropping what still comes, and close after
        LINGER_S, or earlier when the client closes.
        """
        self._refused = True
        self._disarm()
        if not self.transport.can_write_eof():  # TLS: no half-close
            self.transport.close()
            return
        self.transport.write_eof()
        self.transport.resume_reading()
        self.loop.call_later(LINGER_S, self.transport.close)


class _Held:
    """A stand-in transport that keeps what is written to it."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


class _AfterHead:
    """The connection's transport, which writes the held head with the first bytes after it."""

    def __init__(self, transport: asyncio.Transport, head: bytes) -> None:
        self._transport = transport
        self.head: bytes | None = head

    def write(self, data: bytes) -> None:
        head, self.head = self.head, None
        self._transport.write(data if head is None else head + data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteCycle(RequestResponseCycle):
    """uvicorn's request-response cycle, which writes a response's head together with its
    body: one write (one packet) instead of two for an answer sent whole, as the API's are."""

    _head: bytes | None = None

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start" and not self.response_started:
            transport, held = self.transport, _Held()
            self.transport = held  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = transport
            self._head = held.data
            return
        head, self._head = self._head, None
        if head is None:
            await super().send(message)
            return
        if self.scope["method"] == "HEAD" or not message.get("body"):
            self.transport.write(head)  # nothing written after it: the head alone, now
            await super().send(message)
            return
        transport, after = self.transport, _AfterHead(self.transport, head)
        self.transport = after  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = transport
            if after.head is not None and not transport.is_closing():
                transport.write(after.head)  # the body was refused before it was written
