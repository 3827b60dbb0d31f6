"""A broadcast goes out as one prepared frame: the same bytes for every phone, written at once."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any
from uuid import uuid4

import httpx
from starlette.websockets import WebSocket
from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.frames import Frame, Opcode

from rollcall.protocol import Role
from rollcall.realtime.connection import Connection, Encoded, encode
from rollcall.wsprotocol import MESSAGES, FramedWebSocketProtocol, text_frame
from tests.factories import create_event, join
from tests.realtime.test_live_channel import set_state
from tests.servers import RollcallServer
from tests.transports import RecordingTransport

# --- on the wire, from a real server


class RawPhone:
    """A phone that reads the server's frames as bytes, exactly as they arrive."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, server: RollcallServer, token: str) -> RawPhone:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101"), head
        phone = cls(reader, writer)
        hello = json.dumps({"type": "hello", "token": token}).encode()
        writer.write(Frame(Opcode.TEXT, hello).serialize(mask=True))
        return phone

    async def frame(self, timeout: float = 5) -> bytes:
        """The next frame, header and payload, as bytes."""
        head = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        size, extra = head[1] & 0x7F, b""
        if size == 126:
            extra = await self.reader.readexactly(2)
            size = int.from_bytes(extra)
        elif size == 127:
            extra = await self.reader.readexactly(8)
            size = int.from_bytes(extra)
        return head + extra + await self.reader.readexactly(size)

    async def until_type(self, kind: str, timeout: float = 5) -> bytes:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            raw = await self.frame(deadline - asyncio.get_running_loop().time())
            if raw[0] & 0x0F == Opcode.TEXT.value and json.loads(_payload(raw))["type"] == kind:
                return raw

    def close(self) -> None:
        self.writer.close()


def _payload(raw: bytes) -> bytes:
    size = raw[1] & 0x7F
    return raw[2 + {126: 2, 127: 8}.get(size, 0) :]


async def test_every_phone_gets_the_same_bytes_the_one_encoding_of_the_state(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    tokens = [(await join(http_a, event.code)).json()["session_token"] for _ in range(3)]
    phones = [await RawPhone.open(server_a, token) for token in tokens]
    try:
        for phone in phones:
            await phone.until_type("welcome")
        changed = await set_state(http_a, event, {"question": "Which?", "choices": ["A", "Ä"]})
        got = [await phone.until_type("event_state") for phone in phones]
        text = _payload(got[0]).decode()
        assert json.loads(text) == {"type": "event_state", "state": changed["state"], "version": 1}
        assert text == encode(json.loads(text))  # compact JSON, as every message is
        assert got == [text_frame(text)] * len(phones)  # one final text frame, byte for byte
    finally:
        for phone in phones:
            phone.close()


# --- in one process: the frame is written when nothing is ahead of it


async def _accepted() -> tuple[Connection, RecordingTransport, FramedWebSocketProtocol]:
    """A socket accepted by the protocol and a Connection on it (no writer task: nothing
    is sent unless `send` writes it itself)."""
    made: asyncio.Future[Connection] = asyncio.get_running_loop().create_future()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        made.set_result(Connection(websocket=websocket, role=Role.PARTICIPANT, event_id=uuid4()))
        while (await receive())["type"] != "websocket.disconnect":
            pass

    config = Config(app=app, lifespan="off", log_level="warning")
    config.load()
    transport = RecordingTransport()
    state = ServerState()
    protocol = FramedWebSocketProtocol(config, state, {})
    protocol.connection_made(transport)
    protocol.data_received(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    connection = await asyncio.wait_for(made, 5)
    transport.written.clear()  # the handshake's answer
    return connection, transport, protocol


async def _end(protocol: FramedWebSocketProtocol) -> None:
    protocol.connection_lost(None)
    await asyncio.wait_for(asyncio.gather(*protocol.tasks), 5)


async def test_a_shared_message_is_written_as_its_frame_at_once() -> None:
    connection, transport, protocol = await _accepted()
    shared = Encoded({"type": "event_state", "state": {"q": 1}, "version": 1})
    connection.send(shared)
    assert transport.written == [text_frame(shared.text)]
    assert connection.queue.empty()
    await _end(protocol)


async def test_a_shared_message_waits_behind_what_is_queued_or_a_full_transport() -> None:
    connection, transport, protocol = await _accepted()
    connection.send({"type": "ack"})  # its own message: queued for the writer task
    connection.send(Encoded({"type": "event_state", "state": {}, "version": 1}))
    assert transport.written == [] and connection.queue.qsize() == 2
    connection.queue = asyncio.Queue()
    connection.writing = True  # the writer holds a message
    connection.send(Encoded({"type": "event_state", "state": {}, "version": 2}))
    connection.writing = False
    protocol.pause_writing()
    connection.send(Encoded({"type": "event_state", "state": {}, "version": 3}))
    assert transport.written == [] and connection.queue.qsize() == 2
    await _end(protocol)


# --- the other way: a message the app takes as it is read


async def test_a_message_the_app_takes_skips_the_queue_and_never_overtakes_one_queued() -> None:
    connection, _, protocol = await _accepted()
    taken: list[bytes] = []

    def take(data: bytes) -> bool:
        if b"seen" in data:
            taken.append(bytes(data))
            return True
        return False

    connection.websocket.scope["extensions"][MESSAGES] = take
    # A queue the app does not read: what it did not take waits there.
    reading, protocol.queue = protocol.queue, asyncio.Queue()

    def client(text: str) -> bytes:
        return Frame(Opcode.TEXT, text.encode()).serialize(mask=True)

    protocol.data_received(client('{"type":"seen","event_version":1}'))
    assert taken == [b'{"type":"seen","event_version":1}'] and protocol.queue.empty()
    protocol.data_received(client('{"type":"heartbeat"}'))  # declined: to the queue
    protocol.data_received(client('{"type":"seen","event_version":2}'))  # behind it: queued too
    assert len(taken) == 1
    queued = [protocol.queue.get_nowait()["text"] for _ in range(protocol.queue.qsize())]
    assert queued == ['{"type":"heartbeat"}', '{"type":"seen","event_version":2}']
    protocol.queue = reading
    await _end(protocol)
