CREATE OR REPLACE FUNCTION rollcall_name_refused(p_event events, p_forms text, p_listed boolean)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    -- Whether the event's word filter refuses a name, given the name's folded forms and whether
    -- the built-in list refuses it (both from rollcall.participants.wordfilter). The host's
    -- words are stored as LIKE patterns ('%' || pattern || '%': a pattern matches where it
    -- occurs in the forms). Without forms (a caller of the previous release) nothing is
    -- refused. One expression, no subquery: the planner inlines it into the join statements.
    SELECT p_forms IS NOT NULL AND p_event.name_filter <> 'off' AND (
        (p_event.name_filter = 'default' AND coalesce(p_listed, false))
        OR p_forms LIKE ANY (p_event.blocked_patterns))
$$;
