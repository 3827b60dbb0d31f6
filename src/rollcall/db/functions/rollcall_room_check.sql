CREATE OR REPLACE FUNCTION rollcall_room_check(p_key bytea, p_window bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lpad(((('x' || encode(substring(
        rollcall_hmac(p_key, convert_to('room-check:', 'UTF8') || int8send(p_window)) FROM 1 FOR 4),
        'hex'))::bit(32)::bigint) % 10000)::text, 4, '0')
$$;
