-- A transaction that sends NOTIFY takes a database-wide lock at commit, so notifying every
-- recorded attempt would serialize all step commits. Attempts are published only for runs
-- an open run page is watching: each serving process keeps a row per watched run, renewed
-- while the page is open, lapsing on its own when the process is gone.
CREATE UNLOGGED TABLE dashboard_watches (
    run_id  text NOT NULL,
    watcher text NOT NULL,  -- the watching process's change feed epoch
    until   timestamptz NOT NULL,
    PRIMARY KEY (run_id, watcher)
);

CREATE OR REPLACE FUNCTION durable_attempt_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.run_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM dashboard_watches WHERE run_id = NEW.run_id AND until > now()) THEN
        PERFORM pg_notify('durable_runs', json_build_object(
            'runId', NEW.run_id, 'workspaceId', NEW.workspace_id,
            'functionId', coalesce(NEW.function_id, ''), 'status', '', 'at', NEW.at,
            'kind', 'attempt')::text);
    END IF;
    RETURN NULL;
END
$$;
