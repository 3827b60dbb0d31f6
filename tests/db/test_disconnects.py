"""A client that hangs up in the middle of a request leaves the pool clean.

uvicorn serves the app in this process, on loopback, so that the runtime's pool can be looked
at afterwards. Phones cut their join at every stage (request line, headers, part of the body,
the whole body and no wait for the answer) and their socket at every stage of the hello, at
seeded moments, while other phones join; then the pool is as clean as after a cancellation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
import websockets

from rollcall.settings import Settings
from tests.db.pooltools import Served, assert_clean, served
from tests.factories import HostedEvent, create_event, join, new_device
from tests.servers import UNLIMITED, free_port

SEED = 20261208
ROUNDS = 40


@pytest.fixture
async def listening(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[Served, int]]:
    """The app behind a real uvicorn on loopback (its lifespan runs the runtime), and its port."""
    settings = Settings(
        database_url=None,
        data_dir=tmp_path,
        public_url="http://rollcall.test",
        **UNLIMITED,
    )
    async with served(settings, database_url) as app:
        port = free_port()
        config = uvicorn.Config(
            app.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        try:
            yield app, port
        finally:
            server.should_exit = True
            await serving


def _join_request(event: HostedEvent) -> bytes:
    body = json.dumps({"device_id": new_device(), "display_name": f"Cut {random.random():.6f}"})
    head = (
        f"POST /api/events/{event.code}/join HTTP/1.1\r\n"
        "Host: rollcall.test\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body.encode()


async def _cut_join(port: int, event: HostedEvent, rng: random.Random) -> None:
    """A join that the phone abandons: it sends part of the request (or all of it), waits a
    moment drawn from `rng`, and hangs up, sometimes with a reset."""
    request = _join_request(event)
    head_end = request.index(b"\r\n\r\n") + 4
    cut = rng.choice([request.index(b"\r\n"), head_end, (head_end + len(request)) // 2])
    cut = len(request) if rng.random() < 0.5 else cut
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request[:cut])
    await writer.drain()
    await asyncio.sleep(rng.uniform(0, 0.02))
    if rng.random() < 0.5:
        writer.transport.abort()  # a reset, as a phone that lost its network
    else:
        writer.close()
    del reader


async def _cut_hello(port: int, hello: dict[str, object], rng: random.Random) -> None:
    """A socket that the phone abandons: before its hello, right after it, or a moment later."""
    socket = await websockets.connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5)
    stage = rng.random()
    if stage > 0.2:
        await socket.send(json.dumps(hello))
        if stage > 0.6:
            await asyncio.sleep(rng.uniform(0, 0.02))
    socket.transport.abort()


async def test_phones_hanging_up_mid_join_and_mid_hello_leave_the_pool_clean(
    listening: tuple[Served, int], caplog: pytest.LogCaptureFixture
) -> None:
    app, port = listening
    rng = random.Random(SEED)
    event = await create_event(app.http, title="Hang-ups")
    joined = await join(app.http, event.code)
    token = joined.json()["session_token"]
    host = {"type": "hello", "role": "host", "event": event.code, "token": event.host_token}
    phone = {"type": "hello", "token": token}
    caplog.set_level(logging.ERROR)

    async def others() -> list[int]:
        return [(await join(app.http, event.code)).status_code for _ in range(ROUNDS)]

    beside = asyncio.create_task(others())
    cuts = []
    for _ in range(ROUNDS):
        cuts.append(_cut_join(port, event, rng))
        cuts.append(_cut_hello(port, rng.choice([host, phone]), rng))
    await asyncio.gather(*cuts)
    assert set(await beside) == {201}, "the other phones joined"
    await assert_clean(app)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors
