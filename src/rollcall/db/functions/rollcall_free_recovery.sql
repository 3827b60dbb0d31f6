CREATE OR REPLACE FUNCTION rollcall_free_recovery(
    p_key bytea, p_event_id uuid, p_participant uuid, p_generation bigint,
    OUT o_generation bigint, OUT o_digest bytea
)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- The first generation from p_generation on whose code no one else in the event has.
    -- Called under the event row lock, so no other row can take it meanwhile.
    o_generation := p_generation;
    LOOP
        o_digest := rollcall_recovery_digest(p_key, p_participant, o_generation);
        EXIT WHEN NOT EXISTS (SELECT 1 FROM event_participants AS p
                              WHERE p.event_id = p_event_id AND p.recovery_digest = o_digest
                                AND p.id <> p_participant);
        o_generation := o_generation + 1;
    END LOOP;
END
$$;
