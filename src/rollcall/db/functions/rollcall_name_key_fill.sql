CREATE OR REPLACE FUNCTION rollcall_name_key_fill() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_key text := '';
BEGIN
    PERFORM 1 FROM events WHERE id = NEW.event_id FOR UPDATE;
    IF NEW.display_name ~ '^[ -~]*$' THEN
        SELECT CASE
    WHEN folded = '' OR char_length(folded) > 32 OR folded !~ '[A-Za-z0-9]' THEN ''
    ELSE translate(folded, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
END INTO v_key
        FROM (SELECT regexp_replace(btrim(display_name, ' '), ' {2,}', ' ', 'g') AS folded FROM (SELECT NEW.display_name) AS n(display_name)) AS f;
    END IF;
    IF v_key = '' OR EXISTS (
        SELECT 1 FROM event_participants AS p
        WHERE p.event_id = NEW.event_id
          AND (p.name_key = v_key OR (p.name_key IS NULL AND p.display_name ~ '^[ -~]*$'
               AND (SELECT CASE
    WHEN folded = '' OR char_length(folded) > 32 OR folded !~ '[A-Za-z0-9]' THEN ''
    ELSE translate(folded, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
END
                    FROM (SELECT regexp_replace(btrim(display_name, ' '), ' {2,}', ' ', 'g') AS folded FROM (SELECT p.display_name) AS n(display_name)) AS f) = v_key))
    ) THEN
        NEW.name_key := v_key || '#' || NEW.id;
    ELSE
        NEW.name_key := v_key;
    END IF;
    UPDATE events SET seats_taken = seats_taken + 1 WHERE id = NEW.event_id AND NEW.status <> 'kicked';
    RETURN NEW;
END
$$
