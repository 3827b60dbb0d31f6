"""Participant lifecycle: status, app state, the name key, away, and seat counting.

- status: active, left or kicked. A kicked row stays, so its device stays refused.
- name_key: the display name's key, unique per event; existing rows get the key a join computes
  (rollcall.participants.names), event by event.
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

# The name key of a legacy row is the one rollcall.participants.names.normalize_display_name
# gives, the function every join uses. For a name of printable ASCII only (U+0020-U+007E), SQL
# computes the same key, as this follows step by step: no character is a control character
# (Cc); NFKC leaves ASCII as it is; the only whitespace is the space, so splitting and joining
# trims the spaces and folds each run into one; there is no format character (Cf) to drop; the
# name is refused when empty, longer than 32 characters, or without a letter or digit (in ASCII,
# A-Z, a-z and 0-9 are the letters and digits); casefolding ASCII maps A-Z to a-z
# and nothing else; and NFKC again changes nothing. Every other name is keyed in Python by the
# function itself. A refused name keys as '' here and as `#id` in the table (see KEYS).
PRINTABLE_ASCII = "'^[ -~]*$'"
ASCII_NAME_KEY = """CASE
    WHEN folded = '' OR char_length(folded) > 32 OR folded !~ '[A-Za-z0-9]' THEN ''
    ELSE translate(folded, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
END"""
ASCII_FOLDED = "regexp_replace(btrim(display_name, ' '), ' {2,}', ' ', 'g')"

# The rows of these events whose names SQL does not key: Python keys them.
OTHER_NAMES = f"""
SELECT id, display_name FROM {TABLE}
WHERE event_id = ANY(%(events)s) AND name_key IS NULL AND display_name !~ {PRINTABLE_ASCII}
"""
LOCK_EVENTS = "SELECT id FROM events WHERE id = ANY(%(events)s) ORDER BY id FOR UPDATE"
# Under the events' locks (a join takes its event's first), one statement keys every row without
# a key and counts the seats. Rows of one event whose keys clash are all kept: the first to join
# keeps the key, a later one gets `key#id`, as does one whose key a row has already; a refused
# name gets `#id`. Neither can be the key of a name a join accepts (at most 32 characters, and
# no uuid in it casefolds from fewer). A row renamed since its key was made is left for the next
# attempt. Returns the rows of these events, those that had no key, and those keyed now.
KEYS_AND_SEATS = f"""
WITH given AS (
    SELECT * FROM unnest(%(ids)s::uuid[], %(names)s::text[], %(keys)s::text[])
        AS g(id, display_name, name_key)
), walked AS (
    SELECT p.id, p.event_id, p.created_at, p.display_name, p.name_key, p.status,
           CASE WHEN p.name_key IS NOT NULL THEN NULL
                WHEN p.display_name ~ {PRINTABLE_ASCII} THEN plain.name_key
                ELSE g.name_key END AS wanted
    FROM {TABLE} AS p
    CROSS JOIN LATERAL (
        SELECT {ASCII_NAME_KEY} AS name_key
        FROM (SELECT {ASCII_FOLDED} AS folded) AS f
    ) AS plain
    LEFT JOIN given AS g ON g.id = p.id AND g.display_name = p.display_name
    WHERE p.event_id = ANY(%(events)s)
), ranked AS (
    SELECT id, event_id, display_name, wanted,
           row_number() OVER (PARTITION BY event_id, wanted ORDER BY created_at, id) AS rank
    FROM walked WHERE wanted IS NOT NULL
), taken AS (
    SELECT DISTINCT event_id, name_key FROM walked WHERE name_key IS NOT NULL
), keyed AS (
    UPDATE {TABLE} AS p
    SET name_key = CASE WHEN r.wanted <> '' AND r.rank = 1 AND t.name_key IS NULL THEN r.wanted
                        ELSE r.wanted || '#' || r.id END
    FROM ranked AS r
    LEFT JOIN taken AS t ON t.event_id = r.event_id AND t.name_key = r.wanted
    WHERE p.event_id = ANY(%(events)s) AND p.id = r.id
      AND p.name_key IS NULL AND p.display_name = r.display_name
    RETURNING 1
), seats AS (
    UPDATE events AS e SET seats_taken = c.seats
    FROM (SELECT event_id, count(*) FILTER (WHERE status <> 'kicked') AS seats
          FROM walked GROUP BY event_id) AS c
    WHERE e.id = c.event_id AND e.seats_taken <> c.seats
)
SELECT (SELECT count(*) FROM walked), (SELECT count(*) FROM walked WHERE name_key IS NULL),
       (SELECT count(*) FROM keyed)
"""
ATTEMPTS = 10

# A release before this revision keeps serving while it runs, and after it until its processes
# are replaced: it inserts participants without a name key (and counts no seat). This trigger
# fills both in for it, so its inserts never meet the NOT NULL below and the seats stay right:
# under the event's row lock (as a join and the backfill take it), a printable ASCII name gets
# its key as the backfill computes it (`key#id` when a row of the event has the key already,
# or has no key yet and will get that one), any other name `#id`, as a name the backfill
# cannot key in SQL (a name keyed so is unique on its own). It never fires for this release's
# writes, which always give the key.
FILL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION rollcall_name_key_fill() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_key text := '';
BEGIN
    PERFORM 1 FROM events WHERE id = NEW.event_id FOR UPDATE;
    IF NEW.display_name ~ {PRINTABLE_ASCII} THEN
        SELECT {ASCII_NAME_KEY} INTO v_key
        FROM (SELECT {ASCII_FOLDED} AS folded FROM (SELECT NEW.display_name) AS n(display_name)) AS f;
    END IF;
    IF v_key = '' OR EXISTS (
        SELECT 1 FROM {TABLE} AS p
        WHERE p.event_id = NEW.event_id
          AND (p.name_key = v_key OR (p.name_key IS NULL AND p.display_name ~ {PRINTABLE_ASCII}
               AND (SELECT {ASCII_NAME_KEY}
                    FROM (SELECT {ASCII_FOLDED} AS folded FROM (SELECT p.display_name) AS n(display_name)) AS f) = v_key))
    ) THEN
        NEW.name_key := v_key || '#' || NEW.id;
    ELSE
        NEW.name_key := v_key;
    END IF;
    UPDATE events SET seats_taken = seats_taken + 1 WHERE id = NEW.event_id AND NEW.status <> 'kicked';
    RETURN NEW;
END
$$
"""
FILL_TRIGGER = f"""
CREATE OR REPLACE TRIGGER rollcall_name_key_fill
BEFORE INSERT ON {TABLE}
FOR EACH ROW WHEN (NEW.name_key IS NULL)
EXECUTE FUNCTION rollcall_name_key_fill()
"""


def upgrade() -> None:
    ops.set_timeouts()
    ops.lock_tables("events", "event_participants")  # in a join's order, up front
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
    op.execute(FILL_FUNCTION)
    op.execute(FILL_TRIGGER)
    ops.validate_constraint(table="events", name="events_seats_taken_check")
    ops.validate_constraint(table=TABLE, name="event_participants_status_check")

    ops.backfill_by_event(
        label="name_key and seats_taken backfill",
        table=TABLE,
        batch=_keys_and_seats,
        describe=f"""
{OTHER_NAMES.strip()};
-- each of those names keyed in Python by rollcall.participants.names.normalize_display_name
BEGIN;
{LOCK_EVENTS};
{KEYS_AND_SEATS.strip()};
COMMIT;""",
    )
    ops.set_not_null_through_check(table=TABLE, column="name_key")
    ops.add_unique_constraint_concurrently(
        table=TABLE, name="unique_name_per_event", columns="event_id, name_key"
    )


def _keys_and_seats(walk: ops.Walk, conn: psycopg.Connection[TupleRow], events: list[UUID]) -> int:
    """Key every row of these events that has no key, count their seats; returns the rows."""
    for _ in range(ATTEMPTS):
        others = walk.run(conn, OTHER_NAMES, {"events": events}).fetchall()
        params = {
            "events": events,
            "ids": [row_id for row_id, _ in others],
            "names": [name for _, name in others],
            "keys": [_key(name) for _, name in others],
        }
        with conn.transaction():
            walk.run(conn, LOCK_EVENTS, {"events": events})
            counted = walk.run(conn, KEYS_AND_SEATS, params).fetchone()
        assert counted is not None
        rows, unkeyed, keyed = (int(n) for n in counted)
        if keyed == unkeyed:
            return rows
    raise RuntimeError(
        f"names in events {events[0]}..{events[-1]} kept changing during the name_key backfill;"
        " run the upgrade again"
    )


def _key(name: str) -> str:
    """The key a join computes for this name; '' for a name a join refuses."""
    try:
        return normalize_display_name(name)[1]
    except ValueError:
        return ""


def downgrade() -> None:
    ops.set_timeouts()
    op.execute(f"DROP TRIGGER IF EXISTS rollcall_name_key_fill ON {TABLE}")
    op.execute("DROP FUNCTION IF EXISTS rollcall_name_key_fill()")
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
