"""Retention on a real PostgreSQL: idle events close as a host closes them, old closed ones go.

Timestamps are moved back in the database, as if the hours and days had passed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from rollcall.app import create_app
from rollcall.db.pool import connect
from rollcall.events import retention
from rollcall.protocol import Close, HostMessage
from rollcall.settings import Settings
from tests.factories import HostedEvent, create_event, join
from tests.pg import PgServer
from tests.polling import eventually
from tests.realtime.client import Socket, of_type
from tests.servers import rollcall_server

IDLE_S = 24 * 3600.0
RETENTION_S = 30 * 86400.0


@pytest.fixture(scope="module")
def retention_db(pg: PgServer) -> Iterator[str]:
    """A database of its own: a purge touches every event in it."""
    with pg.fresh_database(migrated=True) as url:
        yield url


@pytest.fixture
async def conn(retention_db: str) -> AsyncIterator[asyncpg.Connection[Any]]:
    connection = await connect(retention_db)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def client(settings: Settings, retention_db: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database_url=retention_db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rollcall.test") as c:
            yield c


async def _event_id(conn: asyncpg.Connection[Any], code: str) -> UUID:
    event_id: UUID = await conn.fetchval("SELECT id FROM events WHERE code = $1", code)
    return event_id


async def age(
    conn: asyncpg.Connection[Any],
    code: str,
    *,
    hours: float,
    updated: bool = True,
    messages: bool = True,
    heartbeats: bool = True,
) -> None:
    """Move the event's own times, its log's and its participants' back by `hours`."""
    event_id = await _event_id(conn, code)
    ago = "now() - make_interval(secs => $2)"
    seconds = hours * 3600
    if updated:
        await conn.execute(
            f"UPDATE events SET updated_at = {ago}, created_at = {ago} WHERE id = $1",
            event_id,
            seconds,
        )
    if messages:
        await conn.execute(
            f"UPDATE event_log SET created_at = {ago} WHERE event_id = $1", event_id, seconds
        )
    if heartbeats:
        # As the presence sweep would have reported it back then: offline, nothing new to say.
        await conn.execute(
            f"""UPDATE event_participants SET last_heartbeat = {ago}, join_timestamp = {ago},
                reported_presence = CASE WHEN status = 'active' THEN 'offline' ELSE NULL END
            WHERE event_id = $1""",
            event_id,
            seconds,
        )


async def status(conn: asyncpg.Connection[Any], code: str) -> str | None:
    value: str | None = await conn.fetchval("SELECT status FROM events WHERE code = $1", code)
    return value


async def purge(conn: asyncpg.Connection[Any]) -> retention.Purge:
    return await retention.purge(
        conn, idle_s=IDLE_S, retention_s=RETENTION_S, max_capacity=10_000, presence_timeout_s=30
    )


async def _with_people(client: httpx.AsyncClient, title: str, people: int = 2) -> HostedEvent:
    event = await create_event(client, title=title)
    for _ in range(people):
        assert (await join(client, event.code)).status_code == 201
    return event


async def test_idle_events_close_and_any_sign_of_life_keeps_one_open(
    client: httpx.AsyncClient, conn: asyncpg.Connection[Any]
) -> None:
    idle = await _with_people(client, "Idle since yesterday")
    locked = await _with_people(client, "Locked and forgotten")
    (
        await client.patch(
            f"/api/events/{locked.code}", json={"status": "locked"}, headers=locked.host_headers
        )
    ).raise_for_status()
    beating = await _with_people(client, "A phone still beats")
    changed = await _with_people(client, "The host changed a score")
    renamed = await _with_people(client, "Renamed an hour ago")
    fresh = await _with_people(client, "Created just now")
    empty = await create_event(client, title="Nobody came")
    for event in (idle, locked, beating, changed, renamed, empty):
        await age(conn, event.code, hours=25)
    # One sign of life each, within the last 24 hours:
    await age(conn, beating.code, hours=23, updated=False, messages=False)
    await age(conn, changed.code, hours=1, updated=False, heartbeats=False)
    await age(conn, renamed.code, hours=1, messages=False, heartbeats=False)

    done = await purge(conn)

    assert {e.code for e in done.closed} == {idle.code, locked.code, empty.code}
    assert not done.busy and not done.deleted
    for event in (idle, locked, empty):
        assert await status(conn, event.code) == "closed"
    for event in (beating, changed, renamed, fresh):
        assert await status(conn, event.code) in ("open", "locked"), event.body["event"]["title"]
    # Closed as a host closes it: hosts are told, and the event refuses from then on.
    last = await conn.fetchval(
        "SELECT message FROM event_log WHERE event_id = $1 ORDER BY seq DESC LIMIT 1",
        await _event_id(conn, idle.code),
    )
    assert last["type"] == HostMessage.EVENT_UPDATED and last["event"]["status"] == "closed"
    rejoin = await join(client, idle.code)
    assert rejoin.status_code == 410
    assert (await purge(conn)).closed == [], "nothing left to close"


