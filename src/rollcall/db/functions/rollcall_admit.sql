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
        ELSIF rollcall_full(v_event) THEN
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
$$;
