"""Real `rollcall serve` processes, real webhook receivers on loopback, one database per test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from rollcall.webhooks.service import new_secret
from tests.pg import PgServer
from tests.servers import FAST
from tests.webhooks.receiver import Receiver

# The test servers' short timings, and webhooks retried within a second.
FAST_WEBHOOKS = {
    **FAST,
    "webhook_allow_private": "true",  # the receivers are on loopback
    "webhook_retry_base_s": 0.2,
    "webhook_retry_max_s": 1.0,
}


@pytest.fixture
def webhook_db(pg: PgServer) -> Iterator[str]:
    """A database of the test's own: the endpoint of ROLLCALL_WEBHOOK_URL sees every event."""
    with pg.fresh_database(migrated=True) as url:
        yield url


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def make(mode: str = "ok", **options: Any) -> Receiver:
        receiver = Receiver(mode, **options).start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def global_secret() -> str:
    return new_secret()


async def event_log_of(database_url: str, code: str) -> dict[int, dict[str, Any]]:
    """The event's stored messages by seq, read straight from PostgreSQL."""
    conn = await asyncpg.connect(database_url)
    try:
        records = await conn.fetch(
            """
            SELECT l.seq, l.message::text AS message FROM event_log AS l
            JOIN events AS e ON e.id = l.event_id WHERE e.code = $1 ORDER BY l.seq
            """,
            code,
        )
    finally:
        await conn.close()
    return {record["seq"]: json.loads(record["message"]) for record in records}
