"""Revision room_to_update: a participant's row is rewritten in place (a HOT update, no index
touched) when its receipts, heartbeats or presence are written, because its page has room."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from rollcall.live.receipts import ReceiptBuffer
from tests.factories import create_event, join

PHONES = 120

BLOCKS = """
SELECT id, (ctid::text::point)[0]::bigint AS block
FROM event_participants WHERE event_id = (SELECT id FROM events WHERE code = $1)
ORDER BY join_timestamp, id
"""


async def test_a_flush_of_receipts_leaves_the_rows_on_their_pages(
    client: httpx.AsyncClient, database_url: str
) -> None:
    event = await create_event(client, capacity=PHONES)
    for answer in await asyncio.gather(*(join(client, event.code) for _ in range(PHONES))):
        assert answer.status_code == 201, answer.text
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            before = {r["id"]: r["block"] for r in await conn.fetch(BLOCKS, event.code)}
        # Every other phone reports, as one of two processes holding half the sockets would.
        reported = list(before)[::2]
        buffer = ReceiptBuffer(pool, flush_interval_s=0.5)
        for participant_id in reported:
            buffer.seen(participant_id, event_version=1, version=0)
        assert await buffer.flush() == len(reported)
        async with pool.acquire() as conn:
            after = {r["id"]: r["block"] for r in await conn.fetch(BLOCKS, event.code)}
            seen = await conn.fetchval(
                "SELECT count(*) FROM event_participants WHERE id = ANY($1::uuid[])"
                " AND seen_event_version = 1",
                reported,
            )
    finally:
        await pool.close()
    assert seen == len(reported)
    stayed = sum(after[participant_id] == before[participant_id] for participant_id in reported)
    # Pages packed full move every row (0 of 60 stayed); these keep some 85 %.
    assert stayed >= 0.75 * len(reported), f"{stayed} of {len(reported)} rows stayed on their page"
