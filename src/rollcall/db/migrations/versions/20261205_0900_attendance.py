"""Attendance: each participant's time online, away and offline, kept as presence changes.

- event_participants.online_s, away_s, offline_s: the seconds spent in each presence up to
  presence_since, when the current stretch began. A trigger on the columns every presence
  change writes (status, reported_presence) closes the stretch and starts the next, so the
  record is kept by the statements that already make the change (the sweep, set_presence, the
  join and admission functions, leave, kick, unban), whichever release sends them. Heartbeats
  write none of these columns: the trigger never runs for a beat.
- A stretch that ends because the participant went silent ends at its last heartbeat, not
  when the sweep noticed the silence (a presence timeout later).
- left_at: when the participant left or was removed (null while they are in); reclaim_count:
  how often the seat moved to another device (the same trigger sees device_id change);
  connections: sockets opened (written with the heartbeats, by the buffer that flushes them);
  denied: a waiting participant the host turned away, left out of the roll call by default.
- events.closed_at: when the event closed (a trigger, so a previous release's close sets it
  too); attendance counts up to it.
- rollcall_attendance(p, end, timeout): a participant's figures up to `end`. Rows from before
  this revision have no record of their changes: they count as present from their join and,
  once gone, until they were last seen (no backfill: the estimate is made when read, and when
  such a row next changes).

Expand only: new columns are nullable or have constant defaults (no rewrite), the triggers fill
them in for the previous release's writes.

Revision ID: attendance
Revises: join_batches
Create Date: 2026-12-05 09:00:00+00:00
"""

from alembic import op

from rollcall.db import migration_ops as ops

revision = "attendance"
down_revision = "join_batches"
branch_labels = None
depends_on = None

TABLE = "event_participants"

STATE_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_attendance_state(p_status text, p_presence text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- Where a participant is, for the roll call: its presence while active, else its status
    -- (pending, left, kicked).
    SELECT CASE WHEN p_status <> 'active' THEN p_status
                WHEN p_presence IN ('away', 'offline') THEN p_presence
                ELSE 'online' END
$$
"""

ATTENDANCE_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_attendance(
    p event_participants, p_end timestamptz, p_timeout_s double precision,
    OUT o_online_s double precision, OUT o_away_s double precision,
    OUT o_offline_s double precision, OUT o_left_at timestamptz, OUT o_since timestamptz
)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_state text := rollcall_attendance_state(p.status, p.reported_presence);
    v_seen timestamptz := coalesce(p.last_heartbeat, p.join_timestamp);
    v_cut timestamptz;
BEGIN
    -- The participant's seconds in each presence up to p_end (the stretch under way counted
    -- up to there; nothing counted past it). With p_timeout_s, a stretch online or away
    -- whose silence has passed the timeout, which the sweep has not turned offline yet, ends
    -- at the last heartbeat, as the sweep will make it end.
    o_online_s := p.online_s;
    o_away_s := p.away_s;
    o_offline_s := p.offline_s;
    o_left_at := p.left_at;
    o_since := p.presence_since;
    IF o_since IS NULL THEN
        -- A row from before attendance was kept: present from its join, and for one that is
        -- gone, until it was last seen.
        IF v_state IN ('online', 'away', 'pending') THEN
            o_since := p.join_timestamp;
        ELSE
            o_online_s := o_online_s + greatest(0, extract(epoch FROM v_seen - p.join_timestamp));
            o_since := v_seen;
            IF v_state IN ('left', 'kicked') THEN
                o_left_at := coalesce(o_left_at, v_seen);
            END IF;
        END IF;
    END IF;
    v_cut := greatest(o_since, p_end);
    IF v_state IN ('online', 'away') AND p_timeout_s IS NOT NULL
        AND v_seen < p_end - make_interval(secs => p_timeout_s) THEN
        v_cut := greatest(o_since, v_seen);
        o_offline_s := o_offline_s + extract(epoch FROM greatest(v_cut, p_end) - v_cut);
    END IF;
    CASE v_state
        WHEN 'online' THEN o_online_s := o_online_s + extract(epoch FROM v_cut - o_since);
        WHEN 'away' THEN o_away_s := o_away_s + extract(epoch FROM v_cut - o_since);
        WHEN 'offline' THEN o_offline_s := o_offline_s + extract(epoch FROM v_cut - o_since);
        ELSE NULL;  -- waiting, left or removed: no presence to count
    END CASE;
END
$$
"""

TRACK_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_attendance_track() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_was text := rollcall_attendance_state(OLD.status, OLD.reported_presence);
    v_now text := rollcall_attendance_state(NEW.status, NEW.reported_presence);
    v_at timestamptz := now();
    v_old record;
BEGIN
    -- A participant row's status, presence or device changes: count the seat move, and when
    -- the participant's place changed, close the stretch it was in and start the next.
    IF NEW.device_id IS DISTINCT FROM OLD.device_id THEN
        NEW.reclaim_count := OLD.reclaim_count + 1;
    END IF;
    IF v_was = v_now THEN
        RETURN NEW;
    END IF;
    IF v_now = 'offline' AND v_was IN ('online', 'away') THEN
        -- The silence began at the last heartbeat, not when the sweep noticed it.
        v_at := least(v_at, coalesce(OLD.last_heartbeat, v_at));
    END IF;
    SELECT * INTO v_old FROM rollcall_attendance(OLD, v_at, NULL);
    v_at := greatest(v_at, v_old.o_since);
    NEW.online_s := v_old.o_online_s;
    NEW.away_s := v_old.o_away_s;
    NEW.offline_s := v_old.o_offline_s;
    NEW.presence_since := v_at;
    NEW.left_at := CASE
        WHEN v_now NOT IN ('left', 'kicked') THEN NULL
        WHEN v_was IN ('left', 'kicked') THEN coalesce(v_old.o_left_at, v_at)  -- unbanned
        ELSE v_at END;
    IF v_was = 'pending' AND v_now = 'kicked' THEN
        NEW.denied := true;
    ELSIF v_now IN ('online', 'away', 'offline') THEN
        NEW.denied := false;
    END IF;
    RETURN NEW;
END
$$
"""

TRACK_TRIGGER = f"""
CREATE OR REPLACE TRIGGER rollcall_attendance
BEFORE UPDATE OF status, reported_presence, device_id ON {TABLE}
FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status
      OR OLD.reported_presence IS DISTINCT FROM NEW.reported_presence
      OR OLD.device_id IS DISTINCT FROM NEW.device_id)
