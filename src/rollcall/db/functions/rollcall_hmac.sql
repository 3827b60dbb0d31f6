CREATE OR REPLACE FUNCTION rollcall_hmac(p_key bytea, p_message bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT sha256(substring(p_key FROM 65 FOR 64) || sha256(substring(p_key FROM 1 FOR 64) || p_message))
$$;
