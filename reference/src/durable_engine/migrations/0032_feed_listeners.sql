-- A transaction that sends NOTIFY holds a database-wide lock until its commit is flushed, so
-- publishing every run status change serialized the commits of every engine process.
-- Status changes are published only while some process has a change feed open (a dashboard
-- page, a gRPC watch): such a feed keeps a row here, renewed while it is open and lapsing on
-- its own when the process is gone. The table is unlogged: after a crash it is empty and open
-- feeds put their rows back at their next renewal.
CREATE UNLOGGED TABLE feed_listeners (
    watcher text PRIMARY KEY,  -- the change feed's epoch
    until   timestamptz NOT NULL
);

CREATE OR REPLACE FUNCTION durable_run_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status)
            AND EXISTS (SELECT 1 FROM feed_listeners WHERE until > now()) THEN
        PERFORM pg_notify('durable_runs', json_build_object(
            'runId', NEW.id, 'workspaceId', NEW.workspace_id, 'functionId', NEW.function_id,
            'status', NEW.status, 'at', coalesce(NEW.updated_at, now()),
            'createdAt', NEW.created_at, 'eventName', left(NEW.event->>'name', 200),
            'new', TG_OP = 'INSERT')::text);
    END IF;
    RETURN NULL;
END
$$;
