-- Metrics rollups (decision 0040): the sampler's backlog sample, the roller, the Prometheus
-- totals, the read model's series and retention.

-- name: metrics_sample_backlog
-- Live runs by state per workspace and function, now; stored as this minute's maximum (an
-- upsert in workspace, function order, so samplers side by side never deadlock) and the
-- minute marked sampled. Returns the sample.
WITH sample AS (
    SELECT q.workspace_id, r.function_id,
           (count(*) FILTER (WHERE (q.lease_token IS NULL AND q.due_at <= %(now)s)
                                OR q.lease_until < %(now)s))::integer AS due,
           (count(*) FILTER (WHERE q.lease_until >= %(now)s))::integer AS running,
           (count(*) FILTER (WHERE q.lease_token IS NULL AND q.due_at > %(now)s
                                AND r.status = 'sleeping'))::integer AS sleeping,
           (count(*) FILTER (WHERE q.lease_token IS NULL AND q.due_at > %(now)s
                                AND r.status = 'waiting'))::integer AS waiting,
           (count(*) FILTER (WHERE q.lease_token IS NULL AND q.due_at > %(now)s
                                AND r.status NOT IN ('sleeping', 'waiting')))::integer
               AS retrying
    FROM queue q JOIN runs r ON r.id = q.run_id
    GROUP BY q.workspace_id, r.function_id
), stored AS (
    INSERT INTO metrics_backlog AS b (workspace_id, function_id, minute, due, running,
                                      sleeping, waiting, retrying)
    SELECT s.workspace_id, s.function_id, %(minute)s, s.due, s.running, s.sleeping, s.waiting,
           s.retrying
    FROM sample s JOIN workspaces w ON w.id = s.workspace_id
    ORDER BY s.workspace_id, s.function_id
    ON CONFLICT (workspace_id, function_id, minute) DO UPDATE SET
        due = greatest(b.due, EXCLUDED.due), running = greatest(b.running, EXCLUDED.running),
        sleeping = greatest(b.sleeping, EXCLUDED.sleeping),
        waiting = greatest(b.waiting, EXCLUDED.waiting),
        retrying = greatest(b.retrying, EXCLUDED.retrying)
), sampled AS (
    INSERT INTO metrics_sampled (minute) VALUES (%(minute)s) ON CONFLICT DO NOTHING
)
SELECT workspace_id, function_id, due, running, sleeping, waiting, retrying FROM sample;

-- name: metrics_roll_claim
-- The watermark, locked for this transaction's roll; no row when another process is rolling.
-- age_s: how long the oldest open transaction of another session has been open (at most 5
-- minutes counted), as a transaction may still commit rows stamped before it began.
SELECT s.rolled_to,
       (SELECT coalesce(extract(epoch FROM now() - min(a.xact_start)), 0)
        FROM pg_stat_activity a
        WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
          AND a.backend_type = 'client backend' AND a.xact_start IS NOT NULL
          AND a.xact_start > now() - interval '5 minutes') AS age_s
FROM metrics_state s
FOR UPDATE OF s SKIP LOCKED;

-- name: metrics_roll
-- Roll the minutes in [from, to) into metrics_minutes and add them to the running totals.
WITH rolled AS (
    INSERT INTO metrics_minutes
    SELECT m.* FROM durable_metrics_minutes(%(from)s, %(to)s, NULL) m
    JOIN workspaces w ON w.id = m.workspace_id
    RETURNING *
), totals AS (
    INSERT INTO metrics_totals AS t (workspace_id, function_id, started, completed, failed,
                                     cancelled, app_sum_ms, durable_sum_ms)
    SELECT workspace_id, function_id, sum(started), sum(completed), sum(failed),
           sum(cancelled), sum(app_sum_ms), sum(durable_sum_ms)
    FROM rolled GROUP BY workspace_id, function_id
    ORDER BY workspace_id, function_id
    ON CONFLICT (workspace_id, function_id) DO UPDATE SET
        started = t.started + EXCLUDED.started, completed = t.completed + EXCLUDED.completed,
        failed = t.failed + EXCLUDED.failed, cancelled = t.cancelled + EXCLUDED.cancelled,
        app_sum_ms = t.app_sum_ms + EXCLUDED.app_sum_ms,
        durable_sum_ms = t.durable_sum_ms + EXCLUDED.durable_sum_ms
), buckets AS (
    INSERT INTO metrics_total_buckets AS t (workspace_id, function_id, kind, bucket, n)
    SELECT workspace_id, function_id, kind, bucket, sum(n) FROM (
        SELECT r.workspace_id, r.function_id, 'app' AS kind, u.bucket, u.n
        FROM rolled r, unnest(r.app_buckets, r.app_counts) AS u(bucket, n)
        UNION ALL
        SELECT r.workspace_id, r.function_id, 'durable', u.bucket, u.n
        FROM rolled r, unnest(r.durable_buckets, r.durable_counts) AS u(bucket, n)
    ) x
    GROUP BY workspace_id, function_id, kind, bucket
    ORDER BY workspace_id, function_id, kind, bucket
    ON CONFLICT (workspace_id, function_id, kind, bucket) DO UPDATE SET n = t.n + EXCLUDED.n
)
SELECT count(*) AS rows FROM rolled;

-- name: metrics_roll_done
UPDATE metrics_state SET rolled_to = %(to)s;

-- name: metrics_totals
-- The running totals, each with the watermark (one row of NULL totals when there are none).
SELECT s.rolled_to, t.workspace_id, t.function_id, t.started, t.completed, t.failed,
       t.cancelled, t.app_sum_ms, t.durable_sum_ms
FROM metrics_state s LEFT JOIN metrics_totals t ON true
ORDER BY t.workspace_id, t.function_id;

