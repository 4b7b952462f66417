-- name: notify_queue
SELECT pg_notify('durable_queue', '');

-- name: context
SELECT r.id, r.workspace_id, r.function_id, r.event, r.events, r.status, r.error,
       r.traceparent, r.created_at, f.definition, f.enabled, f.removed,
       w.app_url, w.keys, w.capabilities, w.max_request_bytes, w.manifest_at
FROM runs r
JOIN workspaces w ON w.id = r.workspace_id
LEFT JOIN functions f ON f.workspace_id = r.workspace_id AND f.runtime_id = r.function_id
WHERE r.id = %(run_id)s;

-- name: run_status
SELECT status FROM runs WHERE id = %(run_id)s AND workspace_id = %(workspace_id)s;

-- name: steps_for_run
SELECT step_id, type, data FROM steps
WHERE run_id = %(run_id)s AND namespace = %(namespace)s
ORDER BY position;

-- name: fence
SELECT attempt, namespace, kind FROM queue
WHERE run_id = %(run_id)s AND lease_token = %(lease_token)s
FOR UPDATE;

-- name: step_insert
INSERT INTO steps (run_id, namespace, step_id, type, data, position, queued_at, started_at,
                   app_ms, ended_at, wake_at)
VALUES (%(run_id)s, %(namespace)s, %(step_id)s, %(type)s, %(data)s,
        (SELECT count(*) FROM steps WHERE run_id = %(run_id)s AND namespace = %(namespace)s),
        %(queued_at)s, %(started_at)s, %(app_ms)s, %(ended_at)s, %(wake_at)s)
ON CONFLICT DO NOTHING
RETURNING position;

-- name: delivery_insert
INSERT INTO deliveries (id, workspace_id, run_id, function_id, namespace, attempt, url, status,
                        duration_ms, op, error, code, at)
VALUES (%(id)s, %(workspace_id)s, %(run_id)s, %(function_id)s, %(namespace)s, %(attempt)s,
        %(url)s, %(status)s, %(duration_ms)s, %(op)s, %(error)s, %(code)s, %(at)s);

-- name: queue_continue
UPDATE queue SET attempt = 0, kind = 'invoke', due_at = %(now)s, lease_token = %(new_token)s,
                 lease_until = %(now)s + make_interval(secs => %(lease_s)s)
WHERE run_id = %(run_id)s;

-- name: queue_schedule
UPDATE queue SET attempt = %(attempt)s, kind = %(kind)s, due_at = %(due_at)s,
                 namespace = %(namespace)s, lease_token = NULL, lease_until = NULL
WHERE run_id = %(run_id)s;

-- name: queue_delete
DELETE FROM queue WHERE run_id = %(run_id)s;

-- name: run_set_status
-- A run in its failure handler stays 'failed' (decision 0009).
UPDATE runs SET status = %(status)s, updated_at = %(now)s
WHERE id = %(run_id)s AND status IN ('queued', 'running', 'sleeping', 'waiting');

-- name: run_complete
UPDATE runs SET status = 'completed', output = %(output)s, ended_at = %(now)s, updated_at = %(now)s
WHERE id = %(run_id)s;

-- name: run_fail
UPDATE runs SET status = 'failed', error = %(error)s, ended_at = %(now)s, updated_at = %(now)s,
                failure_handler = %(failure_handler)s
WHERE id = %(run_id)s;

-- name: run_failure_handler_end
UPDATE runs SET failure_handler = %(state)s, failure_output = %(output)s, updated_at = %(now)s
WHERE id = %(run_id)s;

-- name: wait_insert
INSERT INTO waits (run_id, namespace, step_id, workspace_id, event_name, match, until, created_at)
VALUES (%(run_id)s, %(namespace)s, %(step_id)s, %(workspace_id)s, %(event_name)s, %(match)s,
        %(until)s, %(now)s)
ON CONFLICT DO NOTHING;

-- name: wait_take
DELETE FROM waits WHERE run_id = %(run_id)s AND namespace = %(namespace)s
RETURNING step_id, created_at;

-- name: wait_take_one
DELETE FROM waits WHERE run_id = %(run_id)s AND namespace = %(namespace)s AND step_id = %(step_id)s
RETURNING created_at;

-- name: queue_resume
UPDATE queue SET kind = 'invoke', attempt = 0, due_at = %(now)s
WHERE run_id = %(run_id)s;

