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
       -- cancelOn rules of live runs that this name may meet ([CANCEL-3])
       coalesce((SELECT jsonb_agg(jsonb_build_object('run_id', c.run_id, 'match', c.match,
                                                     'event', r.event, 'events', r.events)
                                  ORDER BY c.run_id, c.rule)
                 FROM run_cancel_rules c JOIN runs r ON r.id = c.run_id
                 WHERE c.workspace_id = %(workspace_id)s AND c.event_name = %(name)s
                   AND (c.until IS NULL OR c.until > %(now)s)
                   AND r.status IN ('queued', 'running', 'sleeping', 'waiting')),
                '[]'::jsonb) AS cancel_rules,
       ws.app_url, ws.keys, ws.capabilities, ws.max_request_bytes, ws.manifest_at
FROM workspaces ws WHERE ws.id = %(workspace_id)s;

-- name: rate_lock
-- Serializes acceptances per rate bucket until commit. A statement of its own: the count
-- below must take its snapshot after the lock, to see what the previous holder committed.
SELECT pg_advisory_xact_lock(hashtextextended(%(rate_key)s, 728));

-- name: rate_window_count
-- Runs created (not skipped) in the bucket's sliding window.
SELECT count(*) AS n FROM runs
WHERE rate_key = %(rate_key)s AND skip_reason IS NULL
  AND created_at > %(now)s - make_interval(secs => %(period_ms)s / 1000.0);
