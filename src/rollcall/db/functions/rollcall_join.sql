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
$$;
