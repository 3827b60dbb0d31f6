"""Set-based join batches: a batch costs one event update, one insert, one log write per event.

Revision 0006's rollcall_join_many ran rollcall_join once per join: each join updated its
event row (seq, seats), wrote its log row and NOTIFYed on its own, so inside one transaction
every join walked a longer chain of versions of the event row, and a batch's cost per join
grew with its size. Now, per event of the batch (locked once, in id order, as before):

- rollcall_join_set takes the ordinary joins (devices new to the batch, no recovery code) as
  sets: one UPDATE for the rejoins, one INSERT ... ORDER BY ord ON CONFLICT DO NOTHING for the
  new participants (the first of two equal names wins, as one after the other would).
- rollcall_join_one is rollcall_join's rules for one device, without touching the event row,
  the log or NOTIFY: the rare joins (a seat reclaim, a device already in the batch) run it one
  by one, in their place, between the sets.
- The event row is updated once (seq by the number of log rows, seats by the new seats), the
  log rows are written in one statement in join order, and one NOTIFY carries the last seq:
  the listeners read the log after their cursor, so one is enough.

rollcall_join keeps its behaviour, now written on top of rollcall_join_one. The result is the
same as running the joins one after the other in their order, even within one batch.

Revision ID: join_batches
Revises: webhooks
Create Date: 2026-12-01 08:00:00+00:00
"""

from alembic import op

from rollcall.db import migration_ops as ops
from rollcall.db import schema

revision = "join_batches"
down_revision = "webhooks"
branch_labels = None
depends_on = None

JOIN_ONE_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_join_one(
    p_event events, p_device_id uuid, p_display_name text, p_name_key text,
    p_name_skeleton text, p_token_hash bytea, p_room_check text, p_recovery_digest bytea,
    p_may_join boolean, p_may_guess boolean, p_room_check_s double precision,
    OUT o_outcome text, OUT o_participant event_participants, OUT o_number bigint,
    OUT o_message jsonb
)
LANGUAGE plpgsql AS $$
DECLARE
    v_row event_participants%ROWTYPE;
    v_target event_participants%ROWTYPE;
    v_recovery record;
    v_id uuid;
    v_number bigint;
    v_event_id uuid := p_event.id;
