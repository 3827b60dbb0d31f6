CREATE OR REPLACE FUNCTION rollcall_event_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.closed_at := now();
    RETURN NEW;
END
$$;
