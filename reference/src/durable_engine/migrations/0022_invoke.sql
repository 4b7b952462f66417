-- step.invoke ([INVOKE-2..7]): a child run knows the parent run, namespace and step that
-- await it (one child per step: the unique index makes its creation idempotent).
ALTER TABLE runs ADD COLUMN parent_run_id text;
ALTER TABLE runs ADD COLUMN parent_namespace text;
ALTER TABLE runs ADD COLUMN parent_step_id text;
CREATE UNIQUE INDEX runs_by_parent_step ON runs (parent_run_id, parent_namespace, parent_step_id)
    WHERE parent_run_id IS NOT NULL;

-- When a run ends, in the transaction that ends it, whatever ends it:
-- * cancelled: its live children are cancelled too, and theirs in turn ([INVOKE-7]);
-- * a child: its result becomes the parent's invoke memo and the parent is queued
--   ([INVOKE-4]); a memo already there (the step timed out, [INVOKE-5]) is kept.
CREATE FUNCTION durable_invoke_ended() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    live text[] := ARRAY['queued', 'running', 'sleeping', 'waiting'];
    at timestamptz := coalesce(NEW.ended_at, NEW.updated_at, now());
    result jsonb;
    child record;
BEGIN
    IF NEW.status = ANY(live) OR NOT OLD.status = ANY(live) THEN
        RETURN NULL;
    END IF;
    IF NEW.status = 'cancelled' THEN
        FOR child IN
            UPDATE runs SET status = 'cancelled', ended_at = at, updated_at = at,
                            cancelled_by = jsonb_build_object('runId', NEW.id)
            WHERE parent_run_id = NEW.id AND status = ANY(live)
            RETURNING id
        LOOP
            DELETE FROM queue WHERE run_id = child.id;
            DELETE FROM waits WHERE run_id = child.id;
            PERFORM pg_notify('durable_cancel', child.id);
        END LOOP;
    END IF;
    IF NEW.parent_run_id IS NULL THEN
        RETURN NULL;
    END IF;
    result := CASE NEW.status
        WHEN 'completed' THEN jsonb_build_object(
            'runId', NEW.id, 'status', 'completed', 'output', coalesce(NEW.output, 'null'))
        WHEN 'failed' THEN jsonb_build_object('runId', NEW.id, 'status', 'failed',
                                              'error', NEW.error)
        ELSE jsonb_build_object('runId', NEW.id, 'status', 'cancelled', 'error',
            jsonb_build_object('name', 'DurableError', 'code', 'INVOKE_CANCELLED',
                               'message', 'the invoked run was cancelled'))
    END;
    IF EXISTS (SELECT 1 FROM runs WHERE id = NEW.parent_run_id AND status = 'waiting') THEN
        INSERT INTO steps (run_id, namespace, step_id, type, data, position, queued_at,
                           ended_at)
        VALUES (NEW.parent_run_id, NEW.parent_namespace, NEW.parent_step_id, 'invoke', result,
                (SELECT count(*) FROM steps WHERE run_id = NEW.parent_run_id
                                              AND namespace = NEW.parent_namespace),
                NEW.created_at, at)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            UPDATE queue SET kind = 'invoke', attempt = 0, due_at = at
            WHERE run_id = NEW.parent_run_id;
            UPDATE runs SET status = 'queued', updated_at = at
            WHERE id = NEW.parent_run_id AND status = 'waiting';
            PERFORM pg_notify('durable_queue', '');
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER runs_invoke_ended AFTER UPDATE OF status ON runs
    FOR EACH ROW EXECUTE FUNCTION durable_invoke_ended();
