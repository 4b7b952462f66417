-- name: event_receipt
SELECT receipt FROM events WHERE workspace_id = %(workspace_id)s AND id = %(id)s;

-- name: event_accept
-- One round trip: store the event (idempotent by id) and return what it triggers, the prior
-- receipt when it is a duplicate, and the waits of its name (locked).
WITH ev AS (
    INSERT INTO events (workspace_id, id, name, data, ts, received_at, receipt)
    VALUES (%(workspace_id)s, %(id)s, %(name)s, %(data)s, %(ts)s, %(now)s, '{}')
    ON CONFLICT DO NOTHING
    RETURNING seq
), w AS (
    SELECT run_id, namespace, step_id, match, created_at FROM waits
    WHERE workspace_id = %(workspace_id)s AND event_name = %(name)s AND until > %(now)s
    ORDER BY created_at, run_id
    FOR UPDATE
)
SELECT (SELECT count(*) FROM ev) AS inserted,
       (SELECT receipt FROM events WHERE workspace_id = %(workspace_id)s AND id = %(id)s)
           AS prior_receipt,
       coalesce((SELECT jsonb_agg(jsonb_build_object('runtime_id', runtime_id,
                                                     'priority', priority,
                                                     'definition', definition)
                                  ORDER BY runtime_id)
                 FROM functions
                 WHERE workspace_id = %(workspace_id)s AND trigger_event = %(name)s AND enabled
                   AND NOT removed), '[]'::jsonb) AS functions,
       coalesce((SELECT jsonb_agg(to_jsonb(w) ORDER BY w.created_at, w.run_id) FROM w),
                '[]'::jsonb) AS waits,
       ws.app_url, ws.keys, ws.capabilities, ws.max_request_bytes, ws.manifest_at
FROM workspaces ws WHERE ws.id = %(workspace_id)s;

-- name: event_runs_create
-- One round trip: the event's runs, their queue rows and its receipt. A run offered for
-- hand-off (lease_s set: no flow rule, a free slot in the accepting process) is leased at
-- once unless due work ranks ahead of it, so hand-off never jumps the queue ([FLOW-2]);
-- the leased ones are returned for the accepting process to invoke.
WITH t AS (
    SELECT * FROM jsonb_to_recordset(%(runs)s)
        AS t(id text, function_id text, priority integer, flow_keys text[],
             flow_limits integer[], rate_key text, skip_reason text, throttle_key text,
             throttle_limit integer, throttle_period_ms integer, lease_s float8)
), e AS (
    SELECT t.*, t.lease_s IS NOT NULL AND t.skip_reason IS NULL AND NOT EXISTS (
               SELECT 1 FROM queue o
               WHERE o.lease_token IS NULL AND o.due_at <= %(now)s
                 AND o.rank_at <= %(now)s - make_interval(secs => t.priority)) AS handed
    FROM t
), r AS (
    INSERT INTO runs (id, workspace_id, function_id, event_id, event, status, created_at,
                      updated_at, rate_key, skip_reason, ended_at, throttle_key, started_at)
    SELECT id, %(workspace_id)s, function_id, %(event_id)s, %(event)s,
           CASE WHEN skip_reason IS NOT NULL THEN 'skipped'
                WHEN handed THEN 'running' ELSE 'queued' END, %(now)s, %(now)s,
           rate_key, skip_reason, CASE WHEN skip_reason IS NULL THEN NULL ELSE %(now)s END,
           throttle_key, CASE WHEN handed THEN %(now)s END
    FROM e
), q AS (
    INSERT INTO queue (run_id, workspace_id, priority, due_at, flow_keys, flow_limits,
                       throttle_key, throttle_limit, throttle_period_ms, lease_token,
                       lease_until)
    SELECT id, %(workspace_id)s, priority, %(now)s, flow_keys, flow_limits, throttle_key,
           throttle_limit, throttle_period_ms,
           CASE WHEN handed THEN gen_random_uuid() END,
           CASE WHEN handed THEN %(now)s + make_interval(secs => lease_s) END
    FROM e
    WHERE skip_reason IS NULL
    RETURNING run_id, lease_token
), u AS (
    UPDATE events SET receipt = %(receipt)s
    WHERE workspace_id = %(workspace_id)s AND id = %(event_id)s
)
SELECT run_id, lease_token FROM q WHERE lease_token IS NOT NULL;

-- name: rate_lock
-- Serializes acceptances per rate bucket until commit. A statement of its own: the count
-- below must take its snapshot after the lock, to see what the previous holder committed.
SELECT pg_advisory_xact_lock(hashtextextended(%(rate_key)s, 728));

-- name: rate_window_count
-- Runs created (not skipped) in the bucket's sliding window.
SELECT count(*) AS n FROM runs
WHERE rate_key = %(rate_key)s AND skip_reason IS NULL
  AND created_at > %(now)s - make_interval(secs => %(period_ms)s / 1000.0);
