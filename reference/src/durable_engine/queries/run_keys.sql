-- Function-level idempotency ([IDEM-2]) and singleton ([SINGLE-2], [SINGLE-3]).

-- name: run_key_lock
-- Serializes the creators of runs of one idempotency or singleton key until commit. A
-- statement of its own: the look-up after it must see what the previous holder committed.
SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, %(seed)s));

-- name: idempotency_original
-- The run created under the key within the period, the earliest one.
SELECT id, function_id FROM runs
WHERE idempotency_key = %(key)s AND created_at > %(now)s - make_interval(secs => %(period_s)s)
ORDER BY created_at, id
LIMIT 1;

-- name: singleton_live
SELECT id FROM runs
WHERE singleton_key = %(key)s AND status IN ('queued', 'running', 'sleeping', 'waiting')
ORDER BY id;
