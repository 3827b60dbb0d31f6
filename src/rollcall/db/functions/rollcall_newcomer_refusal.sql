CREATE OR REPLACE FUNCTION rollcall_newcomer_refusal(
    p_event events, p_generated boolean, p_forms text, p_listed boolean, p_team text
) RETURNS text
LANGUAGE sql STABLE AS $$
    -- Why a new participant may not come in as asked (NULL: it may), once the seat rules have
    -- let it: the event's kind of names, its word filter, the team it chose. p_generated NULL
    -- (a caller of the previous release) skips the kind of names. One expression, no
    -- subquery, so that it is inlined into the join statements rather than called per row.
    SELECT CASE
        WHEN p_event.names = 'generated' AND p_generated IS FALSE THEN 'names_generated'
        WHEN p_event.names = 'chosen' AND p_generated THEN 'generated_names_off'
        WHEN rollcall_name_refused(p_event, p_forms, p_listed) THEN 'name_not_allowed'
        WHEN p_team IS NOT NULL AND p_event.team_mode <> 'choose' THEN 'team_choice_off'
        WHEN p_team IS NOT NULL
            AND NOT p_event.teams @> jsonb_build_array(jsonb_build_object('id', p_team))
            THEN 'team_not_found'
    END
$$;
