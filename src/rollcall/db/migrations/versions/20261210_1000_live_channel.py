"""The live channel: event state, actions, receipts.

- events.state (a JSON object the host or the app owns) and events.state_version (0 at
  creation, +1 on each change): what every phone of the event is shown.
- actions: what phones sent the host, each stored once per (participant, the phone's id), in
  the event log's seq order (the seq of its participant.action message). The unique constraint
  decides idempotency; rollcall_act stores one under the event row lock.
- event_participants.seen_event_version and seen_version: the event-state version and the
  participant-state version the phone last said it has shown (its receipts).
- rollcall_roster_entry gives each roster entry the two receipt columns.

Every column is added with a constant default (no rewrite, and the previous release's inserts
fill them); the table is new and empty.

Revision ID: live_channel
Revises: names_seats_teams
Create Date: 2026-12-10 10:00:00+00:00
"""

from alembic import op

from rollcall.db import migrate
from rollcall.db import migration_ops as ops

revision = "live_channel"
down_revision = "names_seats_teams"
branch_labels = None
depends_on = None

NEW_TABLE = "A new, empty table: nothing reads or writes it until this revision commits."

ROSTER_ENTRY_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_roster_entry(p event_participants, p_presence text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    -- The same shape as the API's roster entry (rollcall.participants.schemas.RosterEntry).
    SELECT jsonb_build_object(
        'id', p.id, 'display_name', p.display_name, 'status', p.status, 'state', p.state,
        'version', p.state_version, 'joined_at', p.join_timestamp, 'reclaims', p.reclaim_of,
        'team', p.team, 'has_phone', p.device_id IS NOT NULL,
        'presence', p_presence, 'last_heartbeat', p.last_heartbeat,
        'seen_event_version', p.seen_event_version, 'seen_version', p.seen_version)
$$
"""

ACT_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_act(
    p_participant_id uuid, p_action_id text, p_name text, p_data jsonb,
    OUT o_outcome text, OUT o_seq bigint, OUT o_acted_at timestamptz
)
LANGUAGE plpgsql AS $$
DECLARE
    v_event_id uuid;
    v_event_status text;
    v_status text;
BEGIN
    -- One action of a participant: 'stored' (a new seq), 'duplicate' (the seq of the first
    -- with this id), or why not: 'closed', 'pending', 'ended' (left, kicked or gone).
    SELECT p.event_id INTO v_event_id FROM event_participants AS p WHERE p.id = p_participant_id;
    IF NOT FOUND THEN
        o_outcome := 'ended';
        RETURN;
    END IF;
    -- The event first, as every change to its log: its messages commit in seq order.
    SELECT e.status INTO v_event_status FROM events AS e WHERE e.id = v_event_id FOR UPDATE;
    SELECT p.status INTO v_status FROM event_participants AS p WHERE p.id = p_participant_id;
    IF v_event_status = 'closed' THEN
        o_outcome := 'closed';
        RETURN;
    ELSIF v_status = 'pending' THEN
        o_outcome := 'pending';
        RETURN;
    ELSIF v_status IS DISTINCT FROM 'active' THEN
        o_outcome := 'ended';
        RETURN;
    END IF;

    -- The same (participant, id) is stored once: the first one stands.
    INSERT INTO actions AS a (event_id, seq, participant_id, action_id, name, data)
    SELECT v_event_id, e.seq + 1, p_participant_id, p_action_id, p_name, p_data
    FROM events AS e WHERE e.id = v_event_id
    ON CONFLICT (participant_id, action_id) DO NOTHING
    RETURNING a.seq, a.acted_at INTO o_seq, o_acted_at;
    IF NOT FOUND THEN
        SELECT a.seq, a.acted_at INTO o_seq, o_acted_at FROM actions AS a
        WHERE a.participant_id = p_participant_id AND a.action_id = p_action_id;
        o_outcome := 'duplicate';
        RETURN;
    END IF;

    UPDATE events SET seq = o_seq WHERE id = v_event_id;
    INSERT INTO event_log (event_id, seq, message)
    VALUES (v_event_id, o_seq, jsonb_build_object('type', 'participant.action', 'seq', o_seq,
        'participant_id', p_participant_id, 'id', p_action_id, 'name', p_name, 'data', p_data,
        'at', o_acted_at));
    PERFORM pg_notify('rollcall_events', json_build_object('event_id', v_event_id, 'seq', o_seq,
        'type', 'participant.action', 'about', json_build_array(p_participant_id))::text);
    o_outcome := 'stored';
END
$$
"""

ACT_SIGNATURE = "rollcall_act(uuid, text, text, jsonb)"


def upgrade() -> None:
    ops.set_timeouts()
    ops.lock_tables("events", "event_participants")  # in a join's order, up front
    op.execute("ALTER TABLE events ADD COLUMN IF NOT EXISTS state jsonb NOT NULL DEFAULT '{}'")
    op.execute(
        "ALTER TABLE events ADD COLUMN IF NOT EXISTS state_version bigint NOT NULL DEFAULT 0"
    )
    op.execute(
        "ALTER TABLE event_participants"
        " ADD COLUMN IF NOT EXISTS seen_event_version bigint NOT NULL DEFAULT 0"
    )
    op.execute(
        "ALTER TABLE event_participants"
        " ADD COLUMN IF NOT EXISTS seen_version bigint NOT NULL DEFAULT 0"
    )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS actions (
            event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
            seq bigint NOT NULL,
            participant_id uuid NOT NULL REFERENCES event_participants (id) ON DELETE CASCADE,
            action_id text NOT NULL,
            name text NOT NULL,
            data jsonb,
            acted_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT actions_pkey PRIMARY KEY (event_id, seq),
            CONSTRAINT actions_once_per_participant UNIQUE (participant_id, action_id)
        )
        """
    )
    op.execute(ROSTER_ENTRY_FUNCTION)
    op.execute(ACT_FUNCTION)


def downgrade() -> None:
    ops.set_timeouts()
    op.execute(f"DROP FUNCTION IF EXISTS {ACT_SIGNATURE}")
    previous = migrate.revision_module("names_seats_teams")  # its roster entry, to the letter
    op.execute(previous.ROSTER_ENTRY_FUNCTION)
    op.execute("DROP TABLE IF EXISTS actions")
    ops.execute_justified(
        "ALTER TABLE event_participants DROP COLUMN IF EXISTS seen_version,"
        " DROP COLUMN IF EXISTS seen_event_version",
        ignore="ban-drop-column",
        why="Downgrade: removes exactly the columns this revision added.",
    )
    ops.execute_justified(
        "ALTER TABLE events DROP COLUMN IF EXISTS state_version, DROP COLUMN IF EXISTS state",
        ignore="ban-drop-column",
        why="Downgrade: removes exactly the columns this revision added.",
    )