BEGIN
    -- One join's rules, in order, for an event the caller has locked, with its seats_taken as
    -- of this join. The event row, the log and NOTIFY are the caller's: o_message is the
    -- message to log (all but its seq), NULL when nothing changed.

    -- A device the event knows rejoins (a waiting one keeps waiting); a kicked one is refused.
    UPDATE event_participants AS p
    SET status = CASE WHEN p.status = 'pending' THEN 'pending' ELSE 'active' END,
        session_token_hash = p_token_hash, away = false, last_heartbeat = now(),
        reported_presence = 'online'
    WHERE p.event_id = v_event_id AND p.device_id = p_device_id AND p.status <> 'kicked'
    RETURNING p.* INTO v_row;

    IF FOUND THEN
        o_outcome := 'rejoined';
    ELSIF EXISTS (SELECT 1 FROM event_participants AS p
                  WHERE p.event_id = v_event_id AND p.device_id = p_device_id) THEN
        o_outcome := 'banned';
    ELSIF p_recovery_digest IS NOT NULL THEN
        -- Seat reclaim: a new device with a participant's recovery code. Not a new seat, so
        -- lock, capacity and the room check do not apply; the code itself is the proof.
        IF NOT p_may_guess THEN
            o_outcome := 'guess_limited';
        ELSIF p_event.reclaim = 'off' THEN
            o_outcome := 'reclaim_disabled';
        ELSE
            SELECT * INTO v_target FROM event_participants AS p
            WHERE p.event_id = v_event_id AND p.recovery_digest = p_recovery_digest FOR UPDATE;
            IF NOT FOUND THEN
                o_outcome := 'recovery_invalid';
            ELSIF v_target.status = 'kicked' THEN
                o_outcome := 'banned';
            ELSIF p_event.reclaim = 'approval' AND v_target.status <> 'pending' THEN
                -- The request waits as a participant of its own, named like its target.
                v_id := gen_random_uuid();
                INSERT INTO event_participants AS p (id, event_id, device_id, display_name,
                    name_key, status, reclaim_of, session_token_hash, reported_presence)
                VALUES (v_id, v_event_id, p_device_id, v_target.display_name,
                    v_target.name_key || '#' || v_id, 'pending', v_target.id, p_token_hash,
                    'online')
                RETURNING p.* INTO v_row;
                o_outcome := 'reclaim_pending';
                o_message := jsonb_build_object('type', 'participant.reclaim_requested',
                    'participant_id', v_target.id);
            ELSE
                -- The seat moves: a new device, a new token, and a new code (the used one dies).
                SELECT * INTO v_recovery FROM rollcall_free_recovery(p_event.hmac_key,
                    v_event_id, v_target.id, v_target.recovery_generation + 1);
                UPDATE event_participants AS p
                SET device_id = p_device_id, session_token_hash = p_token_hash,
                    status = CASE WHEN p.status = 'pending' THEN 'pending' ELSE 'active' END,
                    away = false, last_heartbeat = now(), reported_presence = 'online',
                    recovery_generation = v_recovery.o_generation,
                    recovery_digest = v_recovery.o_digest
                WHERE p.id = v_target.id
                RETURNING p.* INTO v_row;
                o_outcome := 'reclaimed';
                o_message := jsonb_build_object('type', 'participant.rejoined', 'reclaimed', true);
            END IF;
        END IF;
    ELSIF NOT p_may_join THEN
        o_outcome := 'join_limited';
    ELSIF p_event.status = 'locked' THEN
        o_outcome := 'locked';
    ELSIF p_event.room_check AND NOT p_may_guess THEN
        o_outcome := 'guess_limited';
    ELSIF p_event.room_check AND p_room_check IS DISTINCT FROM
            rollcall_room_check(p_event.hmac_key, floor(extract(epoch FROM now()) / p_room_check_s)::bigint)
        AND p_room_check IS DISTINCT FROM
            rollcall_room_check(p_event.hmac_key, floor(extract(epoch FROM now()) / p_room_check_s)::bigint - 1)
    THEN
        o_outcome := 'room_check_failed';
    ELSIF p_event.admission = 'open' AND p_event.seats_taken >= p_event.capacity THEN
        o_outcome := 'full';
    ELSE
        -- A new participant; with approval on it waits, holding a name but no seat. Should its
        -- recovery code collide with another's (unique per event), the insert does nothing and
        -- the caller tries again with a new id.
        v_id := gen_random_uuid();
        v_number := rollcall_recovery_number(p_event.hmac_key, v_id, 0);
        INSERT INTO event_participants AS p (id, event_id, device_id, display_name, name_key,
            name_skeleton, status, session_token_hash, reported_presence, recovery_digest)
        VALUES (v_id, v_event_id, p_device_id, p_display_name, p_name_key, p_name_skeleton,
            CASE WHEN p_event.admission = 'approval' THEN 'pending' ELSE 'active' END,
            p_token_hash, 'online', sha256(int8send(v_number)))
        ON CONFLICT DO NOTHING
        RETURNING p.* INTO v_row;
        IF FOUND THEN
            o_outcome := CASE WHEN v_row.status = 'pending' THEN 'pending' ELSE 'joined' END;
        ELSIF EXISTS (SELECT 1 FROM event_participants AS p
                      WHERE p.event_id = v_event_id
                        AND (p.name_key = p_name_key OR p.name_skeleton = p_name_skeleton)) THEN
            o_outcome := 'name_taken';
        ELSE
            o_outcome := 'retry';
        END IF;
    END IF;
    IF o_outcome NOT IN ('rejoined', 'joined', 'pending', 'reclaimed', 'reclaim_pending') THEN
        RETURN;
    END IF;
    o_participant := v_row;
    o_message := coalesce(o_message, jsonb_build_object('type', CASE o_outcome
            WHEN 'joined' THEN 'participant.joined'
            WHEN 'pending' THEN 'participant.pending'
            ELSE 'participant.rejoined' END))
        || jsonb_build_object('participant', rollcall_roster_entry(v_row, 'online'));
    o_number := CASE WHEN v_row.recovery_digest IS NULL THEN NULL
        WHEN o_outcome = 'joined' OR o_outcome = 'pending' THEN v_number
        ELSE rollcall_recovery_number(p_event.hmac_key, v_row.id, v_row.recovery_generation) END;
