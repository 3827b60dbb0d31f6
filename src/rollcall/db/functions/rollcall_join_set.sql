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
                 WHEN p_event.admission = 'open' AND rollcall_full(p_event)
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
$$;
