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
    ELSIF p_event.admission = 'open' AND rollcall_full(p_event) THEN
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
$$;
