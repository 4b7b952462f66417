-- The queue: claiming due work, the flow admission's reads under the buckets' locks, the
-- idle look-ahead and the leases a process holds. Executed only through store/queue.py.

-- name: flow_probe
-- A claim round's first look: whether debounce/batch buckets are due (then they become runs
-- first), and whether due work is under a concurrency or throttle rule (then the claim needs
-- the bucket locks).
SELECT EXISTS (SELECT 1 FROM flow_pending WHERE due_at <= %(now)s) AS pending,
       EXISTS (SELECT 1 FROM queue
               WHERE lease_token IS NULL AND due_at <= %(now)s
                 AND (flow_keys <> '{}' OR throttle_key IS NOT NULL))
       OR EXISTS (SELECT 1 FROM queue
                  WHERE lease_token IS NOT NULL AND lease_until < %(now)s
                    AND (flow_keys <> '{}' OR throttle_key IS NOT NULL)) AS flow;

-- name: claimer_session
-- The claimer's own connection: a lease is not worth an fsync (a lease lost in a crash only
-- means the run is claimed again).
SET synchronous_commit TO off;

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
-- with due rows (concurrency key × throttle key), each giving only its first rows, no more
-- than could start now (its smallest limit less its first key's invocations in flight), so
-- however long one key's backlog, every other key's oldest due run is a candidate, and a
-- bucket that is full takes no room in the page from one that has a slot free. The buckets
-- are enumerated by skipping through the queue_flow_buckets index one bucket at a time (one
-- probe per bucket: whether its rows are due is asked of its heads, so the enumeration cannot
-- be planned as a read of every due row), never reading a backlog row by row; the counts in
-- flight are read through queue_flow_in_flight, the rows returned by their key. The admission
-- recounts under the buckets' locks.
WITH RECURSIVE buckets AS (
    (SELECT coalesce(flow_keys[1], '') AS fk, coalesce(throttle_key, '') AS tk
     FROM queue
     WHERE lease_token IS NULL AND (flow_keys <> '{}' OR throttle_key IS NOT NULL)
     ORDER BY 1, 2
     LIMIT 1)
    UNION ALL
    SELECT n.fk, n.tk
    FROM buckets b CROSS JOIN LATERAL (
        SELECT coalesce(flow_keys[1], '') AS fk, coalesce(throttle_key, '') AS tk
        FROM queue
        WHERE lease_token IS NULL AND (flow_keys <> '{}' OR throttle_key IS NOT NULL)
          AND (coalesce(flow_keys[1], ''), coalesce(throttle_key, '')) > (b.fk, b.tk)
        ORDER BY 1, 2
        LIMIT 1) n
), heads AS (
    SELECT h.run_id
    FROM buckets b CROSS JOIN LATERAL (
        SELECT count(*) AS n FROM queue
        WHERE b.fk <> '' AND lease_token IS NOT NULL AND lease_until >= %(now)s
          AND flow_keys && ARRAY[b.fk]
    ) busy CROSS JOIN LATERAL (
        SELECT run_id, throttle_limit, flow_limits[1] AS first_limit,
               row_number() OVER (ORDER BY rank_at, seq) AS n
        FROM queue
        WHERE lease_token IS NULL AND (flow_keys <> '{}' OR throttle_key IS NOT NULL)
          AND coalesce(flow_keys[1], '') = b.fk AND coalesce(throttle_key, '') = b.tk
          AND due_at <= %(now)s
        ORDER BY rank_at, seq
        LIMIT %(limit)s) h
    WHERE h.n <= least(h.throttle_limit, h.first_limit - busy.n, %(limit)s)
), lapsed AS (
    SELECT run_id FROM queue
    WHERE lease_token IS NOT NULL AND lease_until < %(now)s
      AND (flow_keys <> '{}' OR throttle_key IS NOT NULL)
)
SELECT run_id, flow_keys, flow_limits, throttle_key, throttle_limit, throttle_period_ms
FROM queue
WHERE run_id = ANY(ARRAY(SELECT run_id FROM heads UNION ALL SELECT run_id FROM lapsed))
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
