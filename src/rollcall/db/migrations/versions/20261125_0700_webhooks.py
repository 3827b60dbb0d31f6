"""Webhooks: endpoints, a delivery cursor per endpoint and event, and the last attempts.

- webhook_endpoints: where an event's messages are POSTed. event_id NULL is the endpoint of
  ROLLCALL_WEBHOOK_URL (every event; its secret is the setting, so none is stored); a row with
  an event_id is that event's own webhook, with its secret (docs/decisions.md says why plain).
- webhook_cursors: the last seq the endpoint acknowledged for the event, and the state of the
  retries of the next one. event_log.trim keeps every message a live cursor has not reached.
- webhook_attempts: recent POSTs and their answers, for the host's delivery log.

Revision ID: webhooks
Revises: 0006
Create Date: 2026-11-25 07:00:00+00:00
"""

from alembic import op

from rollcall.db import migration_ops as ops

revision = "webhooks"
down_revision = "0006"
branch_labels = None
depends_on = None

NEW_TABLE = "A new, empty table: nothing reads or writes it until this revision commits."


def upgrade() -> None:
    ops.set_timeouts()
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS webhook_endpoints (
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            event_id uuid REFERENCES events (id) ON DELETE CASCADE,
            url text NOT NULL,
            secret text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id),
            CONSTRAINT webhook_endpoints_one_per_event UNIQUE (event_id),
            CONSTRAINT webhook_endpoints_secret_check CHECK ((event_id IS NULL) = (secret IS NULL))
        )
        """
    )
    ops.execute_justified(
        "CREATE UNIQUE INDEX IF NOT EXISTS webhook_endpoints_one_global"
        " ON webhook_endpoints ((event_id IS NULL)) WHERE event_id IS NULL",
        ignore="require-concurrent-index-creation",
        why=NEW_TABLE,
    )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS webhook_cursors (
            endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
            event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
            delivered_seq bigint NOT NULL,
            failed_attempts bigint NOT NULL DEFAULT 0,
            failing_since timestamptz,
            next_attempt_at timestamptz,
            last_error text,
            gave_up_at timestamptz,
            CONSTRAINT webhook_cursors_pkey PRIMARY KEY (endpoint_id, event_id)
        )
        """
    )
    ops.execute_justified(
        "CREATE INDEX IF NOT EXISTS webhook_cursors_event ON webhook_cursors (event_id)",
        ignore="require-concurrent-index-creation",
        why=NEW_TABLE,
    )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS webhook_attempts (
            id bigint GENERATED ALWAYS AS IDENTITY,
            endpoint_id uuid NOT NULL,
            event_id uuid NOT NULL,
            seq bigint NOT NULL,
            attempted_at timestamptz NOT NULL,
            status bigint,
            error text,
            duration_ms bigint NOT NULL,
            CONSTRAINT webhook_attempts_pkey PRIMARY KEY (id),
            CONSTRAINT webhook_attempts_cursor_fkey FOREIGN KEY (endpoint_id, event_id)
                REFERENCES webhook_cursors (endpoint_id, event_id) ON DELETE CASCADE
        )
        """
    )
    ops.execute_justified(
        "CREATE INDEX IF NOT EXISTS webhook_attempts_newest"
        " ON webhook_attempts (endpoint_id, event_id, id)",
        ignore="require-concurrent-index-creation",
        why=NEW_TABLE,
    )


def downgrade() -> None:
    ops.set_timeouts()
    op.execute("DROP TABLE IF EXISTS webhook_attempts")
    op.execute("DROP TABLE IF EXISTS webhook_cursors")
    op.execute("DROP TABLE IF EXISTS webhook_endpoints")
