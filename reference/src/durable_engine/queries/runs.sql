-- name: notify_queue
SELECT pg_notify('durable_queue', '');

-- name: claim
-- One statement: lease due work (SKIP LOCKED, by due_at - priority), mark fresh invocations
-- running, and return each run's invocation context with its memos of the namespace.
-- Unleased rows are read by rank only up to the latest rank a due row can have (now minus
-- the lowest queued priority), lapsed leases through their own index: rows that are not due
-- are never scanned, however many wait.
WITH due AS (
    SELECT run_id, rank_at FROM queue
    WHERE lease_token IS NULL AND due_at <= %(now)s
      AND rank_at <= %(now)s - make_interval(secs => least(0, (
              SELECT min(priority) FROM queue WHERE lease_token IS NULL)))
      AND ((flow_keys = '{}' AND throttle_key IS NULL) OR run_id = ANY(%(flow_ok)s))
    ORDER BY rank_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), lapsed AS (
    SELECT run_id, rank_at FROM queue
    WHERE lease_token IS NOT NULL AND lease_until < %(now)s
      AND ((flow_keys = '{}' AND throttle_key IS NULL) OR run_id = ANY(%(flow_ok)s))
    ORDER BY rank_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), ready AS (
    SELECT run_id FROM (SELECT * FROM due UNION ALL SELECT * FROM lapsed) d
    ORDER BY rank_at
    LIMIT %(limit)s
), claimed AS (
    -- a short lease, renewed by the claiming process's heartbeat while it works
    UPDATE queue q SET lease_token = gen_random_uuid(), throttle_key = NULL,
        lease_until = %(now)s + make_interval(secs => %(lease_s)s)
    FROM ready
    WHERE q.run_id = ready.run_id
    RETURNING q.run_id, q.workspace_id, q.namespace, q.kind, q.attempt, q.due_at, q.lease_token
), marked AS (
    UPDATE runs r SET status = 'running', started_at = coalesce(r.started_at, %(now)s),
                      updated_at = %(now)s
    FROM claimed c
    WHERE r.id = c.run_id AND c.kind = 'invoke' AND c.namespace = 'main'
      AND r.status IN ('queued', 'sleeping', 'waiting')
)
SELECT c.run_id, c.workspace_id, c.namespace, c.kind, c.attempt, c.due_at, c.lease_token,
       r.id, r.function_id, r.event, r.events, r.error, r.traceparent, r.created_at,
       f.definition, f.enabled, f.removed,
       w.app_url, w.keys, w.capabilities, w.max_request_bytes, w.manifest_at,
       coalesce((SELECT jsonb_object_agg(s.step_id,
                                         jsonb_build_object('type', s.type, 'data', s.data))
                 FROM steps s WHERE s.run_id = c.run_id AND s.namespace = c.namespace),
                '{}'::jsonb) AS steps
FROM claimed c
JOIN runs r ON r.id = c.run_id
JOIN workspaces w ON w.id = r.workspace_id
LEFT JOIN functions f ON f.workspace_id = r.workspace_id AND f.runtime_id = r.function_id;

