"""Room on each page of event_participants for its rows' next versions.

A participant's row is rewritten often while its event runs and never in an indexed column:
heartbeats (last_heartbeat), presence and receipts (seen_event_version, seen_version). Such an
update stays on the row's page and touches none of the table's eight indexes (a HOT update),
but only where the page has room for the new version; with pages packed full (the default
fill factor, 100) most updates move the row to another page and add an entry to every index.
Filled to 70 % at insert, each page keeps the room: a flush of 5,000 receipts went from 24 to
6.5 µs a row (docs/benchmarks.md, "Receipts on pages with room").

Only pages filled from now on (new events' rows) are filled to 70 %; rows already stored keep
their pages until the table is rewritten. Setting a storage parameter takes a SHARE UPDATE
EXCLUSIVE lock for an instant, which blocks no read and no write.

Revision ID: room_to_update
Revises: functions_as_files
Create Date: 2026-12-12 09:00:00+00:00
"""

from rollcall.db import migration_ops as ops

revision = "room_to_update"
down_revision = "functions_as_files"
branch_labels = None
depends_on = None

TABLE = "event_participants"

FILLFACTOR = 70
"""How full an insert fills a page of participants (per cent); the rest is for updates."""


def upgrade() -> None:
    ops.set_timeouts()
    ops.execute_justified(
        f"ALTER TABLE {TABLE} SET (fillfactor = {FILLFACTOR})",
        ignore="prefer-robust-stmts",
        why="Idempotent; it only decides how full the pages filled from now on get.",
    )


def downgrade() -> None:
    ops.set_timeouts()
    ops.execute_justified(
        f"ALTER TABLE {TABLE} RESET (fillfactor)",
        ignore="prefer-robust-stmts",
        why="Idempotent: the default fill factor again, for the pages filled from now on.",
    )
