-- Dashboard sessions: only the SHA-256 of a session id is kept, so a copy of the table logs
-- nobody in. csrf is the session's anti-forgery token (sent in a header or form field).
CREATE TABLE dashboard_sessions (
    id_hash    text PRIMARY KEY,
    csrf       text NOT NULL,
    created_at timestamptz NOT NULL,
    seen_at    timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);

-- Run changes carry what a runs list shows of a new run (created time, event name) and
-- whether the row is new, so a live list renders it without a query.
CREATE OR REPLACE FUNCTION durable_run_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        PERFORM pg_notify('durable_runs', json_build_object(
            'runId', NEW.id, 'workspaceId', NEW.workspace_id, 'functionId', NEW.function_id,
            'status', NEW.status, 'at', coalesce(NEW.updated_at, now()),
            'createdAt', NEW.created_at, 'eventName', left(NEW.event->>'name', 200),
            'new', TG_OP = 'INSERT')::text);
    END IF;
    RETURN NULL;
END
$$;

-- Every recorded HTTP attempt (a step committed, a sleep or wait parked, an error) is
-- published too, as kind 'attempt', so a running run's waterfall grows live.
CREATE FUNCTION durable_attempt_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.run_id IS NOT NULL THEN
        PERFORM pg_notify('durable_runs', json_build_object(
            'runId', NEW.run_id, 'workspaceId', NEW.workspace_id,
            'functionId', coalesce(NEW.function_id, ''), 'status', '', 'at', NEW.at,
            'kind', 'attempt')::text);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER deliveries_recorded AFTER INSERT ON deliveries
    FOR EACH ROW EXECUTE FUNCTION durable_attempt_recorded();
