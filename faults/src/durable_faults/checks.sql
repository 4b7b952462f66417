-- name: run_states
-- Every run of the workspace with the workload number it was started for.
SELECT r.id, r.status, (r.event -> 'data' ->> 'n')::int AS n, r.output, r.error,
       q.run_id IS NOT NULL AS queued, q.lease_until, q.due_at
FROM runs r
LEFT JOIN queue q ON q.run_id = r.id
WHERE r.workspace_id = %(workspace_id)s;

-- name: status_counts
SELECT status, count(*) AS runs FROM runs WHERE workspace_id = %(workspace_id)s GROUP BY status;

-- name: memos
-- Every committed memo of the handler (namespace main) of the workspace's runs.
SELECT s.run_id, s.step_id, s.type, s.data
FROM steps s JOIN runs r ON r.id = s.run_id
WHERE r.workspace_id = %(workspace_id)s AND s.namespace = 'main';

-- name: memo_duplicates
-- (run, namespace, step id) committed more than once: must be empty.
SELECT s.run_id, s.namespace, s.step_id, count(*) AS commits
FROM steps s JOIN runs r ON r.id = s.run_id
WHERE r.workspace_id = %(workspace_id)s
GROUP BY s.run_id, s.namespace, s.step_id
HAVING count(*) > 1;

-- name: deliveries
SELECT count(*) AS attempts, count(*) FILTER (WHERE error IS NOT NULL) AS failed
FROM deliveries WHERE workspace_id = %(workspace_id)s;

-- name: leftovers
-- Queue items or parked waits still held by runs that have ended: must be empty.
SELECT r.id, r.status, 'queue' AS what FROM runs r JOIN queue q ON q.run_id = r.id
WHERE r.workspace_id = %(workspace_id)s AND r.status IN ('completed', 'failed', 'cancelled')
  AND q.namespace = 'main'
UNION ALL
SELECT r.id, r.status, 'wait' FROM runs r JOIN waits w ON w.run_id = r.id
WHERE r.workspace_id = %(workspace_id)s AND r.status IN ('completed', 'failed', 'cancelled');
