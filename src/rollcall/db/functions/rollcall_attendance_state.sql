CREATE OR REPLACE FUNCTION rollcall_attendance_state(p_status text, p_presence text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- Where a participant is, for the roll call: its presence while active, else its status
    -- (pending, left, kicked).
    SELECT CASE WHEN p_status <> 'active' THEN p_status
                WHEN p_presence IN ('away', 'offline') THEN p_presence
                ELSE 'online' END
$$;
