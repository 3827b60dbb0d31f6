"""A thousand phones beating every second cost about one UPDATE a flush, and no beat is lost."""

from __future__ import annotations

import asyncio
import resource
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.factories import create_event, join
from tests.pg import PgServer
from tests.realtime.client import Socket
from tests.servers import rollcall_server

PHONES = 1_000
SOAK_S = 30
BEAT_S = 1.0
FLUSH_S = 1.0

# A statement-level trigger counts every UPDATE statement that sets last_heartbeat: the
# database's own count, whoever sends the statement.
COUNTER = """
CREATE TABLE heartbeat_statements (n bigint NOT NULL);
INSERT INTO heartbeat_statements VALUES (0);
CREATE FUNCTION count_heartbeat_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE heartbeat_statements SET n = n + 1; RETURN NULL; END $$;
CREATE TRIGGER count_heartbeat_statements AFTER UPDATE OF last_heartbeat ON event_participants
FOR EACH STATEMENT EXECUTE FUNCTION count_heartbeat_statement();
"""


def _statements(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT n FROM heartbeat_statements").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.slow
async def test_a_thousand_phones_beating_each_second_make_one_update_per_flush(
    pg: PgServer, tmp_path: Path
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    with pg.fresh_database(migrated=True) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(COUNTER)
        with rollcall_server(
            url,
            tmp_path,
            heartbeat_interval_s=BEAT_S,
            heartbeat_flush_s=FLUSH_S,
            presence_timeout_s=5,
            presence_sweep_s=1,
        ) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
                event = await create_event(http, capacity=PHONES)
                limit = asyncio.Semaphore(50)

                async def token() -> str:
                    async with limit:
                        return str((await join(http, event.code)).json()["session_token"])

                tokens = await asyncio.gather(*(token() for _ in range(PHONES)))

            async def connect(t: str) -> Socket:
                async with limit:
                    socket = await Socket.open(server.ws_url, {"type": "hello", "token": t})
                    assert (await socket.next(15))["type"] == "welcome"
                    return socket

            phones = await asyncio.gather(*(connect(t) for t in tokens))
            stop_at = time.monotonic() + SOAK_S + 2

            async def beat(socket: Socket, offset: float) -> None:
                await asyncio.sleep(offset)
                while time.monotonic() < stop_at:
                    await socket.send({"type": "heartbeat"})
                    assert (await socket.next(10))["type"] == "ack"
                    await asyncio.sleep(BEAT_S)

            beating = asyncio.gather(*(beat(s, i * BEAT_S / PHONES) for i, s in enumerate(phones)))
            await asyncio.sleep(2)  # every phone has beaten at least once
            before, started = _statements(url), time.monotonic()
            await asyncio.sleep(SOAK_S)
            after, elapsed = _statements(url), time.monotonic() - started
            with psycopg.connect(url) as conn:
                lag, offline = conn.execute(
                    "SELECT extract(epoch FROM max(now() - last_heartbeat)),"
                    " count(*) FILTER (WHERE reported_presence <> 'online')"
                    " FROM event_participants"
                ).fetchone()  # type: ignore[misc]
            await beating
            await asyncio.gather(*(s.close() for s in phones))

    statements = after - before
    print(
        f"\n{PHONES} phones, {elapsed:.1f} s: {statements} heartbeat UPDATE statements, max lag {lag:.2f} s"
    )
    assert statements <= elapsed / FLUSH_S + 2, statements
    assert statements >= elapsed / FLUSH_S / 2, "the beats did reach the database"
    assert float(lag) <= BEAT_S + FLUSH_S + 0.5
    assert offline == 0
