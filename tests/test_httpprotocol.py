"""The HTTP protocol `rollcall serve` runs writes an answer sent whole in one write: its head and
its body together (one packet, one system call), and a HEAD or streamed answer as before."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from rollcall.httpprotocol import GuardedHttpProtocol, HeaderLimits
from tests.transports import RecordingTransport

BODY = b'{"ok":true}'


async def whole(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


async def streamed(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"one", "more_body": True})
    await send({"type": "http.response.body", "body": b"two"})


async def _answer(app: Any, method: bytes, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """What the protocol wrote for one request to `app`."""
    monkeypatch.setattr(GuardedHttpProtocol, "limits", HeaderLimits(5.0, 8192))
    config = Config(app=app, lifespan="off", log_level="warning", access_log=False)
    config.load()
    transport = RecordingTransport()
    protocol = GuardedHttpProtocol(config, ServerState(), {})
    protocol.connection_made(transport)
    protocol.data_received(method + b" /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert protocol.cycle is not None
    await asyncio.wait_for(protocol.cycle.message_event.wait(), 5)
    await asyncio.sleep(0)
    protocol.connection_lost(None)
    return transport.written


async def test_an_answer_sent_whole_is_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    written = await _answer(whole, b"GET", monkeypatch)
    assert len(written) == 1, written
    assert written[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert written[0].endswith(b"\r\n\r\n" + BODY)


async def test_a_head_answer_is_its_head_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    written = await _answer(whole, b"HEAD", monkeypatch)
    assert len(written) == 1 and written[0].endswith(b"\r\n\r\n"), written
    assert b"content-length: 11" in written[0]


async def test_a_streamed_answer_still_arrives_whole_and_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = b"".join(await _answer(streamed, b"GET", monkeypatch))
    assert sent.startswith(b"HTTP/1.1 200 OK\r\n")
    assert sent.endswith(b"\r\n\r\n3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n")
