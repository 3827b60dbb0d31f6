"""Participant lifecycle: status, app state, the name key, away, and seat counting.

- status: active, left or kicked. A kicked row stays, so its device stays refused.
- name_key: the display name's key, computed for existing rows by the very function joins use
  (rollcall.participants.names), in Python, event by event; unique per event.
- state and state_version: the JSON object the host or app owns, and its change counter.
- away: the page said it is hidden; presence is away until it says back.
- events.seats_taken: participants not kicked, so a single UPDATE can refuse the seat past
  capacity under any concurrency.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 04:20:00+00:00
"""

from uuid import UUID

import psycopg
from alembic import op
from psycopg.rows import TupleRow

from rollcall.db import migration_ops as ops
from rollcall.participants.names import normalize_display_name

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLE = "event_participants"

NAME_KEYS_READ = f"""
SELECT id, event_id, display_name, name_key FROM {TABLE}
WHERE event_id = ANY(%(events)s) ORDER BY event_id, created_at, id
"""
# Only a row still without a key and still with the name its key was made from: a row renamed or
# keyed meanwhile by someone else is left alone, and read again. `p.event_id = ANY` keeps the
# plan on the event's rows (a join alone may hash the whole table).
NAME_KEYS_WRITE = f"""
UPDATE {TABLE} AS p SET name_key = u.name_key
FROM unnest(%(ids)s::uuid[], %(names)s::text[], %(keys)s::text[]) AS u(id, display_name, name_key)
WHERE p.event_id = ANY(%(events)s) AND p.id = u.id
  AND p.name_key IS NULL AND p.display_name = u.display_name
"""
SEATS_LOCK = "SELECT id FROM events WHERE id = ANY(%(events)s) ORDER BY id FOR UPDATE"
SEATS_WRITE = f"""
WITH taken AS (
    SELECT event_id, count(*) AS seats FROM {TABLE}
    WHERE event_id = ANY(%(events)s) AND status <> 'kicked' GROUP BY event_id
), written AS (
    UPDATE events AS e SET seats_taken = taken.seats FROM taken
    WHERE e.id = taken.event_id AND e.seats_taken <> taken.seats
)
SELECT coalesce(sum(seats), 0) FROM taken
"""
ATTEMPTS = 10


def upgrade() -> None:
    ops.set_timeouts()
    # Events before participants: the order in which joins lock them, so no deadlock with one.
    op.execute("ALTER TABLE events ADD COLUMN IF NOT EXISTS seats_taken bigint NOT NULL DEFAULT 0")
    ops.add_check_not_valid(
        table="events", name="events_seats_taken_check", check="seats_taken >= 0"
    )
    op.execute(
        f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'active'"
    )
    ops.add_check_not_valid(
        table=TABLE,
        name="event_participants_status_check",
        check="status IN ('active', 'left', 'kicked')",
    )
    op.execute(
        f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS state jsonb NOT NULL DEFAULT '{{}}'::jsonb"
    )
    op.execute(
        f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS state_version bigint NOT NULL DEFAULT 0"
    )
    op.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS away boolean NOT NULL DEFAULT false")
    op.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS name_key text")
    ops.validate_constraint(table="events", name="events_seats_taken_check")
    ops.validate_constraint(table=TABLE, name="event_participants_status_check")

    ops.backfill_by_event(
        label="name_key backfill",
        table=TABLE,
        batch=_name_keys,
        describe=f"""
{NAME_KEYS_READ.strip()};
-- each key computed in Python by rollcall.participants.names.normalize_display_name, then:
{NAME_KEYS_WRITE.strip()};""",
    )
    ops.backfill_by_event(
        label="seats_taken backfill",
        table=TABLE,
        batch=_seats,
        describe=f"BEGIN;\n{SEATS_LOCK};\n{SEATS_WRITE.strip()};\nCOMMIT;",
    )
    ops.set_not_null_through_check(table=TABLE, column="name_key")
    ops.add_unique_constraint_concurrently(
        table=TABLE, name="unique_name_per_event", columns="event_id, name_key"
    )


def _name_keys(walk: ops.Walk, conn: psycopg.Connection[TupleRow], events: list[UUID]) -> int:
    """Key every row of these events that has no key yet; returns the rows read."""
    read = 0
    for _ in range(ATTEMPTS):
        rows = walk.run(conn, NAME_KEYS_READ, {"events": events}).fetchall()
        read = read or len(rows)
        keys = legacy_name_keys(rows)
        written = 0
        for start in range(0, len(keys), ops.BATCH_SIZE):
            chunk = keys[start : start + ops.BATCH_SIZE]
            ids, names, keys_ = (list(column) for column in zip(*chunk, strict=True))
            params = {"events": events, "ids": ids, "names": names, "keys": keys_}
            written += walk.run(conn, NAME_KEYS_WRITE, params).rowcount
        if written == len(keys):
            return read
    raise RuntimeError(
        f"names in events {events[0]}..{events[-1]} kept changing during the name_key backfill;"
        " run the upgrade again"
    )


def legacy_name_keys(rows: list[TupleRow]) -> list[tuple[UUID, str, str]]:
    """(id, display name, key) for each row without a key, from rows (id, event_id, display_name,
    name_key) in (event_id, created_at, id) order.

    The key is the one a join computes today (normalize_display_name), so a legacy "Straße" and
    a new "STRASSE" are the same name. Rows of one event whose keys clash are all kept: the
    first keeps the key, a later one gets `key#id`; a name that a join would refuse today
    (empty, too long, a control character) gets `#id`. Neither can be the key of a valid name,
    which is at most 32 characters.
    """
    taken: dict[UUID, set[str]] = {}
    for _, event_id, _, key in rows:
        if key is not None:
            taken.setdefault(event_id, set()).add(key)
    keyed: list[tuple[UUID, str, str]] = []
    for row_id, event_id, name, key in rows:
        if key is not None:
            continue
        try:
            wanted = normalize_display_name(name)[1]
        except ValueError:
            wanted = ""
        seen = taken.setdefault(event_id, set())
        final = wanted if wanted and wanted not in seen else f"{wanted}#{row_id}"
        seen.add(final)
        keyed.append((row_id, name, final))
    return keyed


def _seats(walk: ops.Walk, conn: psycopg.Connection[TupleRow], events: list[UUID]) -> int:
    """Count the seats of these events under their row locks, as a join takes one."""
    with conn.transaction():
        walk.run(conn, SEATS_LOCK, {"events": events})
        counted = walk.run(conn, SEATS_WRITE, {"events": events}).fetchone()
    assert counted is not None
    return int(counted[0])


def downgrade() -> None:
    ops.set_timeouts()
    ops.execute_justified(
        "ALTER TABLE events DROP COLUMN IF EXISTS seats_taken",
        ignore="ban-drop-column",
        why="Downgrade: removes exactly the column this revision added.",
    )
    op.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS unique_name_per_event")
    ops.execute_justified(
        f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS name_key, DROP COLUMN IF EXISTS away,"
        " DROP COLUMN IF EXISTS state_version, DROP COLUMN IF EXISTS state,"
        " DROP COLUMN IF EXISTS status",
        ignore="ban-drop-column",
        why="Downgrade: removes exactly the columns this revision added.",
    )
