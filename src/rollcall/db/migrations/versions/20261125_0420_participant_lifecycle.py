"""Participant lifecycle: status, app state, the name key, away, and seat counting.

- status: active, left or kicked. A kicked row stays, so its device stays refused.
- name_key: the display name normalised (NFKC, whitespace folded, casefolded); unique per event.
- state and state_version: the JSON object the host or app owns, and its change counter.
- away: the page said it is hidden; presence is away until it says back.
- events.seats_taken: participants not kicked, so a single UPDATE can refuse the seat past
  capacity under any concurrency.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 04:20:00+00:00
"""

from alembic import op

from rollcall.db import migration_ops as ops

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLE = "event_participants"

# The SQL twin of rollcall.participants.names.name_key, for rows that predate this revision.
# Rows of one event whose keys collide keep the first; later ones get their id appended, so the
# unique constraint can be built without losing a row.
NAME_KEY_BACKFILL = f"""
UPDATE {TABLE} AS p SET name_key = CASE WHEN k.rank = 1 THEN k.key ELSE k.key || '#' || p.id END
FROM (
    SELECT id, key, row_number() OVER (PARTITION BY event_id, key ORDER BY created_at, id) AS rank
    FROM (
        SELECT id, event_id, created_at,
               lower(btrim(regexp_replace(normalize(display_name, NFKC), '\\s+', ' ', 'g'))) AS key
        FROM {TABLE}
        WHERE event_id = (SELECT event_id FROM {TABLE} WHERE name_key IS NULL LIMIT 1)
    ) AS keyed
) AS k
WHERE p.id = k.id AND p.name_key IS NULL
"""


def upgrade() -> None:
    ops.set_timeouts()
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
    op.execute("ALTER TABLE events ADD COLUMN IF NOT EXISTS seats_taken bigint NOT NULL DEFAULT 0")
    ops.add_check_not_valid(
        table="events", name="events_seats_taken_check", check="seats_taken >= 0"
    )
    ops.validate_constraint(table=TABLE, name="event_participants_status_check")
    ops.validate_constraint(table="events", name="events_seats_taken_check")

    # One event a batch: the window that finds colliding names needs the whole event.
    ops.backfill_in_batches(
        label="name_key backfill",
        remaining_sql=f"SELECT count(*) FROM {TABLE} WHERE name_key IS NULL",
        batch_sql=NAME_KEY_BACKFILL,
    )
    ops.backfill_in_batches(
        label="seats_taken backfill",
        remaining_sql="SELECT count(*) FROM events WHERE seats_taken = 0",
        batch_sql=(
            "UPDATE events AS e SET seats_taken = s.taken FROM ("
            f" SELECT event_id, count(*) AS taken FROM {TABLE} GROUP BY event_id) AS s"
            " WHERE e.id = s.event_id AND e.seats_taken <> s.taken"
        ),
    )
    ops.set_not_null_through_check(table=TABLE, column="name_key")
    ops.add_unique_constraint_concurrently(
        table=TABLE, name="unique_name_per_event", columns="event_id, name_key"
    )


def downgrade() -> None:
    ops.set_timeouts()
    op.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS unique_name_per_event")
    # squawk-ignore ban-drop-column
    op.execute("ALTER TABLE events DROP COLUMN IF EXISTS seats_taken")
    # squawk-ignore ban-drop-column
    op.execute(
        f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS name_key, DROP COLUMN IF EXISTS away, DROP COLUMN IF EXISTS state_version,"
        " DROP COLUMN IF EXISTS state, DROP COLUMN IF EXISTS status"
    )
