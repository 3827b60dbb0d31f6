"""Device and session identity on event_participants.

One participant per (event, device); a session token stored only as its SHA-256 digest; when
the participant joined and last sent a heartbeat. Written for a large, busy table: nullable
column first, default for new rows only, a backfill that walks the table once, a few events
at a time, NOT NULL through a validated CHECK, unique indexes built concurrently and then
attached as constraints.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 04:10:00+00:00
"""

from alembic import op

from rollcall.db import migration_ops as ops

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLE = "event_participants"

# Each row the backfill updates moves to a new page (the old one is full). Filling those pages to
# 40% leaves beside each row the room for its next version, so that the next revision's backfill
# (the name key) updates it in place (a HOT update: no index touched), as do heartbeats later.
MOVED_ROWS_FILLFACTOR = 40

# The rows of a few events: those without a device get one; the rows walked are counted (the
# count sees the table as it was before this statement's own UPDATE).
DEVICE_IDS = f"""
WITH written AS (
    UPDATE {TABLE} SET device_id = gen_random_uuid()
    WHERE event_id = ANY(%(events)s) AND device_id IS NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM written)
     + (SELECT count(*) FROM {TABLE} WHERE event_id = ANY(%(events)s) AND device_id IS NOT NULL)
"""


def upgrade() -> None:
    ops.set_timeouts()
    op.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS device_id uuid")
    ops.execute_justified(
        f"ALTER TABLE {TABLE} ALTER COLUMN device_id SET DEFAULT gen_random_uuid()",
        ignore="prefer-robust-stmts",
        why="Idempotent; and a default changes only rows inserted from now on, so no rewrite.",
    )
    op.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS session_token_hash bytea")
    # now() is stable, not volatile: PostgreSQL 11+ stores this default without a rewrite.
    op.execute(
        f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS join_timestamp timestamptz DEFAULT now()"
    )
    op.execute(
        f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS last_heartbeat timestamptz DEFAULT now()"
    )

    ops.execute_justified(
        f"ALTER TABLE {TABLE} SET (fillfactor = {MOVED_ROWS_FILLFACTOR})",
        ignore="prefer-robust-stmts",
        why="Idempotent; it only decides how full the pages that receive moved rows get.",
    )
    ops.backfill_by_event(
        label="device_id backfill",
        table=TABLE,
        batch=ops.one_statement(DEVICE_IDS),
        describe=DEVICE_IDS,
    )
    ops.execute_justified(
        f"ALTER TABLE {TABLE} RESET (fillfactor)",
        ignore="prefer-robust-stmts",
        why="Idempotent: the table's default fill factor again, for the rows inserted from now on.",
    )
    ops.set_not_null_through_check(table=TABLE, column="device_id")

    ops.add_unique_constraint_concurrently(
        table=TABLE, name="unique_device_per_event", columns="event_id, device_id"
    )
    ops.add_unique_constraint_concurrently(
        table=TABLE, name="event_participants_session_token_hash_key", columns="session_token_hash"
    )
    ops.create_index_concurrently(
        table=TABLE, name="idx_event_participants_device_id", columns="device_id"
    )


def downgrade() -> None:
    ops.set_timeouts()
    op.execute(f"ALTER TABLE {TABLE} RESET (fillfactor)")
    op.execute(
        f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS event_participants_session_token_hash_key"
    )
    op.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS unique_device_per_event")
    ops.drop_index_concurrently("idx_event_participants_device_id")
    # squawk-ignore ban-drop-column
    op.execute(
        f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS last_heartbeat, DROP COLUMN IF EXISTS join_timestamp,"
        " DROP COLUMN IF EXISTS session_token_hash, DROP COLUMN IF EXISTS device_id"
    )
