CREATE OR REPLACE FUNCTION rollcall_roster_entry(p event_participants, p_presence text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    -- The same shape as the API's roster entry (rollcall.participants.schemas.RosterEntry).
    SELECT jsonb_build_object(
        'id', p.id, 'display_name', p.display_name, 'status', p.status, 'state', p.state,
        'version', p.state_version, 'joined_at', p.join_timestamp, 'reclaims', p.reclaim_of,
        'team', p.team, 'has_phone', p.device_id IS NOT NULL,
        'presence', p_presence, 'last_heartbeat', p.last_heartbeat,
        'seen_event_version', p.seen_event_version, 'seen_version', p.seen_version)
$$;