async def test_closed_events_are_deleted_after_the_retention_with_everything_they_held(
    client: httpx.AsyncClient, conn: asyncpg.Connection[Any]
) -> None:
    old = await _with_people(client, "Closed 31 days ago", people=3)
    recent = await _with_people(client, "Closed 29 days ago")
    still_open = await _with_people(client, "Open, renamed 40 days ago")
    for event in (old, recent):
        (
            await client.patch(
                f"/api/events/{event.code}", json={"status": "closed"}, headers=event.host_headers
            )
        ).raise_for_status()
    old_id = await _event_id(conn, old.code)
    # A big one: more rows than one DELETE statement takes.
    crowd = retention.ROW_CHUNK * 2 + 1
    await conn.execute(
        """INSERT INTO event_participants (event_id, display_name, name_key, status)
        SELECT $1, 'Guest ' || i, 'guest ' || i, 'left' FROM generate_series(1, $2) AS i""",
        old_id,
        crowd,
    )
    await conn.execute(
        """INSERT INTO actions (event_id, seq, participant_id, action_id, name)
        SELECT $1, 1000 + i, p.id, 'tap' || i, 'tap'
        FROM generate_series(1, $2) AS i,
            LATERAL (SELECT id FROM event_participants WHERE event_id = $1 LIMIT 1) AS p""",
        old_id,
        crowd,
    )
    await age(conn, old.code, hours=31 * 24)
    await age(conn, recent.code, hours=29 * 24)
    await age(conn, still_open.code, hours=40 * 24, messages=False, heartbeats=False)

    done = await purge(conn)

    [deleted] = [e for e in done.deleted if e.code == old.code]
    assert deleted.participants == 3 + crowd and deleted.status == "closed"
    assert old.code not in {e.code for e in done.deleted if e is not deleted}
    assert await status(conn, old.code) is None
    for table in ("event_participants", "event_log", "actions"):
        left = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE event_id = $1", old_id)
        assert left == 0, table
    assert await status(conn, recent.code) == "closed"
    assert await status(conn, still_open.code) == "open"
    assert (await client.get(f"/api/events/{old.code}")).status_code == 404


async def test_a_purge_goes_batch_by_batch_through_many_events(
    client: httpx.AsyncClient, conn: asyncpg.Connection[Any]
) -> None:
    count = retention.BATCH_SIZE * 2 + 5
    events = [await create_event(client, title=f"Batch {i}") for i in range(count)]
    for event in events:
        await age(conn, event.code, hours=25)
    done = await purge(conn)
    assert {e.code for e in events} <= {e.code for e in done.closed}
    for event in events:
        await age(conn, event.code, hours=31 * 24)
    done = await purge(conn)
    assert {e.code for e in events} <= {e.code for e in done.deleted}
    codes = [e.code for e in events]
    assert await conn.fetchval("SELECT count(*) FROM events WHERE code = ANY($1)", codes) == 0


async def test_one_process_at_a_time(
    client: httpx.AsyncClient, conn: asyncpg.Connection[Any], retention_db: str
) -> None:
    event = await create_event(client, title="Waits for the other purge")
    await age(conn, event.code, hours=25)
    other: asyncpg.Connection[Any] = await asyncpg.connect(retention_db)
    try:
        async with other.transaction():
            await other.execute("SELECT pg_advisory_xact_lock($1)", retention.RETENTION_LOCK_KEY)
            busy = await purge(conn)
            assert busy.busy and not busy.closed and not busy.deleted
            assert await status(conn, event.code) == "open"
    finally:
        await other.close()
    assert event.code in {e.code for e in (await purge(conn)).closed}


async def test_the_background_task_closes_idle_events(
    tmp_path: Path, retention_db: str, conn: asyncpg.Connection[Any]
) -> None:
    settings = Settings(
        database_url=None,
        data_dir=tmp_path,
        public_url="http://rollcall.test",
        retention_sweep_s=0.2,
    )
    app = create_app(settings, database_url=retention_db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rollcall.test") as c:
            event = await _with_people(c, "Closed by the sweep")
            await age(conn, event.code, hours=25)

            async def closed() -> bool:
                return await status(conn, event.code) == "closed"

            await eventually(closed, timeout=10, what="the idle event closed by the sweep")


def _purge_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLCALL_")}
    env["DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "rollcall.cli", "db", "purge", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_purge_command_dry_run_then_real_closes_a_live_hosts_event(
    retention_db: str, conn: asyncpg.Connection[Any], tmp_path: Path
) -> None:
    with rollcall_server(retention_db, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            idle = await _with_people(http, "Idle with its dashboard open")
            doomed = await _with_people(http, "Closed long ago")
            (
                await http.patch(
                    f"/api/events/{doomed.code}",
                    json={"status": "closed"},
                    headers=doomed.host_headers,
                )
            ).raise_for_status()
            host = await Socket.open(
                server.ws_url,
                {"type": "hello", "role": "host", "event": idle.code, "token": idle.host_token},
            )
            await host.until(of_type("welcome"))
            await age(conn, idle.code, hours=25)
            await age(conn, doomed.code, hours=31 * 24)

            dry = await asyncio.to_thread(_purge_cli, retention_db, "--dry-run")
            assert dry.returncode == 0, dry.stderr
            assert "would close" in dry.stdout and idle.code in dry.stdout
            assert "would delete" in dry.stdout and doomed.code in dry.stdout
            assert "nothing was changed" in dry.stdout
            assert await status(conn, idle.code) == "open"
            assert await status(conn, doomed.code) == "closed"
            assert not await host.drain(0.3), "a dry run tells the hosts nothing"

            real = await asyncio.to_thread(_purge_cli, retention_db)
            assert real.returncode == 0, real.stderr
            assert f"  {idle.code}  open" in real.stdout and doomed.code in real.stdout
            updated = await host.until(of_type(HostMessage.EVENT_UPDATED))
            assert updated["event"]["status"] == "closed"
            assert await host.closed() == Close.EVENT_CLOSED
            assert await status(conn, doomed.code) is None
            assert (await http.get(f"/api/events/{idle.code}")).json()["status"] == "closed"
