"""Names, seats and teams: generated names, the word filter, seats without a phone, teams.

- events.names ('chosen' or 'generated'), events.name_filter ('off', 'default', 'custom'),
  events.blocked_words (the host's words as written) and events.blocked_patterns (the same
  words folded, as participants.wordfilter makes them, as LIKE patterns: what the database
  matches), events.teams
  (a JSON list of {"id","name"}) and events.team_mode ('host' or 'choose'). Their column
  defaults are what the previous release means: chosen names, no filter, no teams; the API
  gives a new event the default filter.
- event_participants.team: the participant's team id, or NULL.
- event_participants.device_id may be NULL: a seat the host made for someone without a phone.
  The unique (event, device) constraint lets any number of them be; a phone takes one over
  with the seat's recovery code, whatever the event's reclaim switch says.
- rollcall_join_one, rollcall_join_set, rollcall_join and rollcall_join_many take four more
  inputs per join, each with a default, so the previous release's calls (without them) go on
  working (the inner two as well: a previous release's rollcall_join_many under way while this
  revision commits goes on to call them as it knew them): whether the name was generated, its folded forms, whether the built-in list refuses
  it, and the team the phone chose. A new participant is refused, after the seat rules and before
  the name is taken, by rollcall_newcomer_refusal. They return the participant's team too.
- rollcall_roster_entry gives `team` and `has_phone`.
- rollcall_attendance_track (revision attendance's trigger) counts a seat move only from one
  device to another: a phone taking a seat that had none is not a move.

Revision ID: names_seats_teams
Revises: attendance
Create Date: 2026-12-10 09:00:00+00:00
"""

from alembic import op

from rollcall.db import migrate
from rollcall.db import migration_ops as ops

revision = "names_seats_teams"
down_revision = "attendance"
branch_labels = None
depends_on = None

TABLE = "event_participants"

