"""A release from before revision 0003 keeps inserting while 0003 runs, knowing no name key.

It inserts participants with a name only, as such a release did: no key, no seat counted.
Revision 0003's trigger fills both in, so its inserts never fail, the upgrade never stops at
the name key's NOT NULL, and every row ends keyed and counted.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import uuid

import psycopg
import pytest

from rollcall.db import migrate
from rollcall.participants.names import normalize_display_name
from tests.pg import PgServer

pytestmark = pytest.mark.slow  # a backfill of 40,000 rows to write through: about 15 s

EVENTS = 40
PER_EVENT = 1_000


def _load(url: str) -> list[uuid.UUID]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO events (code, title, capacity, host_token_hash)
            SELECT 'EV' || translate(lpad(n::text, 4, '0'), '0123456789', 'ABCDEFGHJK'),
                   'Event ' || n, 5000, sha256(('host-' || n)::bytea)
            FROM generate_series(1, %s) AS n
            """,
            (EVENTS,),
        )
        conn.execute(
            """
            INSERT INTO event_participants (event_id, display_name, created_at)
            SELECT e.id, 'Player ' || n, timestamptz '2026-01-01' + make_interval(secs => n)
            FROM events AS e, generate_series(1, %s) AS n
            """,
            (PER_EVENT,),
        )
        return [row[0] for row in conn.execute("SELECT id FROM events ORDER BY id")]


class LegacyWriter(threading.Thread):
    """Inserts as a release before 0003 did, one row a transaction, until stopped."""

    def __init__(self, url: str, events: list[uuid.UUID]) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.events = events
        self.stop = threading.Event()
        self.inserted: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}
        self.errors: list[str] = []

    def run(self) -> None:
        n = 0
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                n += 1
                event = random.choice(self.events)
                name = random.choice(
                    [f"Writer {n}", f"Writer {n}", f"PLAYER {n % PER_EVENT + 1}", f"Ünal {n}"]
                )
                try:
                    with conn.transaction():
                        if n % 2:  # some lock their event first, as a join does; some do not
                            conn.execute("SELECT 1 FROM events WHERE id = %s FOR UPDATE", (event,))
                        row = conn.execute(
                            "INSERT INTO event_participants (event_id, display_name)"
                            " VALUES (%s, %s) RETURNING id",
                            (event, name),
                        ).fetchone()
                except psycopg.Error as error:
                    self.errors.append(f"{type(error).__name__}: {error}")
                    continue
                assert row is not None
                self.inserted[row[0]] = (event, name)


def test_a_writer_that_knows_no_name_key_writes_through_revision_0003(pg: PgServer) -> None:
    with pg.fresh_database() as url:
        migrate.upgrade(url, "0002")
        events = _load(url)
        writer = LegacyWriter(url, events)
        writer.start()
        try:
            upgrade = subprocess.run(
                [sys.executable, "-m", "rollcall.cli", "db", "upgrade", "0003"],
                env={**os.environ, "DATABASE_URL": url},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            during = len(writer.inserted)
            # And after it, as the old release goes on serving until it is replaced.
            while len(writer.inserted) < during + 50 and not writer.errors:
                writer.stop.wait(0.05)
        finally:
            writer.stop.set()
            writer.join(30)
        assert upgrade.returncode == 0, upgrade.stderr[-3000:]
        assert writer.errors == [], writer.errors[:5]
        assert during > 0, "the writer wrote while the upgrade ran"
        with psycopg.connect(url) as conn:
            rows = {
                row[0]: row[1:]
                for row in conn.execute(
                    "SELECT id, event_id, display_name, name_key FROM event_participants"
                )
            }
            seats = dict(conn.execute("SELECT id, seats_taken FROM events").fetchall())
            counted = dict(
                conn.execute(
                    "SELECT event_id, count(*) FROM event_participants GROUP BY event_id"
                ).fetchall()
            )
    assert len(rows) == EVENTS * PER_EVENT + len(writer.inserted)
    for row_id, (event, name) in writer.inserted.items():
        stored_event, stored_name, key = rows[row_id]
        assert (stored_event, stored_name) == (event, name)
        wanted = normalize_display_name(name)[1]
        if name.isascii():
            assert key in (wanted, f"{wanted}#{row_id}"), (name, key)
        else:  # keyed by the backfill in Python, or, once the trigger is there, as unique
            assert key in (wanted, f"{wanted}#{row_id}", f"#{row_id}"), (name, key)
    keys = [(event, key) for event, _, key in rows.values()]
    assert len(set(keys)) == len(keys), "a key twice in one event"
    assert seats == counted, "every seat counted once"