-- name: run_get
SELECT r.id, r.function_id, r.event_id, r.event, r.events, r.status, r.output, r.error,
       r.failure_handler,
       r.failure_output, r.created_at, r.updated_at, r.started_at, r.ended_at, r.skip_reason,
       r.cancelled_by, r.parent_run_id, r.parent_step_id, r.traceparent,
       -- an ended run has no queue row: the attempt of its last invocation ([API-22])
       coalesce(q.attempt, (SELECT d.attempt FROM deliveries d
                            WHERE d.run_id = r.id AND coalesce(d.namespace, 'main') = 'main'
                            ORDER BY d.at DESC LIMIT 1), 0) AS attempt,
       CASE WHEN r.status IN ('sleeping', 'waiting') THEN q.due_at END AS wake_at
FROM runs r LEFT JOIN queue q ON q.run_id = r.id
WHERE r.id = %(run_id)s AND r.workspace_id = %(workspace_id)s;

-- name: run_steps
SELECT namespace, step_id, type, data, position, queued_at, started_at, app_ms, ended_at,
       wake_at, copied_from
FROM steps WHERE run_id = %(run_id)s ORDER BY namespace DESC, position;

-- name: runs_search
SELECT id, function_id, event_id, status, failure_handler, created_at, updated_at, started_at,
       ended_at
FROM runs
WHERE workspace_id = %(workspace_id)s
  AND (%(function_id)s::text IS NULL OR function_id = %(function_id)s
       OR (strpos(%(function_id)s, '@') = 0
           AND left(function_id, length(%(function_id)s) + 1) = %(function_id)s || '@'))
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(cursor_at)s::timestamptz IS NULL OR (created_at, id) < (%(cursor_at)s, %(cursor_id)s))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;

-- name: waits_delete_run
DELETE FROM waits WHERE run_id = %(run_id)s;

-- name: failures_search
-- One entry per failed run: its last failed invocation.
SELECT * FROM (
    SELECT DISTINCT ON (r.id) d.id, d.run_id, r.function_id, d.attempt, d.status, d.error AS
           delivery_error, d.at, r.error
    FROM runs r JOIN deliveries d ON d.run_id = r.id AND d.error IS NOT NULL
                                  AND d.namespace = 'main'
    WHERE r.workspace_id = %(workspace_id)s AND r.status = 'failed'
    ORDER BY r.id, d.at DESC
) f ORDER BY at DESC, id
LIMIT %(limit)s;

-- name: failure_get
SELECT d.id, d.run_id, r.status, r.function_id, r.event_id, r.event, f.priority, f.definition
FROM deliveries d JOIN runs r ON r.id = d.run_id
LEFT JOIN functions f ON f.workspace_id = r.workspace_id AND f.runtime_id = r.function_id
WHERE d.id = %(id)s AND d.workspace_id = %(workspace_id)s
FOR UPDATE OF r;

-- name: rerun_lookup
SELECT request, answer FROM reruns
WHERE workspace_id = %(workspace_id)s AND idempotency_key = %(key)s;

-- name: rerun_source
SELECT r.id, r.function_id, r.event_id, r.event, r.events,
       coalesce(f.priority, 0) AS priority, f.definition
FROM runs r
LEFT JOIN functions f ON f.workspace_id = r.workspace_id AND f.runtime_id = r.function_id
WHERE r.id = %(run_id)s AND r.workspace_id = %(workspace_id)s;

-- name: rerun_step_position
SELECT position FROM steps
WHERE run_id = %(run_id)s AND namespace = 'main' AND step_id = %(step_id)s;

-- name: rerun_copy_steps
-- Memos committed before the chosen step, in commit order, so the new run resumes there.
INSERT INTO steps (run_id, namespace, step_id, type, data, position, queued_at, started_at,
                   app_ms, ended_at, wake_at, copied_from)
SELECT %(new_run_id)s, 'main', step_id, type, data, position, queued_at, started_at, app_ms,
       ended_at, wake_at, coalesce(copied_from, run_id)
FROM steps
WHERE run_id = %(run_id)s AND namespace = 'main' AND position < %(before)s;

-- name: rerun_record
INSERT INTO reruns (workspace_id, idempotency_key, request, answer, created_at)
VALUES (%(workspace_id)s, %(key)s, %(request)s, %(answer)s, %(now)s)
ON CONFLICT DO NOTHING
RETURNING 1;

