CREATE OR REPLACE FUNCTION rollcall_recovery_digest(
    p_key bytea, p_participant uuid, p_generation bigint
) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    -- What is stored to find the participant by code: the SHA-256 of the number, never the code.
    SELECT sha256(int8send(rollcall_recovery_number(p_key, p_participant, p_generation)))
$$;
