CREATE OR REPLACE FUNCTION rollcall_new_hmac_key() RETURNS bytea
LANGUAGE sql VOLATILE AS $$
    -- 64 random bytes K (gen_random_uuid draws from the strong random source), stored as
    -- K xor 0x36.. followed by K xor 0x5c.., HMAC's two padded keys.
    SELECT decode(string_agg(lpad(to_hex(get_byte(k.key, i) # 54), 2, '0'), '' ORDER BY i), 'hex')
        || decode(string_agg(lpad(to_hex(get_byte(k.key, i) # 92), 2, '0'), '' ORDER BY i), 'hex')
    FROM (SELECT uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
              || uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) AS key) AS k,
         generate_series(0, 63) AS i
$$;
