-- A run's status is one of the registry's runStatuses and its failure handler's status one of
-- failureHandlerStatuses; the store cannot hold any other.
ALTER TABLE runs ADD CONSTRAINT runs_status_known CHECK (status IN (
    'queued', 'running', 'sleeping', 'waiting', 'completed', 'failed', 'cancelled', 'skipped'));
ALTER TABLE runs ADD CONSTRAINT runs_failure_handler_known CHECK (
    failure_handler IS NULL OR failure_handler IN ('running', 'completed', 'failed'));

-- The one place a run's status change is published: every insert and every status update
-- notifies durable_runs with {runId, workspaceId, functionId, status, at} (the ChangeFeed of
-- the service layer LISTENs to it). Delivered at commit, so a rolled-back change is never seen.
CREATE FUNCTION durable_run_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        PERFORM pg_notify('durable_runs', json_build_object(
            'runId', NEW.id, 'workspaceId', NEW.workspace_id, 'functionId', NEW.function_id,
            'status', NEW.status, 'at', coalesce(NEW.updated_at, now()))::text);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER runs_status_changed AFTER INSERT OR UPDATE OF status ON runs
    FOR EACH ROW EXECUTE FUNCTION durable_run_changed();

-- Flow slots live in the queue rows (flow_keys); this table was never written.
DROP TABLE flow_slots;
