"""The database functions from their files, and "full" decided in one place.

- Each function's current text is db/functions/<name>.sql, and this revision applies every one
  of them; from here on, a revision that changes a function edits its file and applies it the
  same way (rollcall.db.sqlfiles).
- rollcall_full (new): every seat of the event is taken. The joins, rollcall_admit and the
  routes that take a seat ask it instead of comparing seats_taken with capacity each their own
  way. What each of them does is unchanged.

The downgrade puts back each function as the revision that last wrote it had it, then drops
rollcall_full (nothing of that revision calls it).

Revision ID: functions_as_files
Revises: live_channel
Create Date: 2026-12-11 09:00:00+00:00
"""

from alembic import op

from rollcall.db import migrate
from rollcall.db import migration_ops as ops
from rollcall.db.sqlfiles import Frozen

revision = "functions_as_files"
down_revision = "live_channel"
branch_labels = None
depends_on = None

FUNCTIONS = Frozen(
    revision,
    {
        "rollcall_act": "14040a51ded0cdf4",
        "rollcall_admit": "7faa474094ca3542",
        "rollcall_attendance": "03fd580d25b3aacd",
        "rollcall_attendance_state": "dcf6d882cf155377",
        "rollcall_attendance_track": "662b4a3042add57e",
        "rollcall_event_closed": "0213d28ff4991345",
        "rollcall_free_recovery": "533bebe2954ee2d6",
        "rollcall_full": "e50491ff8dcce473",
        "rollcall_hmac": "ac61879b04d59581",
        "rollcall_join": "8480f5b2bcaf2a67",
        "rollcall_join_many": "512f28174ab68db7",
        "rollcall_join_one": "7f510e64ecf09b86",
        "rollcall_join_set": "25d7178d2ed5503b",
        "rollcall_name_refused": "bbc50938edce5eb7",
        "rollcall_new_hmac_key": "3b214ae8e8867366",
        "rollcall_newcomer_refusal": "57208841fa0e37f8",
        "rollcall_recovery_digest": "6f4f469f8e0c49ab",
        "rollcall_recovery_number": "184e3b66ebf24957",
        "rollcall_room_check": "4aa15c701f249e69",
        "rollcall_roster_entry": "19487bae379f5604",
    },
)

# Where each function was last written before this revision: (revision, its name for the text).
PREVIOUS = (
    ("0006", "HMAC_FUNCTIONS"),
    ("0006", "ADMIT_FUNCTION"),
    ("attendance", "STATE_FUNCTION"),
    ("attendance", "ATTENDANCE_FUNCTION"),
    ("attendance", "CLOSED_FUNCTION"),
    ("names_seats_teams", "NAME_REFUSED_FUNCTION"),
    ("names_seats_teams", "NEWCOMER_REFUSAL_FUNCTION"),
    ("names_seats_teams", "JOIN_ONE_FUNCTION"),
    ("names_seats_teams", "JOIN_SET_FUNCTION"),
    ("names_seats_teams", "JOIN_FUNCTION"),
    ("names_seats_teams", "JOIN_MANY_FUNCTION"),
    ("names_seats_teams", "TRACK_FUNCTION"),
    ("live_channel", "ROSTER_ENTRY_FUNCTION"),
    ("live_channel", "ACT_FUNCTION"),
)


FULL_SIGNATURE = "rollcall_full(events)"


def upgrade() -> None:
    ops.set_timeouts()
    for text in FUNCTIONS.texts():
        op.execute(text)


def downgrade() -> None:
    ops.set_timeouts()
    for previous, name in PREVIOUS:
        op.execute(getattr(migrate.revision_module(previous), name))
    op.execute(f"DROP FUNCTION IF EXISTS {FULL_SIGNATURE}")
