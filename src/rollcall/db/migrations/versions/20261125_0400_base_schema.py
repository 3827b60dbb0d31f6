"""Base schema: events and their participants, as they stood before device identity.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 04:00:00+00:00
"""

from alembic import op

from rollcall.db import migration_ops as ops

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.set_timeouts()
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS events (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            code text NOT NULL,
            title text NOT NULL,
            capacity bigint NOT NULL,
            status text NOT NULL DEFAULT 'open',
            host_token_hash bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT events_code_key UNIQUE (code),
            CONSTRAINT events_host_token_hash_key UNIQUE (host_token_hash),
            CONSTRAINT events_code_check CHECK (code ~ '^[2-9A-HJKMNP-TV-Z]{6}$'),
            CONSTRAINT events_status_check CHECK (status IN ('open', 'locked', 'closed')),
            CONSTRAINT events_capacity_check CHECK (capacity > 0),
            CONSTRAINT events_title_check CHECK (char_length(title) BETWEEN 1 AND 200)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS event_participants (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
            display_name text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS event_participants_event_id_idx ON event_participants (event_id)"
    )


def downgrade() -> None:
    ops.set_timeouts()
    op.execute("DROP TABLE IF EXISTS event_participants")
    op.execute("DROP TABLE IF EXISTS events")
