"""Tools for the tests that interrupt work holding pooled connections: an app served in this
process, sockets and requests driven through its ASGI interface, and the clean-pool check."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from rollcall.app import create_app
from rollcall.db import pool as db_pool
from rollcall.db.pool import borrow, unclean
from rollcall.runtime import Runtime, runtime_of
from rollcall.settings import Settings
from tests.factories import HostedEvent, create_event, join

BASE_URL = "http://rollcall.test"
HEADERS = [(b"host", b"rollcall.test"), (b"origin", BASE_URL.encode())]


@dataclass
class Served:
    """The app in this process, its runtime, and an HTTP client through its ASGI interface."""

    app: FastAPI
    runtime: Runtime
    http: httpx.AsyncClient
    database_url: str

    @property
    def pool(self) -> asyncpg.Pool[Any]:
        return self.runtime.pool


@asynccontextmanager
async def served(settings: Settings, database_url: str) -> AsyncIterator[Served]:
    app = create_app(settings, database_url=database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, timeout=10) as http:
            yield Served(app, runtime_of(app), http, database_url)


@dataclass
class AsgiSocket:
    """One /ws connection, driven straight through the app: what it is sent, what it sent."""

    app: FastAPI
    inbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    sent: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def run(self, hello: dict[str, Any]) -> asyncio.Task[None]:
        """Connect and say hello; the socket's handler, as a task."""
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": "/ws",
            "raw_path": b"/ws",
            "query_string": b"",
            "headers": HEADERS,
            "client": ("127.0.0.1", 40000),
            "server": ("rollcall.test", 80),
            "subprotocols": [],
        }
        self.inbox.put_nowait({"type": "websocket.connect"})
        self.say(hello)
        return asyncio.create_task(self.app(scope, self.inbox.get, self._send))

    def say(self, message: dict[str, Any]) -> None:
        self.inbox.put_nowait({"type": "websocket.receive", "text": json.dumps(message)})

    def hang_up(self) -> None:
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": 1001})

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        if message.get("text") is not None:
            self.sent.append(json.loads(message["text"]))
        elif message["type"] == "websocket.close":
            self.sent.append({"closed": message.get("code")})
        self.arrived.set()

    async def first(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The first message of this type (or a close), within the deadline."""
        async with asyncio.timeout(timeout):
            while True:
                for message in self.sent:
                    if message.get("type") == kind or "closed" in message:
                        return message
                self.arrived.clear()
                await self.arrived.wait()


async def host_hello(app: FastAPI, event: HostedEvent) -> dict[str, Any]:
    """A host's hello, up to its welcome (or close), then the host hangs up."""
    socket = AsgiSocket(app)
    task = socket.run(
        {"type": "hello", "role": "host", "event": event.code, "token": event.host_token}
    )
    try:
        return await socket.first("welcome")
    finally:
        socket.hang_up()
        await asyncio.wait_for(task, 10)


async def interrupt(
    work: Callable[[], Awaitable[object]], rng: random.Random, *, within_s: float
) -> None:
    """Start `work`, cancel it at a point drawn from `rng`, and wait until it has ended.

    The point is a number of event-loop turns (the awaits it passes that do not wait) or a
    time within `within_s` (its statements in flight); sometimes it is cancelled again a few
    turns later, as a task group cancels at every await until it is done.
    """
    task = asyncio.ensure_future(work())
    if rng.random() < 0.4:
        for _ in range(rng.randrange(40)):
            await asyncio.sleep(0)
    else:  # from a millisecond to the whole: early points as likely as late ones
        await asyncio.sleep(within_s * 10 ** rng.uniform(-3, 0))
    task.cancel()
    if rng.random() < 0.3:
        for _ in range(rng.randrange(1, 6)):
            await asyncio.sleep(0)
        task.cancel()
    with suppress(BaseException):
        await task


async def idle_in_transaction(database_url: str, deadline_s: float = 5.0) -> list[str]:
    """The app's backends of this database still idle in a transaction after the deadline
    (those of work that is merely between two statements finish well within it)."""
    conn = await asyncpg.connect(database_url)
    try:
        loop = asyncio.get_running_loop()
        until = loop.time() + deadline_s
        while True:
            rows = await conn.fetch(
                """SELECT pid, state, left(query, 80) AS query FROM pg_stat_activity
                WHERE datname = current_database() AND application_name = 'rollcall'
                AND state LIKE 'idle in transaction%'"""
            )
            if not rows or loop.time() > until:
                return [f"{r['pid']} {r['state']}: {r['query']}" for r in rows]
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


class Borrowers:
    """Other work on the pool while tasks are interrupted: short transactions, one after
    another, in a few tasks; every failure is kept."""

    def __init__(self, pool: asyncpg.Pool[Any], tasks: int = 3) -> None:
        self._pool = pool
        self._tasks = [asyncio.create_task(self._borrow()) for _ in range(tasks)]
        self.failures: list[str] = []
        self.done = 0

    async def _borrow(self) -> None:
        while True:
            try:
                async with borrow(self._pool, wait_s=5) as conn, conn.transaction():
                    await conn.fetchval("SELECT count(*) FROM events")
                    await conn.fetchval("SELECT 1")
                self.done += 1
            except Exception as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(0.001)

    async def stop(self) -> list[str]:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return self.failures


async def assert_clean(app_served: Served) -> None:
    """The pool is clean: no backend left inside a transaction, every pooled connection
    answers, and a host hello, a join and a heartbeat flush all succeed."""
    stuck = await idle_in_transaction(app_served.database_url)
    assert not stuck, f"left idle in transaction: {stuck}"
    problems = await unclean(app_served.pool)
    assert not problems, problems
    event = await create_event(app_served.http, title="After")
    welcome = await host_hello(app_served.app, event)
    assert welcome.get("type") == "welcome", welcome
    joined = await join(app_served.http, event.code)
    assert joined.status_code == 201, joined.text
    participant = joined.json()["participant"]["id"]
    heartbeats = app_served.runtime.heartbeats
    heartbeats.beat(uuid.UUID(participant))
    assert await heartbeats.flush() >= 1


def slow_driver(monkeypatch: pytest.MonkeyPatch, rng: random.Random) -> None:
    """Every prepared statement of the pool's connections, now and then, has a short statement
    in flight on the server before it and a pause after it (a transaction left open between
    two statements): more moments where a cancellation can land."""
    original = db_pool._PooledConnection._execute

    async def _execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        if rng.random() < 0.5:
            await self.execute("SELECT pg_sleep(0.002)")
        result = await original(self, *args, **kwargs)
        if rng.random() < 0.5:
            await asyncio.sleep(0.002)
        return result

    monkeypatch.setattr(db_pool._PooledConnection, "_execute", _execute)
