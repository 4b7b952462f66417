-- Run operations (issue 4): bulk cancel and rerun by filter, a run's attempt history, and
-- retention. Every bulk statement works on one bounded page so no call holds locks for long.

-- name: bulk_runs_page
-- One page of runs matching a bulk filter ([API-16]), newest first like /runs/search.
SELECT id, created_at FROM runs
WHERE workspace_id = %(workspace_id)s
  AND (%(function_id)s::text IS NULL OR function_id = %(function_id)s
       OR (strpos(%(function_id)s, '@') = 0
           AND left(function_id, length(%(function_id)s) + 1) = %(function_id)s || '@'))
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(created_from)s::timestamptz IS NULL OR created_at >= %(created_from)s)
  AND (%(created_to)s::timestamptz IS NULL OR created_at < %(created_to)s)
  AND (NOT %(live_only)s OR status IN ('queued', 'running', 'sleeping', 'waiting'))
  AND (%(cursor_at)s::timestamptz IS NULL OR (created_at, id) < (%(cursor_at)s, %(cursor_id)s))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;

-- name: bulk_lock_queue
-- Queue rows first, in a fixed order: the same lock order as an answer's transition (fence,
-- then run), so a cancel and an in-flight answer never deadlock.
SELECT run_id FROM queue WHERE run_id = ANY(%(run_ids)s) ORDER BY run_id FOR UPDATE;

-- name: runs_cancel
-- Cancel those of the runs still live ([STATUS-2]), recording what cancelled them
-- (cancelled_by: an event met a cancelOn rule, a singleton's new run, an invoking parent;
-- NULL: an API call); with workspace_id, only that workspace's runs.
UPDATE runs SET status = 'cancelled', ended_at = %(now)s, updated_at = %(now)s,
                cancelled_by = %(cancelled_by)s
WHERE id = ANY(%(run_ids)s)
  AND (%(workspace_id)s::text IS NULL OR workspace_id = %(workspace_id)s)
  AND status IN ('queued', 'running', 'sleeping', 'waiting')
RETURNING id, function_id, traceparent, created_at;

-- name: bulk_cancel_cleanup
-- The cancelled runs' queue rows and waits go; NOTIFY tells every engine process driving one
-- of them to invoke it no more.
WITH q AS (DELETE FROM queue WHERE run_id = ANY(%(run_ids)s)),
     w AS (DELETE FROM waits WHERE run_id = ANY(%(run_ids)s))
SELECT pg_notify('durable_cancel', id) FROM unnest(%(run_ids)s::text[]) AS id;

-- name: run_exists
SELECT 1 FROM runs WHERE id = %(run_id)s AND workspace_id = %(workspace_id)s;

-- name: run_history
-- Every HTTP attempt of a run ([API-19]), oldest first.
SELECT id, namespace, attempt, at, duration_ms, status, op, error, code FROM deliveries
WHERE run_id = %(run_id)s AND workspace_id = %(workspace_id)s
  AND (%(cursor_at)s::timestamptz IS NULL OR (at, id) > (%(cursor_at)s, %(cursor_id)s))
ORDER BY at, id
LIMIT %(limit)s;

-- name: retention_runs
-- A batch of ended runs older than the cutoff, with their deliveries (steps, waits and queue
-- rows go by cascade). SKIP LOCKED: a run another transaction touches waits for the next
-- round; several engine processes prune side by side.
WITH old AS (
    SELECT id FROM runs
    WHERE status IN ('completed', 'failed', 'cancelled', 'skipped') AND ended_at < %(cutoff)s
      AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.run_id = runs.id)
    ORDER BY ended_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM runs WHERE id IN (SELECT id FROM old) RETURNING id
), deliveries_gone AS (
    DELETE FROM deliveries WHERE run_id IN (SELECT id FROM gone) RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS runs, (SELECT count(*) FROM deliveries_gone) AS deliveries;

-- name: retention_events
WITH old AS (
    SELECT workspace_id, id FROM events WHERE received_at < %(cutoff)s
    ORDER BY received_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
DELETE FROM events e USING old
WHERE e.workspace_id = old.workspace_id AND e.id = old.id
RETURNING 1;

-- name: retention_reruns
WITH old AS (
    SELECT workspace_id, idempotency_key FROM reruns WHERE created_at < %(cutoff)s
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
DELETE FROM reruns r USING old
WHERE r.workspace_id = old.workspace_id AND r.idempotency_key = old.idempotency_key
RETURNING 1;

-- name: retention_cron_ticks
-- Old ticks, but never a function's latest: the scheduler reads it to know what already fired.
WITH old AS (
    SELECT t.workspace_id, t.runtime_id, t.tick_at FROM cron_ticks t
    WHERE t.tick_at < %(cutoff)s AND EXISTS (
        SELECT 1 FROM cron_ticks n WHERE n.workspace_id = t.workspace_id
          AND n.runtime_id = t.runtime_id AND n.tick_at > t.tick_at)
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
DELETE FROM cron_ticks c USING old
WHERE c.workspace_id = old.workspace_id AND c.runtime_id = old.runtime_id
  AND c.tick_at = old.tick_at
RETURNING 1;
