CREATE OR REPLACE FUNCTION rollcall_full(p_event events) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- Every seat of the event is taken. Where admission is open a newcomer is then refused
    -- (event_full); with approval a newcomer waits, holding no seat, and admitting needs a
    -- seat free, as do a seat added by the host and letting a removed participant back. The
    -- joins, rollcall_admit, the seat routes and the Event's `full` all ask here.
    SELECT p_event.seats_taken >= p_event.capacity
$$;
