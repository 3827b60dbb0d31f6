"""Admission and seat reclaim: who may come in, and moving a seat to another phone.

- events.admission ('open' or 'approval'), events.room_check, events.reclaim ('auto',
  'approval', 'off'): the host's switches.
- events.hmac_key: the event's secret for the rotating room check and the recovery codes, kept
  as HMAC-SHA256's inner and outer padded keys (K xor ipad, K xor opad), so that PostgreSQL
  computes an HMAC with two sha256() calls. New events get one from a column default.
- event_participants: status 'pending' (waiting for the host; holds no seat); reclaim_of (a
  waiting request to move that participant's seat to this row's device); the recovery code's
  generation and its digest (unique per event: the code finds its participant); name_skeleton
  (the confusables skeleton, unique per event beside name_key); presence_pace (when the
  participant's next presence change may be announced: two at once, then one a second).
- rollcall_join and rollcall_join_many apply the admission rules too; rollcall_admit admits
  waiting participants in join order while seats last, under the event lock.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 06:00:00+00:00
"""

from uuid import UUID

import psycopg
from alembic import op
from psycopg.rows import TupleRow

from rollcall.db import migrate
from rollcall.db import migration_ops as ops

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLE = "event_participants"

HMAC_FUNCTIONS = """
CREATE OR REPLACE FUNCTION rollcall_new_hmac_key() RETURNS bytea
LANGUAGE sql VOLATILE AS $$
    -- 64 random bytes K (gen_random_uuid draws from the strong random source), stored as
    -- K xor 0x36.. followed by K xor 0x5c.., HMAC's two padded keys.
    SELECT decode(string_agg(lpad(to_hex(get_byte(k.key, i) # 54), 2, '0'), '' ORDER BY i), 'hex')
        || decode(string_agg(lpad(to_hex(get_byte(k.key, i) # 92), 2, '0'), '' ORDER BY i), 'hex')
    FROM (SELECT uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
              || uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) AS key) AS k,
         generate_series(0, 63) AS i
$$;

CREATE OR REPLACE FUNCTION rollcall_hmac(p_key bytea, p_message bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT sha256(substring(p_key FROM 65 FOR 64) || sha256(substring(p_key FROM 1 FOR 64) || p_message))
$$;

CREATE OR REPLACE FUNCTION rollcall_room_check(p_key bytea, p_window bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lpad(((('x' || encode(substring(
        rollcall_hmac(p_key, convert_to('room-check:', 'UTF8') || int8send(p_window)) FROM 1 FOR 4),
        'hex'))::bit(32)::bigint) % 10000)::text, 4, '0')
$$;

CREATE OR REPLACE FUNCTION rollcall_recovery_number(
    p_key bytea, p_participant uuid, p_generation bigint
) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    -- 56 bits of the HMAC, below 30^8: the participant's recovery code as a number. The code
    -- is this number's 8 digits in the event-code alphabet (written out by Python).
    SELECT ('x' || encode(substring(rollcall_hmac(p_key, convert_to('recovery-code:', 'UTF8')
        || uuid_send(p_participant) || int8send(p_generation)) FROM 1 FOR 7), 'hex'))::bit(56)::bigint
        % 656100000000
$$;

CREATE OR REPLACE FUNCTION rollcall_recovery_digest(
    p_key bytea, p_participant uuid, p_generation bigint
) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    -- What is stored to find the participant by code: the SHA-256 of the number, never the code.
    SELECT sha256(int8send(rollcall_recovery_number(p_key, p_participant, p_generation)))
$$;

CREATE OR REPLACE FUNCTION rollcall_free_recovery(
    p_key bytea, p_event_id uuid, p_participant uuid, p_generation bigint,
    OUT o_generation bigint, OUT o_digest bytea
)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- The first generation from p_generation on whose code no one else in the event has.
    -- Called under the event row lock, so no other row can take it meanwhile.
    o_generation := p_generation;
    LOOP
        o_digest := rollcall_recovery_digest(p_key, p_participant, o_generation);
        EXIT WHEN NOT EXISTS (SELECT 1 FROM event_participants AS p
                              WHERE p.event_id = p_event_id AND p.recovery_digest = o_digest
                                AND p.id <> p_participant);
        o_generation := o_generation + 1;
    END LOOP;
END
$$
"""

