-- name: commit_steps
-- The hot path of `step` ops, several runs' in one statement (one round trip, one commit, one
-- WAL flush): for each, the lease fence and the next lease, the memo, and the delivery record.
-- Nothing is written for a step but its delivery (marked stale) unless its attempt still holds
-- the run's lease. `steps` is a JSON array, one object per step, ordered by run id (rows are
-- locked in that order).
WITH input AS (
    SELECT s->>'run_id' AS run_id, (s->>'lease_token')::uuid AS lease_token,
           (s->>'new_token')::uuid AS new_token, (s->>'now')::timestamptz AS now,
           s->>'namespace' AS namespace, s->>'step_id' AS step_id, s->'data' AS data,
           (s->>'position')::integer AS position, (s->>'queued_at')::timestamptz AS queued_at,
           (s->>'started_at')::timestamptz AS started_at,
           (s->>'app_ms')::double precision AS app_ms, s->>'delivery_id' AS delivery_id,
           s->>'workspace_id' AS workspace_id, s->>'function_id' AS function_id,
           (s->>'attempt')::integer AS attempt, s->>'url' AS url,
           (s->>'status')::integer AS status
    FROM jsonb_array_elements(%(steps)s::jsonb) AS s
), fence AS (
    UPDATE queue q SET attempt = 0, kind = 'invoke', due_at = i.now, lease_token = i.new_token,
                       lease_until = i.now + make_interval(secs => %(lease_s)s)
    FROM input i
    WHERE q.run_id = i.run_id AND q.lease_token = i.lease_token
    RETURNING q.run_id
), memo AS (
    INSERT INTO steps (run_id, namespace, step_id, type, data, position, queued_at, started_at,
                       app_ms, ended_at)
    SELECT i.run_id, i.namespace, i.step_id, 'run', i.data, i.position, i.queued_at,
           i.started_at, i.app_ms, i.now
    FROM input i JOIN fence USING (run_id)
    ON CONFLICT DO NOTHING
    RETURNING run_id
), delivery AS (
    INSERT INTO deliveries (id, workspace_id, run_id, function_id, namespace, attempt, url,
                            status, duration_ms, op, error, at)
    SELECT i.delivery_id, i.workspace_id, i.run_id, i.function_id, i.namespace, i.attempt,
           i.url, i.status, i.app_ms, 'step',
           CASE WHEN i.run_id IN (SELECT run_id FROM fence) THEN NULL ELSE 'stale attempt' END,
           i.started_at
    FROM input i
)
SELECT i.run_id, i.run_id IN (SELECT run_id FROM fence) AS fenced,
       i.run_id IN (SELECT run_id FROM memo) AS memoized
FROM input i;
