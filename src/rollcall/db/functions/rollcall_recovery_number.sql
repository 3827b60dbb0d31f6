CREATE OR REPLACE FUNCTION rollcall_recovery_number(
    p_key bytea, p_participant uuid, p_generation bigint
) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    -- 56 bits of the HMAC, below 30^8: the participant's recovery code as a number. The code
    -- is this number's 8 digits in the event-code alphabet (written out by Python).
    SELECT ('x' || encode(substring(rollcall_hmac(p_key, convert_to('recovery-code:', 'UTF8')
        || uuid_send(p_participant) || int8send(p_generation)) FROM 1 FOR 7), 'hex'))::bit(56)::bigint
        % 656100000000
$$;
