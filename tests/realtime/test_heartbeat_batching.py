"""A thousand phones beating every second cost about one UPDATE a flush, and no beat is lost."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.factories import create_event, join
from tests.pg import PgServer
from tests.polling import eventually
from tests.realtime.client import Socket, of_type
from tests.servers import RollcallServer, rollcall_server

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


async def _connections(url: str) -> int:
    """The sockets opened by the participants of the database, as written."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(connections), 0) FROM event_participants"
        ).fetchone()
    assert row is not None
    return int(row[0])


async def _statements_since(url: str, counted: int) -> int:
    return _statements(url) - counted


@contextlib.contextmanager
def counted(
    pg: PgServer, tmp_path: Path, **settings: float
) -> Iterator[tuple[str, RollcallServer]]:
    """A fresh database that counts its heartbeat statements (COUNTER), and a server on it."""
    with pg.fresh_database(migrated=True) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(COUNTER)
        with rollcall_server(url, tmp_path, **settings) as server:
            yield url, server


@pytest.mark.slow
async def test_a_thousand_phones_beating_each_second_make_one_update_per_flush(
    pg: PgServer, tmp_path: Path
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    with counted(
        pg,
        tmp_path,
        heartbeat_interval_s=BEAT_S,
        heartbeat_flush_s=FLUSH_S,
        presence_timeout_s=5,
        presence_sweep_s=1,
    ) as (url, server):
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


async def test_a_phones_receipts_write_its_heartbeat_at_most_every_half_interval(
    pg: PgServer, tmp_path: Path
) -> None:
    """Every message says the phone is there, but a burst of them (a receipt a second, answers)
    writes its row's heartbeat once per half interval, not once per flush: the explicit
    heartbeat still is written at once."""
    interval_s, flush_s = 4.0, 0.2
    with counted(
        pg,
        tmp_path,
        heartbeat_interval_s=interval_s,
        heartbeat_flush_s=flush_s,
        presence_timeout_s=10,
    ) as (url, server):
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            event = await create_event(http)
            token = (await join(http, event.code)).json()["session_token"]
            changed = await http.patch(
                f"/api/events/{event.code}/state", json={"q": 1}, headers=event.host_headers
            )
            assert changed.status_code == 200, changed.text
        socket = await Socket.open(server.ws_url, {"type": "hello", "token": token})
        assert (await socket.next(10))["type"] == "welcome"
        await eventually(lambda: _connections(url), what="the socket's opening written")
        before = _statements(url)
        for _ in range(16):  # one receipt a flush interval, for 3.2 s
            await socket.send({"type": "seen", "event_version": 1})
            await asyncio.sleep(flush_s)
        # What did not happen has no event to wait for: two flush intervals for any beat the
        # last receipts would have put.
        await asyncio.sleep(2 * flush_s)
        during = _statements(url) - before
        await socket.send({"type": "heartbeat"})
        assert (await socket.until(of_type("ack"), timeout=5))["type"] == "ack"
        after_beat = await eventually(
            lambda: _statements_since(url, before + during), what="the heartbeat written"
        )
        await socket.close()
    # One beat once half the interval (2 s) is over, and perhaps the socket's own arrival
    # (presence is paced); each receipt's beat was written before, one a flush.
    assert during <= 2, f"{during} heartbeat statements for 16 receipts over 3.2 s"
    assert after_beat == 1, "an explicit heartbeat is written"