EXECUTE FUNCTION rollcall_attendance_track()
"""

CLOSED_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_event_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.closed_at := now();
    RETURN NEW;
END
$$
"""

CLOSED_TRIGGER = """
CREATE OR REPLACE TRIGGER rollcall_event_closed
BEFORE UPDATE OF status ON events
FOR EACH ROW
WHEN (NEW.status = 'closed' AND OLD.status IS DISTINCT FROM 'closed')
EXECUTE FUNCTION rollcall_event_closed()
"""


def upgrade() -> None:
    ops.set_timeouts()
    ops.lock_tables("events", "event_participants")  # in a join's order, up front
    # Constant defaults: PostgreSQL 11+ adds these columns without rewriting the table.
    for column in ("online_s", "away_s", "offline_s"):
        op.execute(
            f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {column}"
            " double precision NOT NULL DEFAULT 0"
        )
    op.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS presence_since timestamptz")
    ops.execute_justified(
        f"ALTER TABLE {TABLE} ALTER COLUMN presence_since SET DEFAULT now()",
        ignore="prefer-robust-stmts",
        why="Idempotent; a default changes only rows inserted from now on (older rows keep"
        " null: no record of their changes), so no rewrite.",
    )
    op.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS left_at timestamptz")
    op.execute(
        f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS connections bigint NOT NULL DEFAULT 0"
    )
    op.execute(
        f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS reclaim_count bigint NOT NULL DEFAULT 0"
    )
    op.execute(
        f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS denied boolean NOT NULL DEFAULT false"
    )
    op.execute("ALTER TABLE events ADD COLUMN IF NOT EXISTS closed_at timestamptz")

    op.execute(STATE_FUNCTION)
    op.execute(ATTENDANCE_FUNCTION)
    op.execute(TRACK_FUNCTION)
    op.execute(CLOSED_FUNCTION)
    # CREATE TRIGGER holds a SHARE ROW EXCLUSIVE lock for an instant (no scan), under the
    # revision's lock_timeout; OR REPLACE (PostgreSQL 14+) makes a rerun safe.
    op.execute(TRACK_TRIGGER)
    op.execute(CLOSED_TRIGGER)


def downgrade() -> None:
    ops.set_timeouts()
    op.execute("DROP TRIGGER IF EXISTS rollcall_event_closed ON events")
    op.execute(f"DROP TRIGGER IF EXISTS rollcall_attendance ON {TABLE}")
    for signature in (
        "rollcall_event_closed()",
        "rollcall_attendance_track()",
        "rollcall_attendance(event_participants, timestamptz, double precision)",
        "rollcall_attendance_state(text, text)",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    ops.execute_justified(
        "ALTER TABLE events DROP COLUMN IF EXISTS closed_at",
        ignore="ban-drop-column",
        why="Downgrade: removes exactly the column this revision added.",
    )
    ops.execute_justified(
        f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS denied, DROP COLUMN IF EXISTS reclaim_count,"
        " DROP COLUMN IF EXISTS connections, DROP COLUMN IF EXISTS left_at,"
        " DROP COLUMN IF EXISTS presence_since, DROP COLUMN IF EXISTS offline_s,"
        " DROP COLUMN IF EXISTS away_s, DROP COLUMN IF EXISTS online_s",
        ignore="ban-drop-column",
        why="Downgrade: removes exactly the columns this revision added.",
    )
