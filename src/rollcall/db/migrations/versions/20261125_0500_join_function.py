"""Join and rejoin as database functions: the rules in one place, many joins per commit.

A join must lock its event row (seats, message order), and a row lock lasts until the commit
is on disk: one join per transaction would cap an event at one join per disk flush, however
many phones are waiting. rollcall_join applies DESIGN.md's rules, in order, for one device;
rollcall_join_many runs it for a batch of devices in one transaction, so a stampede of joins
into one event costs one flush per batch instead of one per phone.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 05:00:00+00:00
"""

from alembic import op

from rollcall.db import migration_ops as ops

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JOIN_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_join(
    p_code text, p_device_id uuid, p_display_name text, p_name_key text, p_token_hash bytea
) RETURNS TABLE (
    outcome text, id uuid, event_id uuid, display_name text, status text, state jsonb,
    state_version bigint, join_timestamp timestamptz, last_heartbeat timestamptz
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_event events%ROWTYPE;
    v_row event_participants%ROWTYPE;
    v_kind text;
    v_seq bigint;
    p_event_id uuid;
BEGIN
    -- The event first, always: every roster change locks it before any participant row.
    SELECT * INTO v_event FROM events AS e WHERE e.code = p_code FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'not_found';
        RETURN NEXT;
        RETURN;
    END IF;
    p_event_id := v_event.id;
    IF v_event.status = 'closed' THEN
        outcome := 'closed';
        RETURN NEXT;
        RETURN;
    END IF;

    UPDATE event_participants AS p
    SET status = 'active', session_token_hash = p_token_hash, away = false,
        last_heartbeat = now(), reported_presence = 'online'
    WHERE p.event_id = p_event_id AND p.device_id = p_device_id AND p.status <> 'kicked'
    RETURNING p.* INTO v_row;

    IF FOUND THEN
        v_kind := 'participant.rejoined';
    ELSIF EXISTS (SELECT 1 FROM event_participants AS p
                  WHERE p.event_id = p_event_id AND p.device_id = p_device_id) THEN
        outcome := 'banned';
    ELSIF v_event.status = 'locked' THEN
        outcome := 'locked';
    ELSIF v_event.seats_taken >= v_event.capacity THEN
        outcome := 'full';
    ELSE
        INSERT INTO event_participants AS p (event_id, device_id, display_name, name_key,
            session_token_hash, reported_presence)
        VALUES (p_event_id, p_device_id, p_display_name, p_name_key, p_token_hash, 'online')
        ON CONFLICT DO NOTHING
        RETURNING p.* INTO v_row;
        IF FOUND THEN
            v_kind := 'participant.joined';
        ELSIF EXISTS (SELECT 1 FROM event_participants AS p
                      WHERE p.event_id = p_event_id AND p.name_key = p_name_key) THEN
            outcome := 'name_taken';
        ELSE
            outcome := 'retry';
        END IF;
    END IF;
    IF v_kind IS NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;

    UPDATE events AS e
    SET seq = e.seq + 1,
        seats_taken = e.seats_taken + CASE WHEN v_kind = 'participant.joined' THEN 1 ELSE 0 END
    WHERE e.id = p_event_id
    RETURNING e.seq INTO v_seq;
    -- The same shape as the API's roster entry (rollcall.participants.schemas.RosterEntry).
    INSERT INTO event_log (event_id, seq, message) VALUES (p_event_id, v_seq, jsonb_build_object(
        'type', v_kind, 'seq', v_seq, 'participant', jsonb_build_object(
            'id', v_row.id, 'display_name', v_row.display_name, 'status', v_row.status,
            'state', v_row.state, 'version', v_row.state_version,
            'joined_at', v_row.join_timestamp, 'presence', 'online',
            'last_heartbeat', v_row.last_heartbeat)));
    PERFORM pg_notify('rollcall_events',
        json_build_object('event_id', p_event_id, 'seq', v_seq)::text);

    RETURN QUERY SELECT v_kind, v_row.id, v_row.event_id, v_row.display_name, v_row.status,
        v_row.state, v_row.state_version, v_row.join_timestamp, v_row.last_heartbeat;
END
$$
"""

JOIN_MANY_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_join_many(
    p_codes text[], p_device_ids uuid[], p_display_names text[], p_name_keys text[],
    p_token_hashes bytea[]
) RETURNS TABLE (
    ord integer, outcome text, id uuid, event_id uuid, display_name text, status text,
    state jsonb, state_version bigint, join_timestamp timestamptz, last_heartbeat timestamptz
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    i integer;
BEGIN
    -- Events in id order, as the presence sweep locks them: two batches never deadlock.
    FOR i IN
        SELECT g.i FROM generate_subscripts(p_codes, 1) AS g(i)
        LEFT JOIN events AS e ON e.code = p_codes[g.i]
        ORDER BY e.id, g.i
    LOOP
        RETURN QUERY SELECT i, j.* FROM rollcall_join(p_codes[i], p_device_ids[i],
            p_display_names[i], p_name_keys[i], p_token_hashes[i]) AS j;
    END LOOP;
END
$$
"""


def upgrade() -> None:
    ops.set_timeouts()
    op.execute(JOIN_FUNCTION)
    op.execute(JOIN_MANY_FUNCTION)


def downgrade() -> None:
    ops.set_timeouts()
    op.execute(
        "DROP FUNCTION IF EXISTS rollcall_join_many(text[], uuid[], text[], text[], bytea[])"
    )
    op.execute("DROP FUNCTION IF EXISTS rollcall_join(text, uuid, text, text, bytea)")