-- name: runs_create
-- The one statement that creates runs (events, cron ticks, debounce and batch buckets,
-- reruns) or, with restart, starts failed runs again (failures retry): each run row and, unless
-- skipped ([FLOW-4]), its queue row with the run's flow rules ([FLOW-1], [FLOW-3]; its throttle
-- bucket also in the run row, so its start counts in the window). A run offered for hand-off
-- (lease_s set: no flow rule, a free slot in the creating process) is leased at once unless due
-- work ranks ahead of it, so hand-off never jumps the queue ([FLOW-2]). With a receipt, it is
-- stored on the runs' event. Returns every run written, with its lease token when handed off.
WITH t AS (
    SELECT * FROM jsonb_to_recordset(%(runs)s)
        AS t(id text, workspace_id text, function_id text, event_id text, event jsonb,
             events jsonb, priority integer, flow_keys text[], flow_limits integer[],
             rate_key text, skip_reason text, throttle_key text, throttle_limit integer,
             throttle_period_ms integer, lease_s float8, rerun_of text,
             idempotency_key text, singleton_key text, parent_run_id text,
             parent_namespace text, parent_step_id text, traceparent text)
), head AS (
    -- The rank of the first due, unleased row (NULL: none), read by rank only up to the
    -- latest rank a due row can have, as the claim does: sleeping rows are never scanned.
    SELECT min(rank_at) AS rank_at FROM queue
    WHERE lease_token IS NULL AND due_at <= %(now)s
      AND rank_at <= %(now)s - make_interval(secs => least(0, (
              SELECT min(priority) FROM queue WHERE lease_token IS NULL)))
), e AS (
    SELECT t.*, t.lease_s IS NOT NULL AND t.skip_reason IS NULL AND (
               head.rank_at IS NULL
               OR head.rank_at > %(now)s - make_interval(secs => t.priority)) AS handed
    FROM t, head
), r AS (
    INSERT INTO runs (id, workspace_id, function_id, event_id, event, events, status,
                      created_at, updated_at, rate_key, skip_reason, ended_at, throttle_key,
                      started_at, rerun_of, idempotency_key, singleton_key, parent_run_id,
                      parent_namespace, parent_step_id, traceparent)
    SELECT id, workspace_id, function_id, event_id, event, events,
           CASE WHEN skip_reason IS NOT NULL THEN 'skipped'
                WHEN handed THEN 'running' ELSE 'queued' END, %(now)s, %(now)s,
           rate_key, skip_reason, CASE WHEN skip_reason IS NULL THEN NULL ELSE %(now)s END,
           throttle_key, CASE WHEN handed THEN %(now)s END, rerun_of, idempotency_key,
           singleton_key, parent_run_id, parent_namespace, parent_step_id,
           coalesce(traceparent, durable_new_traceparent())
    FROM e
    ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, error = NULL, ended_at = NULL,
        failure_handler = NULL, failure_output = NULL, updated_at = EXCLUDED.updated_at,
        throttle_key = EXCLUDED.throttle_key, started_at = EXCLUDED.started_at
    WHERE %(restart)s AND runs.status = 'failed'
    RETURNING id
), q AS (
    INSERT INTO queue (run_id, workspace_id, priority, due_at, flow_keys, flow_limits,
                       throttle_key, throttle_limit, throttle_period_ms, lease_token,
                       lease_until)
    SELECT e.id, e.workspace_id, e.priority, %(now)s, e.flow_keys, e.flow_limits,
           e.throttle_key, e.throttle_limit, e.throttle_period_ms,
           CASE WHEN e.handed THEN gen_random_uuid() END,
           CASE WHEN e.handed THEN %(now)s + make_interval(secs => e.lease_s) END
    FROM e JOIN r ON r.id = e.id
    WHERE e.skip_reason IS NULL
    ON CONFLICT (run_id) DO UPDATE SET namespace = 'main', kind = 'invoke', attempt = 0,
        due_at = EXCLUDED.due_at, lease_token = EXCLUDED.lease_token,
        lease_until = EXCLUDED.lease_until, flow_keys = EXCLUDED.flow_keys,
        flow_limits = EXCLUDED.flow_limits, throttle_key = EXCLUDED.throttle_key,
        throttle_limit = EXCLUDED.throttle_limit,
        throttle_period_ms = EXCLUDED.throttle_period_ms
    RETURNING run_id, lease_token
), u AS (
    UPDATE events SET receipt = %(receipt)s
    WHERE %(receipt)s::jsonb IS NOT NULL AND workspace_id = %(workspace_id)s
      AND id = %(event_id)s
)
SELECT r.id AS run_id, q.lease_token FROM r LEFT JOIN q ON q.run_id = r.id;
