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
            AND NOT rollcall_full(v_event)
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
$$;