-- name: metrics_total_buckets
SELECT workspace_id, function_id, kind, bucket, n FROM metrics_total_buckets
ORDER BY workspace_id, function_id, kind, bucket;

-- name: metrics_series
-- One workspace's rollups (of one function id, with all its versions, or all functions) per
-- point of `step` seconds from `from`: rolled minutes, then the minutes not rolled yet computed
-- from runs and steps (at most the last `live_s` seconds), in one snapshot.
WITH state AS (
    SELECT rolled_to, greatest(rolled_to, %(from)s,
                               %(now)s - make_interval(secs => %(live_s)s)) AS live_from
    FROM metrics_state
), m AS (
    SELECT mm.* FROM metrics_minutes mm, state
    WHERE mm.workspace_id = %(workspace_id)s AND mm.minute >= %(from)s
      AND mm.minute < state.rolled_to
    UNION ALL
    SELECT lm.* FROM state, durable_metrics_minutes(state.live_from, %(now)s,
                                                    %(workspace_id)s) lm
), picked AS (
    SELECT floor(extract(epoch FROM minute) / %(step)s)::bigint * %(step)s AS t, m.*
    FROM m
    WHERE %(function_id)s::text IS NULL OR function_id = %(function_id)s
       OR split_part(function_id, '@', 1) = %(function_id)s
), hist AS (
    SELECT t, kind, bucket, sum(n)::bigint AS n FROM (
        SELECT p.t, 'app' AS kind, u.bucket, u.n
        FROM picked p, unnest(p.app_buckets, p.app_counts) AS u(bucket, n)
        UNION ALL
        SELECT p.t, 'durable', u.bucket, u.n
        FROM picked p, unnest(p.durable_buckets, p.durable_counts) AS u(bucket, n)
    ) x GROUP BY t, kind, bucket
), hists AS (
    SELECT t, jsonb_object_agg(bucket, n) FILTER (WHERE kind = 'app') AS app,
           jsonb_object_agg(bucket, n) FILTER (WHERE kind = 'durable') AS durable
    FROM hist GROUP BY t
)
SELECT p.t, sum(p.started)::bigint AS started, sum(p.completed)::bigint AS completed,
       sum(p.failed)::bigint AS failed, sum(p.cancelled)::bigint AS cancelled,
       max(p.app_max_ms) AS app_max_ms, max(p.durable_max_ms) AS durable_max_ms,
       h.app, h.durable
FROM picked p LEFT JOIN hists h ON h.t = p.t
GROUP BY p.t, h.app, h.durable
ORDER BY p.t;

-- name: metrics_backlog_series
-- One workspace's sampled backlog per point of `step` seconds: per minute the sum over its
-- functions, per point the largest minute; a point without a sampled minute is absent.
WITH minutes AS (
    SELECT s.minute, coalesce(sum(b.due), 0) AS due, coalesce(sum(b.running), 0) AS running,
           coalesce(sum(b.sleeping), 0) AS sleeping, coalesce(sum(b.waiting), 0) AS waiting,
           coalesce(sum(b.retrying), 0) AS retrying
    FROM metrics_sampled s
    LEFT JOIN metrics_backlog b ON b.minute = s.minute AND b.workspace_id = %(workspace_id)s
         AND (%(function_id)s::text IS NULL OR b.function_id = %(function_id)s
              OR split_part(b.function_id, '@', 1) = %(function_id)s)
    WHERE s.minute >= %(from)s
    GROUP BY s.minute
)
SELECT floor(extract(epoch FROM minute) / %(step)s)::bigint * %(step)s AS t,
       max(due)::bigint AS due, max(running)::bigint AS running,
       max(sleeping)::bigint AS sleeping, max(waiting)::bigint AS waiting,
       max(retrying)::bigint AS retrying
FROM minutes GROUP BY 1 ORDER BY 1;

-- name: metrics_backlog_now
-- One workspace's live runs by state now (the sampler's figures, for one workspace).
SELECT r.function_id,
       (count(*) FILTER (WHERE (q.lease_token IS NULL AND q.due_at <= %(now)s)
                            OR q.lease_until < %(now)s))::integer AS due,
       (count(*) FILTER (WHERE q.lease_until >= %(now)s))::integer AS running,
       (count(*) FILTER (WHERE q.lease_token IS NULL AND q.due_at > %(now)s
                            AND r.status = 'sleeping'))::integer AS sleeping,
       (count(*) FILTER (WHERE q.lease_token IS NULL AND q.due_at > %(now)s
                            AND r.status = 'waiting'))::integer AS waiting,
       (count(*) FILTER (WHERE q.lease_token IS NULL AND q.due_at > %(now)s
                            AND r.status NOT IN ('sleeping', 'waiting')))::integer AS retrying
FROM queue q JOIN runs r ON r.id = q.run_id
WHERE q.workspace_id = %(workspace_id)s
GROUP BY r.function_id;

-- name: metrics_workspace
-- The workspace (no row: none) and how far the rollups reach.
SELECT w.id, s.rolled_to FROM workspaces w, metrics_state s WHERE w.id = %(workspace_id)s;

-- name: retention_metrics
-- Minutes older than the cutoff; the running totals stay.
WITH minutes AS (
    DELETE FROM metrics_minutes WHERE minute < %(cutoff)s RETURNING 1
), backlog AS (
    DELETE FROM metrics_backlog WHERE minute < %(cutoff)s RETURNING 1
), sampled AS (
    DELETE FROM metrics_sampled WHERE minute < %(cutoff)s RETURNING 1
)
SELECT (SELECT count(*) FROM minutes) + (SELECT count(*) FROM backlog) AS rows;
