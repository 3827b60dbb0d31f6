"""A lean HTTP/1.1 and WebSocket client on asyncio protocols, cheap enough not to starve the server.

A load generator on the same two cores as the server must spend as little CPU per request as it
can: this one writes requests as prepared bytes, parses only the status line and Content-Length
of HTTP answers, and speaks WebSocket framing itself (RFC 6455: masked client frames, pong to
ping, close handshake), with no extension negotiated. It runs on uvloop in the worker processes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Callable
from typing import Any

from rollcall.protocol import Close

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CLOSED_ABNORMALLY = 1006


class Wire(asyncio.Protocol):
    """One TCP connection: HTTP requests one at a time, then, after a 101, WebSocket frames."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.websocket = False
        self.on_message: Callable[[bytes], None] | None = None
        self.on_close: Callable[[int], None] | None = None
        self.close_code: int | None = None
        self.closed = False
        self._key = os.urandom(4)
        self._fragments: list[bytes] = []

    # --- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.websocket:
            self._read_frames()
        else:
            self._read_response()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))
        if self.websocket and self.on_close is not None:
            callback, self.on_close = self.on_close, None
            callback(self.close_code or CLOSED_ABNORMALLY)

    # --- HTTP

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Send one prepared request; the future gets (status, body)."""
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    def _read_response(self) -> None:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        status = int(buf[9:12])
        head = bytes(buf[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        length = 0
        if at >= 0:
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : stop if stop > 0 else len(head)])
        if status == 101:
            length = 0
        if len(buf) < end + 4 + length:
            return
        body = bytes(buf[end + 4 : end + 4 + length])
        del buf[: end + 4 + length]
        waiter, self.waiter = self.waiter, None
        if status == 101:
            self.websocket = True
        if not waiter.done():
            waiter.set_result((status, body))
        if self.websocket and buf:
            self._read_frames()

    # --- WebSocket

    def send_text(self, text: str) -> None:
        self.send_frame(OP_TEXT, text.encode())

    def send_frame(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
        self.transport.write(head + self._key + _mask(payload, self._key))

    def close(self, code: int = Close.NORMAL) -> None:
        """Start the closing handshake; the server's close frame (or its FIN) finishes it."""
        if self.transport is None or self.transport.is_closing():
            return
        if self.websocket:
            self.send_frame(OP_CLOSE, code.to_bytes(2, "big"))
            asyncio.get_running_loop().call_later(2, self.abort)
        else:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()

    def _read_frames(self) -> None:
        buf = self.buf
        while len(buf) >= 2:
            size = buf[1] & 0x7F
            offset = 2
            if size == 126:
                if len(buf) < 4:
                    return
                size = int.from_bytes(buf[2:4], "big")
                offset = 4
            elif size == 127:
                if len(buf) < 10:
                    return
                size = int.from_bytes(buf[2:10], "big")
                offset = 10
            if len(buf) < offset + size:
                return
            fin = buf[0] & 0x80
            opcode = buf[0] & 0x0F
            payload = bytes(buf[offset : offset + size])
            del buf[: offset + size]
            if opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                if not fin:
                    self._fragments.append(payload)
                    continue
                if self._fragments:
                    payload = b"".join([*self._fragments, payload])
                    self._fragments = []
                if self.on_message is not None:
                    self.on_message(payload)
            elif opcode == OP_PING:
                self.send_frame(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.send_frame(OP_CLOSE, payload[:2])
                if self.transport is not None:
                    self.transport.close()
                return


def _mask(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    if n == 0:
        return b""
    keys = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(keys, "little")).to_bytes(
        n, "little"
    )


SOURCE: list[str] = []
"""The loopback address this process's connections come from; none: the kernel's choice."""


def use_source_address(address: str) -> None:
    """Connect from this loopback address (127.0.0.x): each source address has its own
    28,000 ephemeral ports, and the servers count their per-address socket cap by it."""
    SOURCE[:] = [address]


async def connect(port: int, *, limit_s: float = 10) -> Wire:
    loop = asyncio.get_running_loop()
    local = (SOURCE[0], 0) if SOURCE else None
    _, wire = await asyncio.wait_for(
        loop.create_connection(Wire, "127.0.0.1", port, local_addr=local), limit_s
    )
    return wire


def post_json(port: int, path: str, body: dict[str, Any], *, token: str | None = None) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def upgrade_request(port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def open_websocket(
    port: int,
    hello: dict[str, Any],
    *,
    on_message: Callable[[bytes], None],
    on_close: Callable[[int], None] | None = None,
    limit_s: float = 10,
) -> Wire:
    """Connect, upgrade and say hello; every message from then on goes to on_message."""
    wire = await connect(port, limit_s=limit_s)
    wire.on_message = on_message
    wire.on_close = on_close
    try:
        status, body = await asyncio.wait_for(wire.request(upgrade_request(port)), limit_s)
    except BaseException:
        wire.abort()
        raise
    if status != 101:
        wire.abort()
        raise ConnectionError(f"upgrade answered {status}: {body[:200]!r}")
    wire.send_text(json.dumps(hello, separators=(",", ":")))
    return wire
