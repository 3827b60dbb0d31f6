"""The join batcher: joins that arrive a moment apart go in one batch; a lone join goes at once.

Each batch is one call of rollcall_join_many, one transaction: the rows it inserted share
their xmin, so the number of distinct xmins among some participants is the number of batches
that carried them.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from rollcall.db.pool import create_pool
from rollcall.participants import batch
from rollcall.participants.batch import BatchedJoin, JoinBatcher
from rollcall.participants.names import name_skeleton, normalize_display_name
from tests.factories import create_event

GATHER_S = 0.5
"""Generous, so that a busy machine still brings joins 5 ms apart within it."""
APART_S = 0.005


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool[Any]]:
    pool = await create_pool(database_url)
    try:
        yield pool
    finally:
        await pool.close()


def _join(code: str, name: str) -> BatchedJoin:
    display, key = normalize_display_name(name)
    token = hashlib.sha256(name.encode()).digest()
    return BatchedJoin(code, uuid4(), display, key, name_skeleton(display), token)


async def _batches(pool: asyncpg.Pool[Any], code: str, prefix: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(DISTINCT p.xmin::text) FROM event_participants AS p"
            " JOIN events AS e ON e.id = p.event_id"
            " WHERE e.code = $1 AND p.display_name LIKE $2",
            code,
            prefix + "%",
        )
    )


async def test_joins_a_moment_apart_after_a_batch_go_together(
    client: httpx.AsyncClient, pool: asyncpg.Pool[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "GATHER_S", GATHER_S, raising=False)
    monkeypatch.setattr(batch, "MAX_IN_FLIGHT", 1)  # so that the first burst is two batches
    code = (await create_event(client)).code
    batcher = JoinBatcher(pool)

    started = time.monotonic()
    assert (await batcher.join(_join(code, "Lone")))["outcome"] == "joined"
    assert time.monotonic() - started < GATHER_S, "an idle batcher sends a lone join at once"

    # Nine at once: the first goes alone (the last batch was one join), the rest together.
    burst = await asyncio.gather(*(batcher.join(_join(code, f"Burst{i}")) for i in range(9)))
    assert {row["outcome"] for row in burst} == {"joined"}
    assert await _batches(pool, code, "Burst") == 2

    # Eight answered: eight come back a moment apart, as clients do, and go as one batch.
    joins = []
    for i in range(8):
        joins.append(asyncio.create_task(batcher.join(_join(code, f"Again{i}"))))
        await asyncio.sleep(APART_S)
    assert {row["outcome"] for row in await asyncio.gather(*joins)} == {"joined"}
    assert await _batches(pool, code, "Again") == 1

    # Fewer than that: they go when GATHER_S has passed.
    assert (await batcher.join(_join(code, "Late")))["outcome"] == "joined"
