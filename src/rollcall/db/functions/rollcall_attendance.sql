CREATE OR REPLACE FUNCTION rollcall_attendance(
    p event_participants, p_end timestamptz, p_timeout_s double precision,
    OUT o_online_s double precision, OUT o_away_s double precision,
    OUT o_offline_s double precision, OUT o_left_at timestamptz, OUT o_since timestamptz
)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_state text := rollcall_attendance_state(p.status, p.reported_presence);
    v_seen timestamptz := coalesce(p.last_heartbeat, p.join_timestamp);
    v_cut timestamptz;
BEGIN
    -- The participant's seconds in each presence up to p_end (the stretch under way counted
    -- up to there; nothing counted past it). With p_timeout_s, a stretch online or away
    -- whose silence has passed the timeout, which the sweep has not turned offline yet, ends
    -- at the last heartbeat, as the sweep will make it end.
    o_online_s := p.online_s;
    o_away_s := p.away_s;
    o_offline_s := p.offline_s;
    o_left_at := p.left_at;
    o_since := p.presence_since;
    IF o_since IS NULL THEN
        -- A row from before attendance was kept: present from its join, and for one that is
        -- gone, until it was last seen.
        IF v_state IN ('online', 'away', 'pending') THEN
            o_since := p.join_timestamp;
        ELSE
            o_online_s := o_online_s + greatest(0, extract(epoch FROM v_seen - p.join_timestamp));
            o_since := v_seen;
            IF v_state IN ('left', 'kicked') THEN
                o_left_at := coalesce(o_left_at, v_seen);
            END IF;
        END IF;
    END IF;
    v_cut := greatest(o_since, p_end);
    IF v_state IN ('online', 'away') AND p_timeout_s IS NOT NULL
        AND v_seen < p_end - make_interval(secs => p_timeout_s) THEN
        v_cut := greatest(o_since, v_seen);
        o_offline_s := o_offline_s + extract(epoch FROM greatest(v_cut, p_end) - v_cut);
    END IF;
    CASE v_state
        WHEN 'online' THEN o_online_s := o_online_s + extract(epoch FROM v_cut - o_since);
        WHEN 'away' THEN o_away_s := o_away_s + extract(epoch FROM v_cut - o_since);
        WHEN 'offline' THEN o_offline_s := o_offline_s + extract(epoch FROM v_cut - o_since);
        ELSE NULL;  -- waiting, left or removed: no presence to count
    END CASE;
END
$$;
