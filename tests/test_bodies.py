"""Request bodies are read whole before any route or dependency runs: checked on every route.

A route written later, whatever its dependencies, cannot take a pooled connection while its
body is still arriving: each route that takes a body (and any that might be sent one) is
driven with a body that never completes, and the pool must not have been asked for anything.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rollcall.app import create_app
from rollcall.runtime import runtime_of
from rollcall.settings import Settings
from tests.factories import create_event, join

WITH_BODIES = {"POST", "PUT", "PATCH", "DELETE"}


class CountingPool:
    """The runtime's pool, counting what routes and their dependencies acquire."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self.acquired = 0

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        self.acquired += 1
        return self._pool.acquire(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


@pytest.fixture
async def app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


def _scope(method: str, path: str, token: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"rollcall.test"),
            (b"content-type", b"application/json"),
            (b"content-length", b"64"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("rollcall.test", 80),
        "state": {},
    }


async def _while_the_body_trickles(app: FastAPI, scope: dict[str, Any]) -> bool:
    """Drive one request whose body never completes; True once it waits for more body."""
    calls = 0
    waiting = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": b"{", "more_body": True}
        waiting.set()
        await asyncio.Event().wait()  # the rest of the body never comes
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        pass

    request = asyncio.create_task(app(scope, receive, send))
    waited = asyncio.create_task(waiting.wait())
    await asyncio.wait({request, waited}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    reached = waiting.is_set()
    for task in (request, waited):
        task.cancel()
    await asyncio.gather(request, waited, return_exceptions=True)
    return reached


async def test_no_route_takes_a_connection_while_its_body_arrives(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rollcall.test") as client:
        event = await create_event(client)
        joined = (await join(client, event.code)).json()
    participant = joined["participant"]["id"]
    runtime = runtime_of(app)
    counting = CountingPool(runtime.pool)
    runtime.pool = counting  # type: ignore[assignment]
    routes = [
        (method.upper(), template)
        for template, operations in app.openapi()["paths"].items()
        for method in operations
        if method.upper() in WITH_BODIES
    ]
    assert len(routes) > 15
    taken: dict[str, int] = {}
    answered_unread: list[str] = []
    for method, template in routes:
        path = re.sub(
            r"\{(\w+)\}",
            lambda m: event.code if m[1] == "code" else participant if "id" in m[1] else "x",
            template,
        )
        # Host routes get the host's token, the others the participant's: every dependency
        # gets as far as it can.
        token = event.host_token if "/events/" in path else joined["session_token"]
        before = counting.acquired
        if not await _while_the_body_trickles(app, _scope(method, path, token)):
            answered_unread.append(f"{method} {template}")
        if counting.acquired != before:
            taken[f"{method} {template}"] = counting.acquired - before
    assert taken == {}, f"connections taken before the body had arrived: {taken}"
    assert answered_unread == [], "answered before the body had arrived"


async def test_a_client_gone_mid_body_is_one_quiet_line(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    messages = iter(
        [
            {"type": "http.request", "body": b'{"device_id": "', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> dict[str, Any]:
        return next(messages)

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rollcall.test") as client:
        event = await create_event(client)
    caplog.set_level(logging.DEBUG)
    path = f"/api/events/{event.code}/join"
    await app(_scope("POST", path, "none"), receive, send)
    assert sent == []
    lines = [record for record in caplog.records if record.levelno >= logging.INFO]
    assert [(r.name, r.levelname) for r in lines] == [("rollcall.bodies", "INFO")], lines
    assert "went away" in lines[0].getMessage()
    assert lines[0].exc_info is None