-- name: next_due
-- When the next row becomes claimable, and whether some are due but were not claimable
-- (a full concurrency limit, or held by another process's transaction); each through an
-- index, never a scan of the queue. "Some row is due" is asked as "the earliest row is due":
-- an EXISTS over a range is planned from statistics and may scan every sleeping row when none
-- is due, a min() is one index probe whatever the statistics say.
SELECT least((SELECT min(due_at) FROM queue WHERE lease_token IS NULL AND due_at > %(now)s),
             (SELECT min(lease_until) FROM queue
              WHERE lease_token IS NOT NULL AND lease_until > %(now)s),
             (SELECT min(due_at) FROM flow_pending WHERE due_at > %(now)s)) AS at,
       coalesce((SELECT min(due_at) FROM queue WHERE lease_token IS NULL) <= %(now)s
                OR (SELECT min(lease_until) FROM queue WHERE lease_token IS NOT NULL)
                   <= %(now)s
                OR (SELECT min(due_at) FROM flow_pending) <= %(now)s, false) AS stuck;

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

-- name: run_cancel
UPDATE runs SET status = 'cancelled', ended_at = %(now)s, updated_at = %(now)s
WHERE id = %(run_id)s AND workspace_id = %(workspace_id)s
  AND status IN ('queued', 'running', 'sleeping', 'waiting')
RETURNING id, function_id, traceparent, created_at;

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

-- name: queue_renew
-- The heartbeat: every lease a process holds, one statement. A row a transaction holds is
-- skipped (that transaction sets the run's next lease itself); a token that is no longer the
-- row's (lost, moved on) matches nothing.
UPDATE queue SET lease_until = %(now)s + make_interval(secs => %(lease_s)s)
WHERE run_id IN (SELECT run_id FROM queue WHERE lease_token = ANY(%(tokens)s)
                 FOR UPDATE SKIP LOCKED)
  AND lease_token = ANY(%(tokens)s);

-- name: queue_release
UPDATE queue SET lease_token = NULL, lease_until = NULL WHERE lease_token = ANY(%(tokens)s);

-- name: claimer_session
-- The claimer's own connection: a lease is not worth an fsync (a lease lost in a crash only
-- means the run is claimed again).
SET synchronous_commit TO off;

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

-- name: flow_candidates
-- Due rows under a concurrency limit or a throttle, by rank; locked so no other claimer
-- takes them.
SELECT run_id, flow_keys, flow_limits, throttle_key, throttle_limit, throttle_period_ms
FROM queue
WHERE ((lease_token IS NULL AND due_at <= %(now)s)
       OR (lease_token IS NOT NULL AND lease_until < %(now)s))
  AND (flow_keys <> '{}' OR throttle_key IS NOT NULL)
ORDER BY rank_at, seq
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;

-- name: flow_candidates_fair
-- The same, when the head of the queue is a blocked backlog: round-robin over the buckets
-- with due rows (concurrency key × throttle key), each giving only its first rows (no more
-- than could start: its smallest limit), so however long one key's backlog, every other
-- key's oldest due run is a candidate. The buckets are enumerated by skipping through the
-- queue_flow_buckets index one bucket at a time, never reading a backlog row by row.
WITH RECURSIVE buckets AS (
    (SELECT coalesce(flow_keys[1], '') AS fk, coalesce(throttle_key, '') AS tk
     FROM queue
     WHERE lease_token IS NULL AND (flow_keys <> '{}' OR throttle_key IS NOT NULL)
       AND due_at <= %(now)s
     ORDER BY 1, 2
     LIMIT 1)
    UNION ALL
    SELECT n.fk, n.tk
    FROM buckets b CROSS JOIN LATERAL (
        SELECT coalesce(flow_keys[1], '') AS fk, coalesce(throttle_key, '') AS tk
        FROM queue
        WHERE lease_token IS NULL AND (flow_keys <> '{}' OR throttle_key IS NOT NULL)
          AND due_at <= %(now)s
          AND (coalesce(flow_keys[1], ''), coalesce(throttle_key, '')) > (b.fk, b.tk)
        ORDER BY 1, 2
        LIMIT 1) n
), heads AS (
    SELECT h.run_id
    FROM buckets b CROSS JOIN LATERAL (
        SELECT run_id, throttle_limit, flow_limits[1] AS first_limit,
               row_number() OVER (ORDER BY rank_at, seq) AS n
        FROM queue
        WHERE lease_token IS NULL AND (flow_keys <> '{}' OR throttle_key IS NOT NULL)
          AND coalesce(flow_keys[1], '') = b.fk AND coalesce(throttle_key, '') = b.tk
          AND due_at <= %(now)s
        ORDER BY rank_at, seq
        LIMIT %(limit)s) h
    WHERE h.n <= least(h.throttle_limit, h.first_limit, %(limit)s)
), lapsed AS (
    SELECT run_id FROM queue
    WHERE lease_token IS NOT NULL AND lease_until < %(now)s
      AND (flow_keys <> '{}' OR throttle_key IS NOT NULL)
)
SELECT run_id, flow_keys, flow_limits, throttle_key, throttle_limit, throttle_period_ms
FROM queue
WHERE run_id IN (SELECT run_id FROM heads UNION ALL SELECT run_id FROM lapsed)
  AND ((lease_token IS NULL AND due_at <= %(now)s)
       OR (lease_token IS NOT NULL AND lease_until < %(now)s))
ORDER BY rank_at, seq
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;

-- name: flow_lock
-- Serializes claimers per bucket (sorted, so two claimers never deadlock).
SELECT pg_advisory_xact_lock(hashtextextended(k, 727)) FROM unnest(%(keys)s::text[]) AS k
ORDER BY k;

-- name: flow_in_flight
SELECT k AS key, count(*) AS n
FROM queue, unnest(flow_keys) AS k
WHERE lease_token IS NOT NULL AND lease_until >= %(now)s AND flow_keys && %(keys)s::text[]
  AND k = ANY(%(keys)s::text[])
GROUP BY k;

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