ROSTER_ENTRY_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_roster_entry(p event_participants, p_presence text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    -- The same shape as the API's roster entry (rollcall.participants.schemas.RosterEntry).
    SELECT jsonb_build_object(
        'id', p.id, 'display_name', p.display_name, 'status', p.status, 'state', p.state,
        'version', p.state_version, 'joined_at', p.join_timestamp, 'reclaims', p.reclaim_of,
        'presence', p_presence, 'last_heartbeat', p.last_heartbeat)
$$
"""

JOIN_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_join(
    p_code text, p_device_id uuid, p_display_name text, p_name_key text, p_name_skeleton text,
    p_token_hash bytea, p_room_check text, p_recovery_digest bytea, p_may_join boolean,
    p_may_guess boolean, p_room_check_s double precision
) RETURNS TABLE (
    outcome text, id uuid, event_id uuid, display_name text, status text, state jsonb,
    state_version bigint, join_timestamp timestamptz, last_heartbeat timestamptz, reclaims uuid,
    recovery_number bigint
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_event events%ROWTYPE;
    v_row event_participants%ROWTYPE;
    v_target event_participants%ROWTYPE;
    v_outcome text;
    v_message jsonb;
    v_seq bigint;
    v_window bigint;
    v_id uuid;
    v_recovery record;
    v_number bigint;
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

    -- A device the event knows rejoins (a waiting one keeps waiting); a kicked one is refused.
    UPDATE event_participants AS p
    SET status = CASE WHEN p.status = 'pending' THEN 'pending' ELSE 'active' END,
        session_token_hash = p_token_hash, away = false, last_heartbeat = now(),
        reported_presence = 'online'
    WHERE p.event_id = p_event_id AND p.device_id = p_device_id AND p.status <> 'kicked'
    RETURNING p.* INTO v_row;

    IF FOUND THEN
        v_outcome := 'rejoined';
    ELSIF EXISTS (SELECT 1 FROM event_participants AS p
                  WHERE p.event_id = p_event_id AND p.device_id = p_device_id) THEN
        outcome := 'banned';
    ELSIF p_recovery_digest IS NOT NULL THEN
        -- Seat reclaim: a new device with a participant's recovery code. Not a new seat, so
        -- lock, capacity and the room check do not apply; the code itself is the proof.
        IF NOT p_may_guess THEN
            outcome := 'guess_limited';
        ELSIF v_event.reclaim = 'off' THEN
            outcome := 'reclaim_disabled';
        ELSE
            SELECT * INTO v_target FROM event_participants AS p
            WHERE p.event_id = p_event_id AND p.recovery_digest = p_recovery_digest FOR UPDATE;
            IF NOT FOUND THEN
                outcome := 'recovery_invalid';
            ELSIF v_target.status = 'kicked' THEN
                outcome := 'banned';
            ELSIF v_event.reclaim = 'approval' AND v_target.status <> 'pending' THEN
                -- The request waits as a participant of its own, named like its target.
                v_id := gen_random_uuid();
                INSERT INTO event_participants AS p (id, event_id, device_id, display_name,
                    name_key, status, reclaim_of, session_token_hash, reported_presence)
                VALUES (v_id, p_event_id, p_device_id, v_target.display_name,
                    v_target.name_key || '#' || v_id, 'pending', v_target.id, p_token_hash,
                    'online')
                RETURNING p.* INTO v_row;
                v_outcome := 'reclaim_pending';
                v_message := jsonb_build_object('type', 'participant.reclaim_requested',
                    'participant_id', v_target.id);
            ELSE
                -- The seat moves: a new device, a new token, and a new code (the used one dies).
                SELECT * INTO v_recovery FROM rollcall_free_recovery(v_event.hmac_key,
                    p_event_id, v_target.id, v_target.recovery_generation + 1);
                UPDATE event_participants AS p
                SET device_id = p_device_id, session_token_hash = p_token_hash,
                    status = CASE WHEN p.status = 'pending' THEN 'pending' ELSE 'active' END,
                    away = false, last_heartbeat = now(), reported_presence = 'online',
                    recovery_generation = v_recovery.o_generation,
                    recovery_digest = v_recovery.o_digest
                WHERE p.id = v_target.id
                RETURNING p.* INTO v_row;
                v_outcome := 'reclaimed';
                v_message := jsonb_build_object('type', 'participant.rejoined', 'reclaimed', true);
            END IF;
        END IF;
    ELSIF NOT p_may_join THEN
        outcome := 'join_limited';
    ELSIF v_event.status = 'locked' THEN
        outcome := 'locked';
    ELSIF v_event.room_check AND NOT p_may_guess THEN
        outcome := 'guess_limited';
    ELSIF v_event.room_check AND p_room_check IS DISTINCT FROM
            rollcall_room_check(v_event.hmac_key, floor(extract(epoch FROM now()) / p_room_check_s)::bigint)
        AND p_room_check IS DISTINCT FROM
            rollcall_room_check(v_event.hmac_key, floor(extract(epoch FROM now()) / p_room_check_s)::bigint - 1)
    THEN
        outcome := 'room_check_failed';
    ELSIF v_event.admission = 'open' AND v_event.seats_taken >= v_event.capacity THEN
        outcome := 'full';
    ELSE
        -- A new participant; with approval on it waits, holding a name but no seat. Should its
        -- recovery code collide with another's (unique per event), the insert does nothing and
        -- the caller tries again with a new id.
        v_id := gen_random_uuid();
        v_number := rollcall_recovery_number(v_event.hmac_key, v_id, 0);
        INSERT INTO event_participants AS p (id, event_id, device_id, display_name, name_key,
            name_skeleton, status, session_token_hash, reported_presence, recovery_digest)
        VALUES (v_id, p_event_id, p_device_id, p_display_name, p_name_key, p_name_skeleton,
            CASE WHEN v_event.admission = 'approval' THEN 'pending' ELSE 'active' END,
            p_token_hash, 'online', sha256(int8send(v_number)))
        ON CONFLICT DO NOTHING
        RETURNING p.* INTO v_row;
        IF FOUND THEN
            v_outcome := CASE WHEN v_row.status = 'pending' THEN 'pending' ELSE 'joined' END;
        ELSIF EXISTS (SELECT 1 FROM event_participants AS p
                      WHERE p.event_id = p_event_id
                        AND (p.name_key = p_name_key OR p.name_skeleton = p_name_skeleton)) THEN
            outcome := 'name_taken';
        ELSE
            outcome := 'retry';
        END IF;
    END IF;
    IF v_outcome IS NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;

    UPDATE events AS e
    SET seq = e.seq + 1,
        seats_taken = e.seats_taken + CASE WHEN v_outcome = 'joined' THEN 1 ELSE 0 END
    WHERE e.id = p_event_id
    RETURNING e.seq INTO v_seq;
    v_message := coalesce(v_message, jsonb_build_object('type', CASE v_outcome
            WHEN 'joined' THEN 'participant.joined'
            WHEN 'pending' THEN 'participant.pending'
            ELSE 'participant.rejoined' END))
        || jsonb_build_object('seq', v_seq, 'participant', rollcall_roster_entry(v_row, 'online'));
    INSERT INTO event_log (event_id, seq, message) VALUES (p_event_id, v_seq, v_message);
    PERFORM pg_notify('rollcall_events',
        json_build_object('event_id', p_event_id, 'seq', v_seq)::text);

    RETURN QUERY SELECT v_outcome, v_row.id, v_row.event_id, v_row.display_name, v_row.status,
        v_row.state, v_row.state_version, v_row.join_timestamp, v_row.last_heartbeat,
        v_row.reclaim_of,
        CASE WHEN v_row.recovery_digest IS NULL THEN NULL
             WHEN v_outcome = 'joined' OR v_outcome = 'pending' THEN v_number
             ELSE rollcall_recovery_number(v_event.hmac_key, v_row.id, v_row.recovery_generation) END;
END
$$
"""

JOIN_MANY_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_join_many(
    p_codes text[], p_device_ids uuid[], p_display_names text[], p_name_keys text[],
    p_name_skeletons text[], p_token_hashes bytea[], p_room_checks text[],
    p_recovery_digests bytea[], p_may_join boolean[], p_may_guess boolean[],
    p_room_check_s double precision
) RETURNS TABLE (
    ord integer, outcome text, id uuid, event_id uuid, display_name text, status text,
    state jsonb, state_version bigint, join_timestamp timestamptz, last_heartbeat timestamptz,
    reclaims uuid, recovery_number bigint
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
            p_display_names[i], p_name_keys[i], p_name_skeletons[i], p_token_hashes[i],
            p_room_checks[i], p_recovery_digests[i], p_may_join[i], p_may_guess[i],
            p_room_check_s) AS j;
    END LOOP;
END
$$
"""

ADMIT_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_admit(p_event_id uuid, p_ids uuid[])
RETURNS TABLE (id uuid, outcome text, participant_id uuid)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_event events%ROWTYPE;
    v_request event_participants%ROWTYPE;
    v_row event_participants%ROWTYPE;
    v_recovery record;
    v_message jsonb;
    v_seq bigint;
    v_id uuid;
BEGIN
    -- Under the event lock, so two hosts admitting at once admit each participant once and
    -- never pass the capacity. p_ids NULL: every waiting join (not seat moves), in join order.
    SELECT * INTO v_event FROM events AS e WHERE e.id = p_event_id FOR UPDATE;
    IF NOT FOUND OR v_event.status = 'closed' THEN
        id := NULL;
        outcome := 'closed';
        RETURN NEXT;
        RETURN;
    END IF;
    -- outcome: admitted, moved (participant_id: whose seat moved), full, banned (the seat to
    -- move was removed meanwhile), not_pending, not_found.
    RETURN QUERY
        SELECT u.id, CASE WHEN p.id IS NULL THEN 'not_found' ELSE 'not_pending' END, p.id
        FROM unnest(p_ids) AS u(id)
        LEFT JOIN event_participants AS p ON p.id = u.id AND p.event_id = p_event_id
        WHERE p.id IS NULL OR p.status <> 'pending';
    FOR v_id IN
        SELECT p.id FROM event_participants AS p
        WHERE p.event_id = p_event_id AND p.status = 'pending'
          AND (CASE WHEN p_ids IS NULL THEN p.reclaim_of IS NULL ELSE p.id = ANY (p_ids) END)
        ORDER BY p.join_timestamp, p.id
    LOOP
        SELECT * INTO v_request FROM event_participants AS p WHERE p.id = v_id FOR UPDATE;
        id := v_id;
        participant_id := v_id;
        IF v_request.reclaim_of IS NOT NULL THEN
            SELECT * INTO v_row FROM event_participants AS p
            WHERE p.id = v_request.reclaim_of AND p.event_id = p_event_id FOR UPDATE;
            IF NOT FOUND OR v_row.status = 'kicked' THEN
                outcome := 'banned';
                RETURN NEXT;
                CONTINUE;
            END IF;
            -- The seat moves to the request's device; the request itself is used up.
            DELETE FROM event_participants AS p WHERE p.id = v_request.id;
            SELECT * INTO v_recovery FROM rollcall_free_recovery(v_event.hmac_key,
                p_event_id, v_row.id, v_row.recovery_generation + 1);
            UPDATE event_participants AS p
            SET device_id = v_request.device_id, session_token_hash = v_request.session_token_hash,
                status = CASE WHEN p.status = 'pending' THEN 'pending' ELSE 'active' END,
                away = false, last_heartbeat = greatest(p.last_heartbeat, v_request.last_heartbeat),
                reported_presence = 'online', recovery_generation = v_recovery.o_generation,
                recovery_digest = v_recovery.o_digest
            WHERE p.id = v_row.id
            RETURNING p.* INTO v_row;
            v_message := jsonb_build_object('type', 'participant.rejoined', 'reclaimed', true,
                'request_id', v_request.id);
            outcome := 'moved';
            participant_id := v_row.id;
        ELSIF v_event.seats_taken >= v_event.capacity THEN
            outcome := 'full';
            RETURN NEXT;
            CONTINUE;
        ELSE
            UPDATE event_participants AS p SET status = 'active', reported_presence = 'online'
            WHERE p.id = v_request.id
            RETURNING p.* INTO v_row;
            v_event.seats_taken := v_event.seats_taken + 1;
            v_message := jsonb_build_object('type', 'participant.joined');
            outcome := 'admitted';
        END IF;
        UPDATE events AS e SET seq = e.seq + 1, seats_taken = v_event.seats_taken
        WHERE e.id = p_event_id
        RETURNING e.seq INTO v_seq;
        INSERT INTO event_log (event_id, seq, message) VALUES (p_event_id, v_seq, v_message
            || jsonb_build_object('seq', v_seq, 'participant', rollcall_roster_entry(v_row, 'online')));
        RETURN NEXT;
    END LOOP;
    IF v_seq IS NOT NULL THEN
        PERFORM pg_notify('rollcall_events',
            json_build_object('event_id', p_event_id, 'seq', v_seq)::text);
    END IF;
END
$$
"""

OLD_JOIN_SIGNATURE = "rollcall_join(text, uuid, text, text, bytea)"
OLD_JOIN_MANY_SIGNATURE = "rollcall_join_many(text[], uuid[], text[], text[], bytea[])"
JOIN_SIGNATURE = (
    "rollcall_join(text, uuid, text, text, text, bytea, text, bytea, boolean, boolean,"
    " double precision)"
)
JOIN_MANY_SIGNATURE = (
    "rollcall_join_many(text[], uuid[], text[], text[], text[], bytea[], text[], bytea[],"
    " boolean[], boolean[], double precision)"
)
HELPER_SIGNATURES = (
    "rollcall_admit(uuid, uuid[])",
    "rollcall_roster_entry(event_participants, text)",
    "rollcall_free_recovery(bytea, uuid, uuid, bigint)",
    "rollcall_recovery_digest(bytea, uuid, bigint)",
    "rollcall_recovery_number(bytea, uuid, bigint)",
    "rollcall_room_check(bytea, bigint)",
    "rollcall_hmac(bytea, bytea)",
    "rollcall_new_hmac_key()",
)

# A few events at a time: each gets its secret, then its participants their recovery codes;
# returns the participant rows walked.
HMAC_KEYS = """
UPDATE events SET hmac_key = rollcall_new_hmac_key()
WHERE id = ANY(%(events)s) AND hmac_key IS NULL
"""

RECOVERY_CODES = f"""
WITH written AS (
    UPDATE {TABLE} AS p
    SET recovery_digest = rollcall_recovery_digest(e.hmac_key, p.id, p.recovery_generation)
    FROM events AS e
    WHERE e.id = p.event_id AND p.event_id = ANY(%(events)s)
      AND p.recovery_digest IS NULL AND p.reclaim_of IS NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM written)
     + (SELECT count(*) FROM {TABLE} WHERE event_id = ANY(%(events)s) AND recovery_digest IS NOT NULL)
"""

# Two participants of one event whose codes collide (about 1 in 13,000 for an event of 10,000):
# all but the first take their next generation, until no two are alike.
RECOVERY_COLLISIONS = f"""
UPDATE {TABLE} AS p
SET recovery_generation = p.recovery_generation + 1,
    recovery_digest = rollcall_recovery_digest(e.hmac_key, p.id, p.recovery_generation + 1)
FROM events AS e, (
    SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY event_id, recovery_digest ORDER BY id) AS rank
        FROM {TABLE} WHERE event_id = ANY(%(events)s) AND recovery_digest IS NOT NULL
    ) AS ranked
    WHERE rank > 1
) AS later
WHERE p.id = later.id AND e.id = p.event_id
"""


# Returns the rows of the events walked (the snapshot is the one before the delete).
DELETE_PENDING = f"""
WITH gone AS (
    DELETE FROM {TABLE} WHERE event_id = ANY(%(events)s) AND status = 'pending' RETURNING 1
)
SELECT count(*) FROM {TABLE} WHERE event_id = ANY(%(events)s)
"""


def _keys_and_codes(walk: ops.Walk, conn: psycopg.Connection[TupleRow], events: list[UUID]) -> int:
    """The events' secrets, then their participants' recovery codes; returns the rows walked."""
    walk.run(conn, HMAC_KEYS, {"events": events})
    counted = walk.run(conn, RECOVERY_CODES, {"events": events}).fetchone()
    assert counted is not None
    while walk.run(conn, RECOVERY_COLLISIONS, {"events": events}).rowcount:
        pass
    return int(counted[0])


def upgrade() -> None:
    ops.set_timeouts()
    ops.lock_tables("events", "event_participants")  # in a join's order, up front
    op.execute(HMAC_FUNCTIONS)

    op.execute("ALTER TABLE events ADD COLUMN IF NOT EXISTS admission text NOT NULL DEFAULT 'open'")
    op.execute(
        "ALTER TABLE events ADD COLUMN IF NOT EXISTS room_check boolean NOT NULL DEFAULT false"
    )
    op.execute("ALTER TABLE events ADD COLUMN IF NOT EXISTS reclaim text NOT NULL DEFAULT 'auto'")
    op.execute("ALTER TABLE events ADD COLUMN IF NOT EXISTS hmac_key bytea")
    ops.execute_justified(
        "ALTER TABLE events ALTER COLUMN hmac_key SET DEFAULT rollcall_new_hmac_key()",
        ignore="prefer-robust-stmts",
        why="Idempotent; and a default changes only rows inserted from now on, so no rewrite.",
    )
    ops.add_check_not_valid(
        table="events", name="events_admission_check", check="admission IN ('open', 'approval')"
    )
    ops.add_check_not_valid(
        table="events", name="events_reclaim_check", check="reclaim IN ('auto', 'approval', 'off')"
    )

    op.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS name_skeleton text")
    op.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS reclaim_of uuid")
    op.execute(
        f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS recovery_generation bigint"
        " NOT NULL DEFAULT 0"
    )
    op.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS recovery_digest bytea")
    op.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS presence_pace timestamptz")
    ops.add_check_not_valid(
        table=TABLE,
        name="event_participants_status_check",
        check="status IN ('pending', 'active', 'left', 'kicked')",
    )
    ops.validate_constraint(table="events", name="events_admission_check")
    ops.validate_constraint(table="events", name="events_reclaim_check")
    ops.validate_constraint(table=TABLE, name="event_participants_status_check")

    ops.backfill_by_event(
        label="event secrets and recovery codes",
        table=TABLE,
        batch=_keys_and_codes,
        describe=";\n".join(s.strip() for s in (HMAC_KEYS, RECOVERY_CODES, RECOVERY_COLLISIONS)),
    )
    ops.set_not_null_through_check(table="events", column="hmac_key")
    ops.add_unique_constraint_concurrently(
        table=TABLE, name="unique_recovery_code_per_event", columns="event_id, recovery_digest"
    )
    ops.add_unique_constraint_concurrently(
        table=TABLE, name="unique_name_skeleton_per_event", columns="event_id, name_skeleton"
    )

    op.execute(ROSTER_ENTRY_FUNCTION)
    for signature in (OLD_JOIN_MANY_SIGNATURE, OLD_JOIN_SIGNATURE):
        ops.execute_justified(
            f"DROP FUNCTION IF EXISTS {signature}",
            ignore="ban-drop-function",
            why="rollcall's own join function, replaced by the one below with more parameters;"
            " this version of rollcall calls only the new one (the downgrade restores it).",
        )
    op.execute(JOIN_FUNCTION)
    op.execute(JOIN_MANY_FUNCTION)
    op.execute(ADMIT_FUNCTION)


def downgrade() -> None:
    ops.set_timeouts()
    op.execute(f"DROP FUNCTION IF EXISTS {JOIN_MANY_SIGNATURE}")
    op.execute(f"DROP FUNCTION IF EXISTS {JOIN_SIGNATURE}")
    previous = migrate.revision_module("0005")  # its functions, to the letter
    op.execute(previous.JOIN_FUNCTION)
    op.execute(previous.JOIN_MANY_FUNCTION)

    op.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS unique_name_skeleton_per_event")
    op.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS unique_recovery_code_per_event")
    ops.commit()  # the drops above lock the table: release it before a pass over its rows
    # Waiting participants and seat requests have no place in the older schema: they held no
    # seat and were never let in, so they go, a few events at a time.
    ops.backfill_by_event(
        label="waiting participants removed",
        table=TABLE,
        batch=ops.one_statement(DELETE_PENDING),
        describe=DELETE_PENDING,
    )
    ops.add_check_not_valid(
        table=TABLE,
        name="event_participants_status_check",
        check="status IN ('active', 'left', 'kicked')",
    )
    ops.validate_constraint(table=TABLE, name="event_participants_status_check")
    ops.execute_justified(
        f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS presence_pace,"
        " DROP COLUMN IF EXISTS recovery_digest, DROP COLUMN IF EXISTS recovery_generation,"
        " DROP COLUMN IF EXISTS reclaim_of, DROP COLUMN IF EXISTS name_skeleton",
        ignore="ban-drop-column",
        why="Downgrade: removes exactly the columns this revision added.",
    )
    op.execute("ALTER TABLE events DROP CONSTRAINT IF EXISTS events_reclaim_check")
    op.execute("ALTER TABLE events DROP CONSTRAINT IF EXISTS events_admission_check")
    ops.execute_justified(
        "ALTER TABLE events DROP COLUMN IF EXISTS hmac_key, DROP COLUMN IF EXISTS reclaim,"
        " DROP COLUMN IF EXISTS room_check, DROP COLUMN IF EXISTS admission",
        ignore="ban-drop-column",
        why="Downgrade: removes exactly the columns this revision added.",
    )
    for signature in HELPER_SIGNATURES:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
