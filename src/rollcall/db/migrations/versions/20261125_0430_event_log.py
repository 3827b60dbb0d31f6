"""The host stream: a per-event sequence, its durable log, and the last presence reported.

- events.seq: the last sequence number given to a message of this event. Taking the next one
  locks the event row, so messages of one event commit in sequence order.
- event_log: every message sent to hosts, kept so that a host that reconnects with `since`
  gets exactly what it missed, also across a restart; trimmed to a bounded number per event.
- event_participants.reported_presence: the presence last announced, so that each change is
  announced once, whichever process notices it first.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 04:30:00+00:00
"""

from alembic import op

from rollcall.db import migration_ops as ops

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.set_timeouts()
    ops.lock_tables("events", "event_participants")  # in a join's order, up front
    op.execute("ALTER TABLE events ADD COLUMN IF NOT EXISTS seq bigint NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE event_participants ADD COLUMN IF NOT EXISTS reported_presence text")
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS event_log (
            event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
            seq bigint NOT NULL,
            message jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT event_log_pkey PRIMARY KEY (event_id, seq)
        )
        """
    )


def downgrade() -> None:
    ops.set_timeouts()
    op.execute("DROP TABLE IF EXISTS event_log")
    ops.execute_justified(
        "ALTER TABLE event_participants DROP COLUMN IF EXISTS reported_presence",
        ignore="ban-drop-column",
        why="Downgrade: removes exactly the column this revision added.",
    )
    ops.execute_justified(
        "ALTER TABLE events DROP COLUMN IF EXISTS seq",
        ignore="ban-drop-column",
        why="Downgrade: removes exactly the column this revision added.",
    )
