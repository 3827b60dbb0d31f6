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
$$;
