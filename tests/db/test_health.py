"""GET /healthz tells whether the database answers."""

from __future__ import annotations

import socket
import time

import httpx

from rollcall.app import create_app
from rollcall.db.pool import create_pool
from rollcall.runtime import runtime_of
from rollcall.settings import Settings


async def test_healthz_is_ok_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_healthz_is_503_at_once_when_the_database_is_unreachable(
    settings: Settings, database_url: str
) -> None:
    app = create_app(settings, database_url=database_url)
    async with app.router.lifespan_context(app):
        await runtime_of(app).pool.close()
        nowhere = f"postgresql://postgres@127.0.0.1:{_closed_port()}/rollcall"
        runtime_of(app).pool = await create_pool(nowhere, min_size=0)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://rollcall.test"
        ) as client:
            started = time.monotonic()
            response = await client.get("/healthz")
            elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert elapsed < 3