END
$$
"""

JOIN_SET_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_join_set(
    p_event events, p_ords integer[], p_device_ids uuid[], p_display_names text[],
    p_name_keys text[], p_name_skeletons text[], p_token_hashes bytea[], p_room_checks text[],
    p_may_join boolean[], p_may_guess boolean[], p_room_check_s double precision
) RETURNS TABLE (
    o_ord integer, o_outcome text, o_participant event_participants, o_number bigint,
    o_message jsonb
)
LANGUAGE plpgsql
-- Planned once per session: a custom plan of this statement, made on every call, cost more
-- than a whole batch of one.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_event_id uuid := p_event.id;
    v_check_now text;
    v_check_before text;
    v_ids uuid[];
BEGIN
    -- The joins p_ords (positions in the p_ arrays) into one event the caller has locked, as
    -- sets, with the outcome rollcall_join_one would give each in turn. The caller makes sure
    -- that no device comes twice, none carries a recovery code, and, with admission open, the
    -- seats left (p_event's) are either none or enough for all of them: so the joins do not
    -- depend on each other but for their names. The event row, log and NOTIFY are the caller's.
    IF p_event.room_check THEN
        v_check_now := rollcall_room_check(p_event.hmac_key,
            floor(extract(epoch FROM now()) / p_room_check_s)::bigint);
        v_check_before := rollcall_room_check(p_event.hmac_key,
            floor(extract(epoch FROM now()) / p_room_check_s)::bigint - 1);
    END IF;
    -- The id a new participant of each join would get: known before the insert, so that an
    -- inserted row finds its join by array_position, without a join between the two (planned
    -- for a few rows, a nested loop over the inserted rows, which grows as the square).
    v_ids := ARRAY(SELECT gen_random_uuid() FROM unnest(p_ords));

    RETURN QUERY
    WITH item AS (
        SELECT i.ord, i.k, p_device_ids[i.ord] AS device_id,
            p_token_hashes[i.ord] AS token_hash,
            (SELECT p.status FROM event_participants AS p
             WHERE p.event_id = v_event_id AND p.device_id = p_device_ids[i.ord]) AS known
        FROM unnest(p_ords) WITH ORDINALITY AS i(ord, k)
    ), rejoined AS (
        -- A device the event knows rejoins (a waiting one keeps waiting).
        UPDATE event_participants AS p
        SET status = CASE WHEN p.status = 'pending' THEN 'pending' ELSE 'active' END,
            session_token_hash = item.token_hash, away = false, last_heartbeat = now(),
            reported_presence = 'online'
        FROM item
        WHERE p.event_id = v_event_id AND p.device_id = item.device_id AND p.status <> 'kicked'
        RETURNING item.ord, p AS participant
    ), ruled AS (
        -- A device the event does not know: the rules in their order, up to the name.
        SELECT item.ord, item.k, item.device_id, item.token_hash, v_ids[item.k] AS id,
            p_display_names[item.ord] AS display_name, p_name_keys[item.ord] AS name_key,
            p_name_skeletons[item.ord] AS name_skeleton,
            CASE WHEN item.known IS NOT NULL THEN 'banned'
                 WHEN NOT p_may_join[item.ord] THEN 'join_limited'
                 WHEN p_event.status = 'locked' THEN 'locked'
                 WHEN p_event.room_check AND NOT p_may_guess[item.ord] THEN 'guess_limited'
                 WHEN p_event.room_check
                      AND p_room_checks[item.ord] IS DISTINCT FROM v_check_now
                      AND p_room_checks[item.ord] IS DISTINCT FROM v_check_before
                     THEN 'room_check_failed'
                 WHEN p_event.admission = 'open' AND p_event.seats_taken >= p_event.capacity
                     THEN 'full'
            END AS refused
        FROM item WHERE item.known IS NULL OR item.known = 'kicked'
    ), candidate AS (
        SELECT r.*, rollcall_recovery_number(p_event.hmac_key, r.id, 0) AS number
        FROM ruled AS r WHERE r.refused IS NULL
    ), inserted AS (
        -- In join order: of two equal names (or look-alikes) the first is kept, as one join
        -- after the other would. A recovery code that collides makes that join 'retry'.
        INSERT INTO event_participants AS p (id, event_id, device_id, display_name, name_key,
            name_skeleton, status, session_token_hash, reported_presence, recovery_digest)
        SELECT c.id, v_event_id, c.device_id, c.display_name, c.name_key, c.name_skeleton,
            CASE WHEN p_event.admission = 'approval' THEN 'pending' ELSE 'active' END,
            c.token_hash, 'online', sha256(int8send(c.number))
        FROM candidate AS c
        ORDER BY c.ord
        ON CONFLICT DO NOTHING
        RETURNING p.id, p AS participant
    ), settled AS (
        SELECT r.ord, 'rejoined' AS outcome, r.participant,
            CASE WHEN (r.participant).recovery_digest IS NULL THEN NULL
                 ELSE rollcall_recovery_number(p_event.hmac_key, (r.participant).id,
                     (r.participant).recovery_generation) END AS number
        FROM rejoined AS r
        UNION ALL
        SELECT p_ords[array_position(v_ids, n.id)],
            CASE WHEN (n.participant).status = 'pending' THEN 'pending' ELSE 'joined' END,
            n.participant, rollcall_recovery_number(p_event.hmac_key, n.id, 0)
        FROM inserted AS n
        UNION ALL
        SELECT c.ord,
            -- The name was taken before the batch, or by a join ahead of this one.
            CASE WHEN EXISTS (SELECT 1 FROM event_participants AS p
                              WHERE p.event_id = v_event_id
                                AND (p.name_key = c.name_key OR p.name_skeleton = c.name_skeleton))
                   OR EXISTS (SELECT 1 FROM inserted AS e
                              WHERE array_position(v_ids, e.id) < c.k
                                AND ((e.participant).name_key = c.name_key
                                     OR (e.participant).name_skeleton = c.name_skeleton))
                     THEN 'name_taken'
                 ELSE 'retry'
            END,
            NULL, NULL
        FROM candidate AS c
        WHERE c.id NOT IN (SELECT n.id FROM inserted AS n)
        UNION ALL
        SELECT r.ord, r.refused, NULL, NULL FROM ruled AS r WHERE r.refused IS NOT NULL
    )
    SELECT s.ord, s.outcome, s.participant, s.number,
        CASE WHEN s.outcome IN ('joined', 'pending', 'rejoined') THEN
            jsonb_build_object('type', 'participant.' || s.outcome,
                'participant', rollcall_roster_entry(s.participant, 'online'))
        END
    FROM settled AS s;
END
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
    v_one record;
    v_seq bigint;
BEGIN
    -- The event first, always: every roster change locks it before any participant row.
    SELECT * INTO v_event FROM events AS e WHERE e.code = p_code FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'not_found';
        RETURN NEXT;
        RETURN;
    END IF;
    IF v_event.status = 'closed' THEN
        outcome := 'closed';
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT * INTO v_one FROM rollcall_join_one(v_event, p_device_id, p_display_name,
        p_name_key, p_name_skeleton, p_token_hash, p_room_check, p_recovery_digest, p_may_join,
        p_may_guess, p_room_check_s);
    IF v_one.o_message IS NULL THEN
        outcome := v_one.o_outcome;
        RETURN NEXT;
        RETURN;
    END IF;

    UPDATE events AS e
    SET seq = e.seq + 1,
        seats_taken = e.seats_taken + CASE WHEN v_one.o_outcome = 'joined' THEN 1 ELSE 0 END
    WHERE e.id = v_event.id
    RETURNING e.seq INTO v_seq;
    INSERT INTO event_log (event_id, seq, message)
    VALUES (v_event.id, v_seq, v_one.o_message || jsonb_build_object('seq', v_seq));
    PERFORM pg_notify('rollcall_events',
        json_build_object('event_id', v_event.id, 'seq', v_seq)::text);

    RETURN QUERY SELECT v_one.o_outcome, (v_one.o_participant).id,
        (v_one.o_participant).event_id, (v_one.o_participant).display_name,
        (v_one.o_participant).status, (v_one.o_participant).state,
        (v_one.o_participant).state_version, (v_one.o_participant).join_timestamp,
        (v_one.o_participant).last_heartbeat, (v_one.o_participant).reclaim_of, v_one.o_number;
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
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan  -- as rollcall_join_set: its statements planned once
AS $$
#variable_conflict use_column
DECLARE
    v_event events%ROWTYPE;
    v_refused text := 'not_found';  -- why every join into the current event is refused
    v_part record;
    v_single integer[];
    v_set integer[];
    v_i integer;
    v_one record;
    -- Each join's outcome, collected over the whole batch (not in ord order).
    v_ords integer[] := '{}';
    v_events uuid[] := '{}';
    v_outcomes text[] := '{}';
    v_rows event_participants[] := '{}';
    v_numbers bigint[] := '{}';
    v_messages jsonb[] := '{}';
    v_joined integer;
BEGIN
    -- The batch's joins by event, in event id order (as the presence sweep locks them: two
    -- batches never deadlock), and in join order (ord) within an event, in parts: a rare join
    -- (a seat reclaim, or a device seen earlier in the batch, whose outcome depends on the
    -- joins before it) alone, then the ordinary joins up to the next rare one, as one set.
    FOR v_part IN
        SELECT r.event, max(r.i) FILTER (WHERE r.rare) AS rare,
            array_agg(r.i ORDER BY r.i) FILTER (WHERE NOT r.rare) AS common
        FROM (
            SELECT k.event, k.i, k.rare,
                count(*) FILTER (WHERE k.rare) OVER (PARTITION BY k.event ORDER BY k.i) AS part
            FROM (
                SELECT e.id AS event, g.i, p_recovery_digests[g.i] IS NOT NULL
                    OR row_number() OVER (PARTITION BY e.id, p_device_ids[g.i] ORDER BY g.i) > 1
                    AS rare
                FROM generate_subscripts(p_codes, 1) AS g(i)
                LEFT JOIN events AS e ON e.code = p_codes[g.i]
            ) AS k
        ) AS r
        GROUP BY r.event, r.part ORDER BY r.event, r.part
    LOOP
        v_single := CASE WHEN v_part.rare IS NULL THEN '{}' ELSE ARRAY[v_part.rare] END;
        v_set := v_part.common;
        IF v_part.event IS DISTINCT FROM v_event.id THEN
            -- The next event: locked once, before any of its participant rows.
            v_event := NULL;
            v_refused := 'not_found';  -- also when deleted since
            IF v_part.event IS NOT NULL THEN
                SELECT * INTO v_event FROM events AS e WHERE e.id = v_part.event FOR UPDATE;
                IF FOUND THEN
                    v_refused := CASE WHEN v_event.status = 'closed' THEN 'closed' END;
                END IF;
            END IF;
        END IF;
        IF v_refused IS NOT NULL THEN
            v_single := v_single || coalesce(v_set, '{}');
            v_ords := v_ords || v_single;
            v_events := v_events || array_fill(v_event.id, ARRAY[cardinality(v_single)]);
            v_outcomes := v_outcomes || array_fill(v_refused, ARRAY[cardinality(v_single)]);
            v_rows := v_rows || array_fill(NULL::event_participants, ARRAY[cardinality(v_single)]);
            v_numbers := v_numbers || array_fill(NULL::bigint, ARRAY[cardinality(v_single)]);
            v_messages := v_messages || array_fill(NULL::jsonb, ARRAY[cardinality(v_single)]);
            CONTINUE;
        END IF;

        IF cardinality(v_set) <= 3 OR (v_event.admission = 'open'
            AND v_event.seats_taken < v_event.capacity
            AND v_event.capacity - v_event.seats_taken < cardinality(v_set)) THEN
            -- The last seats may go within these joins: one by one, then, so that every new
            -- join after the last seat is full, whatever else it would have been. (Up to three
            -- joins, too: measured, one by one is the shorter way for so few.)
            v_single := v_single || v_set;
            v_set := NULL;
        END IF;
        FOREACH v_i IN ARRAY v_single LOOP
            SELECT * INTO v_one FROM rollcall_join_one(v_event, p_device_ids[v_i],
                p_display_names[v_i], p_name_keys[v_i], p_name_skeletons[v_i],
                p_token_hashes[v_i], p_room_checks[v_i], p_recovery_digests[v_i],
                p_may_join[v_i], p_may_guess[v_i], p_room_check_s);
            v_ords := array_append(v_ords, v_i);
            v_events := array_append(v_events, v_event.id);
            v_outcomes := array_append(v_outcomes, v_one.o_outcome);
            v_rows := array_append(v_rows, v_one.o_participant);
            v_numbers := array_append(v_numbers, v_one.o_number);
            v_messages := array_append(v_messages, v_one.o_message);
            IF v_one.o_outcome = 'joined' THEN
                v_event.seats_taken := v_event.seats_taken + 1;
            END IF;
        END LOOP;
        IF v_set IS NOT NULL THEN
            SELECT v_ords || array_agg(s.o_ord), v_events || array_agg(v_event.id),
                v_outcomes || array_agg(s.o_outcome), v_rows || array_agg(s.o_participant),
                v_numbers || array_agg(s.o_number), v_messages || array_agg(s.o_message),
                count(*) FILTER (WHERE s.o_outcome = 'joined')
            INTO v_ords, v_events, v_outcomes, v_rows, v_numbers, v_messages, v_joined
            FROM rollcall_join_set(v_event, v_set, p_device_ids, p_display_names, p_name_keys,
                p_name_skeletons, p_token_hashes, p_room_checks, p_may_join, p_may_guess,
                p_room_check_s) AS s;
            v_event.seats_taken := v_event.seats_taken + v_joined;
        END IF;
    END LOOP;

    -- Each event row updated once (seq by its log rows, seats by its new seats), all log rows
    -- in one statement (seq in join order), and one NOTIFY per event with its last seq: the
    -- listeners read the log after their own cursor.
    WITH counted AS (
        SELECT u.event, count(*) AS logged, count(*) FILTER (WHERE u.result = 'joined') AS joined
        FROM unnest(v_events, v_outcomes, v_messages) AS u(event, result, message)
        WHERE u.message IS NOT NULL
        GROUP BY u.event
    ), updated AS (
        UPDATE events AS e
        SET seq = e.seq + c.logged, seats_taken = e.seats_taken + c.joined
        FROM counted AS c
        WHERE e.id = c.event
        RETURNING e.id, e.seq, c.logged
    ), logged AS (
        INSERT INTO event_log (event_id, seq, message)
        SELECT m.event, u.seq - u.logged + m.rank,
            m.message || jsonb_build_object('seq', u.seq - u.logged + m.rank)
        FROM (
            SELECT n.event, n.message,
                row_number() OVER (PARTITION BY n.event ORDER BY n.position) AS rank
            FROM unnest(v_events, v_ords, v_messages) AS n(event, position, message)
            WHERE n.message IS NOT NULL
        ) AS m
        JOIN updated AS u ON u.id = m.event
        ORDER BY m.event, m.rank
    )
    SELECT count(pg_notify('rollcall_events',
        json_build_object('event_id', u.id, 'seq', u.seq)::text))
    INTO v_joined
    FROM updated AS u;

    -- unnest spreads each participant row into its columns, after the three named here.
    RETURN QUERY SELECT u.position, u.result, u.id, u.event_id, u.display_name, u.status,
        u.state, u.state_version, u.join_timestamp, u.last_heartbeat, u.reclaim_of, u.number
    FROM unnest(v_ords, v_outcomes, v_numbers, v_rows) AS u(position, result, number)
    ORDER BY u.position;
END
$$
"""

HELPER_SIGNATURES = (
    "rollcall_join_set(events, integer[], uuid[], text[], text[], text[], bytea[], text[],"
    " boolean[], boolean[], double precision)",
    "rollcall_join_one(events, uuid, text, text, text, bytea, text, bytea, boolean, boolean,"
    " double precision)",
)


def upgrade() -> None:
    ops.set_timeouts()
    op.execute(JOIN_ONE_FUNCTION)
    op.execute(JOIN_SET_FUNCTION)
    op.execute(JOIN_FUNCTION)
    op.execute(JOIN_MANY_FUNCTION)


def downgrade() -> None:
    ops.set_timeouts()
    previous = schema.revision_module("0006")  # its functions, to the letter
    op.execute(previous.JOIN_FUNCTION)
    op.execute(previous.JOIN_MANY_FUNCTION)
    for signature in HELPER_SIGNATURES:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
