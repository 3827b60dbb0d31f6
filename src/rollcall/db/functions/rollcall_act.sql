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
$$;
