-- cancelOn ([CANCEL-1..4]): the rules of a live run, one row per rule, found by the name of
-- the event that may cancel it. Rows are written when the run is created, whatever creates
-- it (event, cron tick, debounce or batch flush, rerun), and go when the run ends. The match
-- is derived from the run's own event by the engine at acceptance time ([CANCEL-2]).
CREATE TABLE run_cancel_rules (
    run_id       text NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    rule         integer NOT NULL,          -- index in the definition's cancelOn
    workspace_id text NOT NULL,
    event_name   text NOT NULL,
    match        jsonb,                     -- the rule's {path in event: path in run's event}
    until        timestamptz,               -- created_at + timeoutMs; NULL: no window
    PRIMARY KEY (run_id, rule)
);
CREATE INDEX run_cancel_rules_by_event ON run_cancel_rules (workspace_id, event_name);

-- The event (cancelOn) or run (singleton cancel) that cancelled a run.
ALTER TABLE runs ADD COLUMN cancelled_by jsonb;

CREATE FUNCTION durable_run_cancel_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    live text[] := ARRAY['queued', 'running', 'sleeping', 'waiting'];
BEGIN
    IF NEW.status = ANY(live) AND (TG_OP = 'INSERT' OR NOT OLD.status = ANY(live)) THEN
        -- a new run, or a failed one retried ([API-13]): its rules apply from now on
        INSERT INTO run_cancel_rules (run_id, rule, workspace_id, event_name, match, until)
        SELECT NEW.id, r.ordinality - 1, NEW.workspace_id, r.value->>'event', r.value->'match',
               NEW.created_at + make_interval(secs => (r.value->>'timeoutMs')::float8 / 1000)
        FROM functions f,
             jsonb_array_elements(CASE WHEN jsonb_typeof(f.definition->'cancelOn') = 'array'
                                       THEN f.definition->'cancelOn' ELSE '[]'::jsonb END)
                 WITH ORDINALITY AS r(value, ordinality)
        WHERE f.workspace_id = NEW.workspace_id AND f.runtime_id = NEW.function_id
        ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'UPDATE' AND NOT NEW.status = ANY(live) AND OLD.status = ANY(live) THEN
        DELETE FROM run_cancel_rules WHERE run_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER runs_cancel_rules AFTER INSERT OR UPDATE OF status ON runs
    FOR EACH ROW EXECUTE FUNCTION durable_run_cancel_rules();
