"""Apps of one fleet for the tests of the shared rate limits: each its own RateLimits, counting
in the storage given (a Redis, or a relay to it that a test cuts)."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI

from rollcall.app import create_app
from rollcall.settings import Settings
from tests.servers import UNLIMITED, free_port


@asynccontextmanager
async def fleet_app(database_url: str, data_dir: Path, **settings: str) -> AsyncIterator[FastAPI]:
    """One app (one process's worth: its own limits) started on `database_url`."""
    app = create_app(
        Settings(database_url=None, data_dir=data_dir, **{**UNLIMITED, **settings}),  # type: ignore[arg-type]
        database_url=database_url,
    )
    async with app.router.lifespan_context(app):
        yield app


def some_address() -> str:
    """A client address of its own for each test (198.18.0.0/15, for benchmarks), so that
    counts left in the shared Redis by an earlier run never reach it."""
    return f"198.{18 + secrets.randbelow(2)}.{secrets.randbelow(256)}.{secrets.randbelow(256)}"


async def create_event(app: FastAPI, address: str) -> int:
    """An event created from `address`: its status code (201, or 429 with a Retry-After)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        answer = await http.post("/api/events", json={"title": "Fleet"})
    assert answer.status_code in (201, 429), answer.text
    if answer.status_code == 429:
        assert int(answer.headers["Retry-After"]) >= 1
    return answer.status_code


class Relay:
    """A TCP relay in front of Redis that the test cuts and restores, as a Redis that goes away
    and comes back would be: its connections reset, new ones refused, then served again."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._streams: set[asyncio.StreamWriter] = set()
        self._stalled = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def open(self) -> None:
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(5)

    def cut(self) -> None:
        asyncio.run_coroutine_threadsafe(self._cut(), self._loop).result(5)

    def stall(self) -> None:
        """From now on connections are taken and never answered, as by a Redis that hangs."""
        asyncio.run_coroutine_threadsafe(self._stall(), self._loop).result(5)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shut(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _shut(self) -> None:
        await self._cut()
        running = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def _open(self) -> None:
        self._server = await asyncio.start_server(
            self._relay, "127.0.0.1", self.port, reuse_address=True
        )

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for stream in self._streams:
            stream.transport.abort()
        self._streams.clear()

    async def _stall(self) -> None:
        self._stalled = True
        await self._cut()
        await self._open()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._stalled:
            self._streams.add(writer)
            while await reader.read(65536):
                pass
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._streams |= {writer, up_writer}
        await asyncio.gather(
            _copy(reader, up_writer), _copy(up_reader, writer), return_exceptions=True
        )


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
