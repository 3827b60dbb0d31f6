"""The event log is the webhooks' outbox: trim never drops what an endpoint has not received."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from rollcall import event_log
from rollcall.db.pool import create_pool
from rollcall.events.service import EventRow, create_event
from rollcall.protocol import HostMessage
from rollcall.webhooks import service
from tests.pg import PgServer

KEEP = 100


@pytest.fixture
async def pool(pg: PgServer) -> AsyncIterator[asyncpg.Pool[Any]]:
    """A database of its own, with no rollcall process delivering anything."""
    with pg.fresh_database(migrated=True) as url:
        pool = await create_pool(url)
        try:
            yield pool
        finally:
            await pool.close()


async def append(conn: Any, event: EventRow, count: int) -> None:
    for _ in range(count):
        async with conn.transaction():
            await event_log.lock_event(conn, event_id=event.id)
            await event_log.append(
                conn,
                event_id=event.id,
                message={"type": HostMessage.EVENT_UPDATED, "event": {"code": event.code}},
            )


async def kept(conn: Any, event: EventRow) -> tuple[int, int]:
    record = await conn.fetchrow(
        "SELECT min(seq), max(seq) FROM event_log WHERE event_id = $1", event.id
    )
    return record[0], record[1]


async def test_trim_keeps_what_an_event_webhook_has_not_acknowledged(
    pool: asyncpg.Pool[Any],
) -> None:
    async with pool.acquire() as conn:
        event, _ = await create_event(conn, title="Quiz", capacity=10, max_capacity=10)
        await service.put_webhook(
            conn, event=event, url="http://127.0.0.1:9/", secret=None, allow_private=True
        )
        await append(conn, event, 300)
        key = service.StreamKey(
            await conn.fetchval("SELECT id FROM webhook_endpoints WHERE event_id = $1", event.id),
            event.id,
        )

        assert await event_log.trim(conn, keep=KEEP) == 0
        assert await kept(conn, event) == (1, 300)

        await service.record_progress(conn, key=key, cursor=service.Cursor(150), attempts=[])
        await event_log.trim(conn, keep=KEEP)
        assert await kept(conn, event) == (151, 300)  # beyond the cursor, all of it

        await service.record_progress(conn, key=key, cursor=service.Cursor(290), attempts=[])
        await event_log.trim(conn, keep=KEEP)
        assert await kept(conn, event) == (201, 300)  # the retention rules again


async def test_trim_keeps_what_the_global_endpoint_has_not_seen_and_lets_go_after_giving_up(
    pool: asyncpg.Pool[Any],
) -> None:
    async with pool.acquire() as conn:
        await service.sync_global(conn, url="http://127.0.0.1:9/")
        event, _ = await create_event(conn, title="Quiz", capacity=10, max_capacity=10)
        await append(conn, event, 250)
        await event_log.trim(conn, keep=KEEP)
        assert await kept(conn, event) == (1, 250)  # no cursor yet: every message is owed

        endpoint = await conn.fetchval("SELECT id FROM webhook_endpoints WHERE event_id IS NULL")
        key = service.StreamKey(endpoint, event.id)
        await service.record_progress(conn, key=key, cursor=service.Cursor(20), attempts=[])
        await event_log.trim(conn, keep=KEEP)
        assert await kept(conn, event) == (21, 250)

        gave_up = await conn.fetchval("SELECT now()")
        await service.record_progress(
            conn, key=key, cursor=service.Cursor(20, gave_up_at=gave_up), attempts=[]
        )
        await event_log.trim(conn, keep=KEEP)
        assert await kept(conn, event) == (151, 250)

        await service.sync_global(conn, url=None)  # unset: it holds nothing back any more
        await append(conn, event, 50)
        await event_log.trim(conn, keep=KEEP)
        assert await kept(conn, event) == (201, 300)
