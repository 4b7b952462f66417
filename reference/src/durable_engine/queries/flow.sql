-- Throttle, debounce and batch (decision 0008, [FLOW-3], [FLOW-5], [FLOW-6]).

-- name: flow_debounce
-- The bucket's pending run, restarted by each event: the last event wins and the period
-- starts again. The row lock serializes concurrent events of one bucket.
INSERT INTO flow_pending (bucket, kind, workspace_id, runtime_id, run_id, event, priority,
                          flow_keys, flow_limits, throttle_key, throttle_limit,
                          throttle_period_ms, rate_key, first_at, due_at, traceparent)
VALUES (%(bucket)s, 'debounce', %(workspace_id)s, %(runtime_id)s, %(run_id)s, %(event)s,
        %(priority)s, %(flow_keys)s, %(flow_limits)s, %(throttle_key)s, %(throttle_limit)s,
        %(throttle_period_ms)s, %(rate_key)s, %(now)s, %(due_at)s, %(traceparent)s)
ON CONFLICT (bucket) DO UPDATE SET
    runtime_id = EXCLUDED.runtime_id, event = EXCLUDED.event, priority = EXCLUDED.priority,
    flow_keys = EXCLUDED.flow_keys, flow_limits = EXCLUDED.flow_limits,
    throttle_key = EXCLUDED.throttle_key, throttle_limit = EXCLUDED.throttle_limit,
    throttle_period_ms = EXCLUDED.throttle_period_ms, rate_key = EXCLUDED.rate_key,
    size = flow_pending.size + 1, due_at = EXCLUDED.due_at,
    traceparent = EXCLUDED.traceparent;

-- name: flow_batch
-- Append the event to the bucket's batch (the first event's keys and due time stay).
INSERT INTO flow_pending (bucket, kind, workspace_id, runtime_id, run_id, event, events,
                          max_size, priority, flow_keys, flow_limits, throttle_key,
                          throttle_limit, throttle_period_ms, rate_key, first_at, due_at,
                          traceparent)
VALUES (%(bucket)s, 'batch', %(workspace_id)s, %(runtime_id)s, %(run_id)s, %(event)s,
        jsonb_build_array(%(event)s::jsonb), %(max_size)s, %(priority)s, %(flow_keys)s,
        %(flow_limits)s, %(throttle_key)s, %(throttle_limit)s, %(throttle_period_ms)s,
        %(rate_key)s, %(now)s, %(due_at)s, %(traceparent)s)
ON CONFLICT (bucket) DO UPDATE SET
    events = flow_pending.events || jsonb_build_array(EXCLUDED.event),
    size = flow_pending.size + 1
RETURNING size, max_size;

-- name: throttle_window
-- Per throttle bucket: how many runs started in the sliding window (at most `limit` are
-- counted) and the oldest of those counted; with `limit` counted, the next start may happen
-- at oldest + periodMs. Called under the buckets' advisory locks.
SELECT t.key, count(s.started_at) AS n, min(s.started_at) AS oldest
FROM unnest(%(keys)s::text[], %(limits)s::integer[], %(periods)s::integer[])
    AS t(key, lim, period_ms)
LEFT JOIN LATERAL (
    SELECT started_at FROM runs
    WHERE throttle_key = t.key
      AND started_at > %(now)s - make_interval(secs => t.period_ms / 1000.0)
    ORDER BY started_at DESC
    LIMIT t.lim
) s ON true
GROUP BY t.key;

-- name: throttle_heads
-- Per throttle bucket: its oldest claimable runs not yet started (first in, first out:
-- rank, then arrival), as many as could start. Read under the buckets' advisory locks and
-- without SKIP LOCKED: a run another claimer holds is still the head, and only that claimer
-- may start it, so nobody starts a later run of the bucket before it.
SELECT t.key, h.run_id
FROM unnest(%(keys)s::text[], %(counts)s::integer[]) AS t(key, n)
CROSS JOIN LATERAL (
    SELECT run_id, rank_at, seq FROM queue
    WHERE throttle_key = t.key
      AND ((lease_token IS NULL AND due_at <= %(now)s)
           OR (lease_token IS NOT NULL AND lease_until < %(now)s))
    ORDER BY rank_at, seq
    LIMIT t.n
) h
ORDER BY t.key, h.rank_at, h.seq;

-- name: flow_take
-- Take due pending rows (or the one named bucket, a full batch) for their runs to be created
-- in the same transaction, each exactly once across processes.
DELETE FROM flow_pending p
USING (SELECT bucket FROM flow_pending
       WHERE CASE WHEN %(bucket)s::text IS NULL THEN due_at <= %(now)s
                  ELSE bucket = %(bucket)s END
       ORDER BY due_at
       LIMIT 100
       FOR UPDATE SKIP LOCKED) d
WHERE p.bucket = d.bucket
RETURNING p.*;