ROSTER_ENTRY_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_roster_entry(p event_participants, p_presence text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    -- The same shape as the API's roster entry (rollcall.participants.schemas.RosterEntry).
    SELECT jsonb_build_object(
        'id', p.id, 'display_name', p.display_name, 'status', p.status, 'state', p.state,
        'version', p.state_version, 'joined_at', p.join_timestamp, 'reclaims', p.reclaim_of,
        'team', p.team, 'has_phone', p.device_id IS NOT NULL,
        'presence', p_presence, 'last_heartbeat', p.last_heartbeat)
$$
"""

NAME_REFUSED_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_name_refused(p_event events, p_forms text, p_listed boolean)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    -- Whether the event's word filter refuses a name, given the name's folded forms and whether
    -- the built-in list refuses it (both from rollcall.participants.wordfilter). The host's
    -- words are stored as LIKE patterns ('%' || pattern || '%': a pattern matches where it
    -- occurs in the forms). Without forms (a caller of the previous release) nothing is
    -- refused. One expression, no subquery: the planner inlines it into the join statements.
    SELECT p_forms IS NOT NULL AND p_event.name_filter <> 'off' AND (
        (p_event.name_filter = 'default' AND coalesce(p_listed, false))
        OR p_forms LIKE ANY (p_event.blocked_patterns))
$$
"""

NEWCOMER_REFUSAL_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_newcomer_refusal(
    p_event events, p_generated boolean, p_forms text, p_listed boolean, p_team text
) RETURNS text
LANGUAGE sql STABLE AS $$
    -- Why a new participant may not come in as asked (NULL: it may), once the seat rules have
    -- let it: the event's kind of names, its word filter, the team it chose. p_generated NULL
    -- (a caller of the previous release) skips the kind of names. One expression, no
    -- subquery, so that it is inlined into the join statements rather than called per row.
    SELECT CASE
        WHEN p_event.names = 'generated' AND p_generated IS FALSE THEN 'names_generated'
        WHEN p_event.names = 'chosen' AND p_generated THEN 'generated_names_off'
        WHEN rollcall_name_refused(p_event, p_forms, p_listed) THEN 'name_not_allowed'
        WHEN p_team IS NOT NULL AND p_event.team_mode <> 'choose' THEN 'team_choice_off'
        WHEN p_team IS NOT NULL
            AND NOT p_event.teams @> jsonb_build_array(jsonb_build_object('id', p_team))
            THEN 'team_not_found'
    END
$$
"""

JOIN_ONE_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_join_one(
    p_event events, p_device_id uuid, p_display_name text, p_name_key text,
    p_name_skeleton text, p_token_hash bytea, p_room_check text, p_recovery_digest bytea,
    p_may_join boolean, p_may_guess boolean, p_room_check_s double precision,
    p_generated boolean DEFAULT NULL, p_name_forms text DEFAULT NULL,
    p_name_listed boolean DEFAULT NULL, p_team text DEFAULT NULL,
    OUT o_outcome text, OUT o_participant event_participants, OUT o_number bigint,
    OUT o_message jsonb
)
LANGUAGE plpgsql AS $$
DECLARE
    v_row event_participants%ROWTYPE;
    v_target event_participants%ROWTYPE;
    v_phoneless boolean;
    v_recovery record;
    v_id uuid;
    v_number bigint;
    v_refusal text;
    v_event_id uuid := p_event.id;
BEGIN
    -- One join's rules, in order, for an event the caller has locked, with its seats_taken as
    -- of this join. The event row, the log and NOTIFY are the caller's: o_message is the
    -- message to log (all but its seq), NULL when nothing changed.

    -- A device the event knows rejoins (a waiting one keeps waiting); a kicked one is refused.
    -- Its name and team stay as they are, whatever this join asks for.
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
        ELSE
            SELECT * INTO v_target FROM event_participants AS p
            WHERE p.event_id = v_event_id AND p.recovery_digest = p_recovery_digest FOR UPDATE;
            -- A seat the host made for someone without a phone is there to be taken: no phone
            -- loses it, so neither reclaim 'off' nor 'approval' holds it back.
            v_phoneless := FOUND AND v_target.device_id IS NULL AND v_target.status <> 'kicked';
            IF p_event.reclaim = 'off' AND NOT v_phoneless THEN
                o_outcome := 'reclaim_disabled';
            ELSIF v_target.id IS NULL THEN
                o_outcome := 'recovery_invalid';
            ELSIF v_target.status = 'kicked' THEN
                o_outcome := 'banned';
            ELSIF p_event.reclaim = 'approval' AND v_target.status <> 'pending'
                AND NOT v_phoneless THEN
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
                -- Name, team and state stay.
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
        v_refusal := rollcall_newcomer_refusal(p_event, p_generated, p_name_forms,
            p_name_listed, p_team);
        IF v_refusal IS NOT NULL THEN
            o_outcome := v_refusal;
            RETURN;
        END IF;
        -- A new participant; with approval on it waits, holding a name but no seat. Should its
        -- recovery code collide with another's (unique per event), the insert does nothing and
        -- the caller tries again with a new id.
        v_id := gen_random_uuid();
        v_number := rollcall_recovery_number(p_event.hmac_key, v_id, 0);
        INSERT INTO event_participants AS p (id, event_id, device_id, display_name, name_key,
            name_skeleton, status, session_token_hash, reported_presence, recovery_digest, team)
        VALUES (v_id, v_event_id, p_device_id, p_display_name, p_name_key, p_name_skeleton,
            CASE WHEN p_event.admission = 'approval' THEN 'pending' ELSE 'active' END,
            p_token_hash, 'online', sha256(int8send(v_number)), p_team)
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
    p_may_join boolean[], p_may_guess boolean[], p_room_check_s double precision,
    p_generated boolean[] DEFAULT NULL, p_name_forms text[] DEFAULT NULL,
    p_name_listed boolean[] DEFAULT NULL, p_teams text[] DEFAULT NULL
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
            p_name_skeletons[item.ord] AS name_skeleton, p_teams[item.ord] AS team,
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
                 ELSE rollcall_newcomer_refusal(p_event, p_generated[item.ord],
                     p_name_forms[item.ord], p_name_listed[item.ord], p_teams[item.ord])
            END AS refused
        FROM item WHERE item.known IS NULL OR item.known = 'kicked'
    ), candidate AS (
        SELECT r.*, rollcall_recovery_number(p_event.hmac_key, r.id, 0) AS number
        FROM ruled AS r WHERE r.refused IS NULL
    ), inserted AS (
        -- In join order: of two equal names (or look-alikes) the first is kept, as one join
        -- after the other would. A recovery code that collides makes that join 'retry'.
        INSERT INTO event_participants AS p (id, event_id, device_id, display_name, name_key,
            name_skeleton, status, session_token_hash, reported_presence, recovery_digest, team)
        SELECT c.id, v_event_id, c.device_id, c.display_name, c.name_key, c.name_skeleton,
            CASE WHEN p_event.admission = 'approval' THEN 'pending' ELSE 'active' END,
            c.token_hash, 'online', sha256(int8send(c.number)), c.team
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
    p_may_guess boolean, p_room_check_s double precision, p_generated boolean DEFAULT NULL,
    p_name_forms text DEFAULT NULL, p_name_listed boolean DEFAULT NULL, p_team text DEFAULT NULL
) RETURNS TABLE (
    outcome text, id uuid, event_id uuid, display_name text, status text, state jsonb,
    state_version bigint, join_timestamp timestamptz, last_heartbeat timestamptz, reclaims uuid,
    recovery_number bigint, team text, has_phone boolean
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
        p_may_guess, p_room_check_s, p_generated, p_name_forms, p_name_listed, p_team);
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
        (v_one.o_participant).last_heartbeat, (v_one.o_participant).reclaim_of, v_one.o_number,
        (v_one.o_participant).team, (v_one.o_participant).device_id IS NOT NULL;
END
$$
"""

JOIN_MANY_FUNCTION = """
CREATE OR REPLACE FUNCTION rollcall_join_many(
    p_codes text[], p_device_ids uuid[], p_display_names text[], p_name_keys text[],
    p_name_skeletons text[], p_token_hashes bytea[], p_room_checks text[],
    p_recovery_digests bytea[], p_may_join boolean[], p_may_guess boolean[],
    p_room_check_s double precision, p_generated boolean[] DEFAULT NULL,
    p_name_forms text[] DEFAULT NULL, p_name_listed boolean[] DEFAULT NULL,
    p_teams text[] DEFAULT NULL
) RETURNS TABLE (
    ord integer, outcome text, id uuid, event_id uuid, display_name text, status text,
    state jsonb, state_version bigint, join_timestamp timestamptz, last_heartbeat timestamptz,
    reclaims uuid, recovery_number bigint, team text, has_phone boolean
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
                p_may_join[v_i], p_may_guess[v_i], p_room_check_s, p_generated[v_i],
                p_name_forms[v_i], p_name_listed[v_i], p_teams[v_i]);
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
                p_room_check_s, p_generated, p_name_forms, p_name_listed, p_teams) AS s;
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
        u.state, u.state_version, u.join_timestamp, u.last_heartbeat, u.reclaim_of, u.number,
        u.team, CASE WHEN u.id IS NOT NULL THEN u.device_id IS NOT NULL END
    FROM unnest(v_ords, v_outcomes, v_numbers, v_rows) AS u(position, result, number)
    ORDER BY u.position;
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
    -- the participant's place changed, close the stretch it was in and start the next. A
    -- phone taking a seat that had none (a seat the host made) is not a move.
    IF NEW.device_id IS DISTINCT FROM OLD.device_id AND OLD.device_id IS NOT NULL THEN
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

# The join functions as revision join_batches made them, with eleven inputs each.
OLD_SIGNATURES = (
    "rollcall_join_many(text[], uuid[], text[], text[], text[], bytea[], text[], bytea[],"
    " boolean[], boolean[], double precision)",
    "rollcall_join(text, uuid, text, text, text, bytea, text, bytea, boolean, boolean,"
    " double precision)",
    "rollcall_join_set(events, integer[], uuid[], text[], text[], text[], bytea[], text[],"
    " boolean[], boolean[], double precision)",
    "rollcall_join_one(events, uuid, text, text, text, bytea, text, bytea, boolean, boolean,"
    " double precision)",
)
NEW_SIGNATURES = (
    "rollcall_join_many(text[], uuid[], text[], text[], text[], bytea[], text[], bytea[],"
    " boolean[], boolean[], double precision, boolean[], text[], boolean[], text[])",
    "rollcall_join(text, uuid, text, text, text, bytea, text, bytea, boolean, boolean,"
    " double precision, boolean, text, boolean, text)",
    "rollcall_join_set(events, integer[], uuid[], text[], text[], text[], bytea[], text[],"
    " boolean[], boolean[], double precision, boolean[], text[], boolean[], text[])",
    "rollcall_join_one(events, uuid, text, text, text, bytea, text, bytea, boolean, boolean,"
    " double precision, boolean, text, boolean, text)",
    "rollcall_newcomer_refusal(events, boolean, text, boolean, text)",
    "rollcall_name_refused(events, text, boolean)",
)

# A seat without a phone, on the way down: a device no phone has (it can still be reclaimed).
PHONELESS_DEVICES = f"""
WITH given AS (
    UPDATE {TABLE} SET device_id = gen_random_uuid()
    WHERE event_id = ANY(%(events)s) AND device_id IS NULL
    RETURNING 1
)
SELECT count(*) FROM {TABLE} WHERE event_id = ANY(%(events)s)
"""


def upgrade() -> None:
    ops.set_timeouts()
    ops.lock_tables("events", "event_participants")  # in a join's order, up front
    op.execute("ALTER TABLE events ADD COLUMN IF NOT EXISTS names text NOT NULL DEFAULT 'chosen'")
    op.execute(
        "ALTER TABLE events ADD COLUMN IF NOT EXISTS name_filter text NOT NULL DEFAULT 'off'"
    )
    op.execute(
        "ALTER TABLE events ADD COLUMN IF NOT EXISTS blocked_words text[] NOT NULL DEFAULT '{}'"
    )
    op.execute(
        "ALTER TABLE events ADD COLUMN IF NOT EXISTS blocked_patterns text[] NOT NULL DEFAULT '{}'"
    )
    op.execute("ALTER TABLE events ADD COLUMN IF NOT EXISTS teams jsonb NOT NULL DEFAULT '[]'")
    op.execute("ALTER TABLE events ADD COLUMN IF NOT EXISTS team_mode text NOT NULL DEFAULT 'host'")
    checks = {
        "events_names_check": "names IN ('chosen', 'generated')",
        "events_name_filter_check": "name_filter IN ('off', 'default', 'custom')",
        "events_team_mode_check": "team_mode IN ('host', 'choose')",
        "events_blocked_words_check": "cardinality(blocked_words) <= 500",
        "events_teams_check": "jsonb_typeof(teams) = 'array' AND jsonb_array_length(teams) <= 100",
    }
    for name, check in checks.items():
        ops.add_check_not_valid(table="events", name=name, check=check)
    op.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS team text")
    ops.execute_justified(
        f"ALTER TABLE {TABLE} ALTER COLUMN device_id DROP NOT NULL",
        ignore="ban-drop-not-null, prefer-robust-stmts",
        why="A seat without a phone has no device. Instant (only the catalog changes) and"
        " idempotent. The previous release never reads a device-less row: it finds"
        " participants by device or by token, and such a seat has neither.",
    )
    # The functions are replaced while the tables are locked: a join of the previous release
    # is then either done (its locks are why lock_tables waits) or not begun, and it never
    # finds a function it calls gone in the middle ("cache lookup failed for function").
    op.execute(ROSTER_ENTRY_FUNCTION)
    op.execute(TRACK_FUNCTION)
    op.execute(NAME_REFUSED_FUNCTION)
    op.execute(NEWCOMER_REFUSAL_FUNCTION)
    for signature in OLD_SIGNATURES:
        ops.execute_justified(
            f"DROP FUNCTION IF EXISTS {signature}",
            ignore="ban-drop-function",
            why="rollcall's own join function, replaced below by one with four more inputs,"
            " each with a default: the previous release's calls reach the new one (the"
            " downgrade restores this one).",
        )
    op.execute(JOIN_ONE_FUNCTION)
    op.execute(JOIN_SET_FUNCTION)
    op.execute(JOIN_FUNCTION)
    op.execute(JOIN_MANY_FUNCTION)
    for name in checks:
        ops.validate_constraint(table="events", name=name)


def downgrade() -> None:
    ops.set_timeouts()
    previous = migrate.revision_module("join_batches")  # its functions, to the letter
    for signature in NEW_SIGNATURES:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.execute(previous.JOIN_ONE_FUNCTION)
    op.execute(previous.JOIN_SET_FUNCTION)
    op.execute(previous.JOIN_FUNCTION)
    op.execute(previous.JOIN_MANY_FUNCTION)
    op.execute(migrate.revision_module("0006").ROSTER_ENTRY_FUNCTION)
    ops.commit()
    ops.backfill_by_event(
        label="seats without a phone given a device",
        table=TABLE,
        batch=ops.one_statement(PHONELESS_DEVICES),
        describe=PHONELESS_DEVICES,
    )
    ops.set_not_null_through_check(table=TABLE, column="device_id")
    # After the seats got their devices: as revision attendance counts, that is a move.
    op.execute(migrate.revision_module("attendance").TRACK_FUNCTION)
    ops.execute_justified(
        f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS team",
        ignore="ban-drop-column",
        why="Downgrade: removes exactly the column this revision added.",
    )
    for name in (
        "events_teams_check",
        "events_blocked_words_check",
        "events_team_mode_check",
        "events_name_filter_check",
        "events_names_check",
    ):
        op.execute(f"ALTER TABLE events DROP CONSTRAINT IF EXISTS {name}")
    ops.execute_justified(
        "ALTER TABLE events DROP COLUMN IF EXISTS team_mode, DROP COLUMN IF EXISTS teams,"
        " DROP COLUMN IF EXISTS blocked_patterns, DROP COLUMN IF EXISTS blocked_words,"
        " DROP COLUMN IF EXISTS name_filter, DROP COLUMN IF EXISTS names",
        ignore="ban-drop-column",
        why="Downgrade: removes exactly the columns this revision added.",
    )
