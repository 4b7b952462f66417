-- Metrics kept as rollups (decision 0040). Per workspace, function (runtime id) and minute:
-- runs started, completed, failed and cancelled, and each step's app time and durable time as
-- a histogram of fixed log-scale buckets. Bucket b holds values in (0.25 ms * 2^((b-1)/2),
-- 0.25 ms * 2^(b/2)]; bucket 0 holds everything up to 0.25 ms and bucket 64 everything above
-- 0.25 ms * 2^31.5 (about 8.8 days). Only buckets with values are stored (bucket numbers and
-- their counts, in bucket order), so minutes sum into hours, days and weeks exactly and a
-- window's percentiles come from its summed histogram, never from averaged percentiles.
CREATE TABLE metrics_minutes (
    workspace_id    text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    function_id     text NOT NULL,
    minute          timestamptz NOT NULL,
    started         integer NOT NULL DEFAULT 0,
    completed       integer NOT NULL DEFAULT 0,
    failed          integer NOT NULL DEFAULT 0,
    cancelled       integer NOT NULL DEFAULT 0,
    app_buckets     smallint[] NOT NULL DEFAULT '{}',
    app_counts      integer[] NOT NULL DEFAULT '{}',
    app_sum_ms      double precision NOT NULL DEFAULT 0,
    app_max_ms      double precision,
    durable_buckets smallint[] NOT NULL DEFAULT '{}',
    durable_counts  integer[] NOT NULL DEFAULT '{}',
    durable_sum_ms  double precision NOT NULL DEFAULT 0,
    durable_max_ms  double precision,
    PRIMARY KEY (workspace_id, function_id, minute)
);
CREATE INDEX metrics_minutes_by_minute ON metrics_minutes (minute);

-- Every minute before rolled_to is in metrics_minutes, rolled once: the roller holds this row's
-- lock while it rolls, so several engine processes never count a minute twice.
CREATE TABLE metrics_state (
    one       boolean PRIMARY KEY DEFAULT true CHECK (one),
    rolled_to timestamptz NOT NULL
);
INSERT INTO metrics_state (rolled_to) VALUES (date_trunc('minute', now()));

-- Backlog sampled every few seconds by every engine process: per minute, the most runs seen in
-- each state. A maximum is the same whoever samples, and however often, so processes sampling
-- side by side count nothing twice. A minute in metrics_sampled was sampled (a function
-- without a row had none); a minute missing there was not (no engine ran).
CREATE TABLE metrics_backlog (
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    function_id  text NOT NULL,
    minute       timestamptz NOT NULL,
    due          integer NOT NULL DEFAULT 0,  -- due, waiting for a worker
    running      integer NOT NULL DEFAULT 0,  -- an invocation holds its lease
    sleeping     integer NOT NULL DEFAULT 0,
    waiting      integer NOT NULL DEFAULT 0,  -- waiting for an event
    retrying     integer NOT NULL DEFAULT 0,  -- backing off before its next attempt
    PRIMARY KEY (workspace_id, function_id, minute)
);
CREATE INDEX metrics_backlog_by_minute ON metrics_backlog (minute);
CREATE TABLE metrics_sampled (minute timestamptz PRIMARY KEY);

-- Running totals since the workspace existed (never pruned): the Prometheus counters and
-- histograms, which must not go down when retention prunes old minutes.
CREATE TABLE metrics_totals (
    workspace_id   text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    function_id    text NOT NULL,
    started        bigint NOT NULL DEFAULT 0,
    completed      bigint NOT NULL DEFAULT 0,
    failed         bigint NOT NULL DEFAULT 0,
    cancelled      bigint NOT NULL DEFAULT 0,
    app_sum_ms     double precision NOT NULL DEFAULT 0,
    durable_sum_ms double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, function_id)
);
CREATE TABLE metrics_total_buckets (
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    function_id  text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('app', 'durable')),
    bucket       smallint NOT NULL,
    n            bigint NOT NULL,
    PRIMARY KEY (workspace_id, function_id, kind, bucket)
);

-- The roller reads a minute's steps and run starts by time. BRIN indexes cost almost nothing
-- on the insert path (a range summary, not an entry per row) and keep HOT updates.
CREATE INDEX steps_ended_brin ON steps USING brin (ended_at) WITH (autosummarize = on);
CREATE INDEX runs_started_brin ON runs USING brin (started_at) WITH (autosummarize = on);

-- The bucket of a duration in ms (see metrics_minutes); durable_engine.metrics.bucket_of in
-- Python computes the same.
CREATE FUNCTION durable_metrics_bucket(ms double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT least(64, greatest(0, ceil(2 * ln(greatest(ms, 0.25) / 0.25) / ln(2))))::smallint
$$;

-- Its body names steps.wake_at and steps.copied_from of migration 0011, which a new database
-- applies after this one: the body is checked when first called, not here.
SET LOCAL check_function_bodies = off;

-- The rollup rows of the minutes in [p_from, p_to), of one workspace or (NULL) all of them,
-- computed from runs and steps. A step's app time is how long the app took to answer the
-- invocation that recorded it; its durable time is the time the engine held it: due until the
-- app was called, plus the sleep for a sleep, or from the wait's start until it resumed for a
-- wait. A step copied by a rerun from a step counted in its own run and counts no more.
CREATE FUNCTION durable_metrics_minutes(p_from timestamptz, p_to timestamptz,
                                        p_workspace text)
RETURNS TABLE (workspace_id text, function_id text, minute timestamptz, started integer,
               completed integer, failed integer, cancelled integer,
               app_buckets smallint[], app_counts integer[], app_sum_ms double precision,
               app_max_ms double precision, durable_buckets smallint[],
               durable_counts integer[], durable_sum_ms double precision,
               durable_max_ms double precision)
LANGUAGE sql STABLE AS $$
WITH starts AS (
    SELECT r.workspace_id, r.function_id, date_trunc('minute', r.started_at) AS minute,
           count(*)::integer AS n
    FROM runs r
    WHERE r.started_at >= p_from AND r.started_at < p_to
      AND (p_workspace IS NULL OR r.workspace_id = p_workspace)
    GROUP BY 1, 2, 3
), ends AS (
    SELECT r.workspace_id, r.function_id, date_trunc('minute', r.ended_at) AS minute,
           (count(*) FILTER (WHERE r.status = 'completed'))::integer AS completed,
           (count(*) FILTER (WHERE r.status = 'failed'))::integer AS failed,
           (count(*) FILTER (WHERE r.status = 'cancelled'))::integer AS cancelled
    FROM runs r
    WHERE r.status IN ('completed', 'failed', 'cancelled', 'skipped')
      AND r.ended_at >= p_from AND r.ended_at < p_to
      AND (p_workspace IS NULL OR r.workspace_id = p_workspace)
    GROUP BY 1, 2, 3
), times AS (
    SELECT r.workspace_id, r.function_id, date_trunc('minute', s.ended_at) AS minute,
           CASE WHEN s.app_ms IS NOT NULL THEN greatest(s.app_ms, 0) END AS app_ms,
           greatest(0, CASE
               WHEN s.type = 'wait' THEN extract(epoch FROM s.ended_at - s.queued_at) * 1000
               ELSE coalesce(extract(epoch FROM s.started_at - s.queued_at) * 1000, 0)
                    + coalesce(extract(epoch FROM s.wake_at - s.ended_at) * 1000, 0)
           END)::double precision AS durable_ms
    FROM steps s JOIN runs r ON r.id = s.run_id
    WHERE s.ended_at >= p_from AND s.ended_at < p_to AND s.copied_from IS NULL
      AND (p_workspace IS NULL OR r.workspace_id = p_workspace)
), hist AS (
    SELECT t.workspace_id, t.function_id, t.minute, v.kind,
           durable_metrics_bucket(v.ms) AS bucket, count(*)::integer AS n,
           sum(v.ms) AS sum_ms, max(v.ms) AS max_ms
    FROM times t, LATERAL (VALUES ('app', t.app_ms), ('durable', t.durable_ms)) v(kind, ms)
    WHERE v.ms IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5
), kinds AS (
    SELECT h.workspace_id, h.function_id, h.minute, h.kind,
           array_agg(h.bucket ORDER BY h.bucket) AS buckets,
           array_agg(h.n ORDER BY h.bucket) AS counts,
           sum(h.sum_ms) AS sum_ms, max(h.max_ms) AS max_ms
    FROM hist h GROUP BY 1, 2, 3, 4
), keys AS (
    SELECT s.workspace_id, s.function_id, s.minute FROM starts s
    UNION SELECT e.workspace_id, e.function_id, e.minute FROM ends e
    UNION SELECT k.workspace_id, k.function_id, k.minute FROM kinds k
)
SELECT k.workspace_id, k.function_id, k.minute,
       coalesce(s.n, 0), coalesce(e.completed, 0), coalesce(e.failed, 0),
       coalesce(e.cancelled, 0),
       coalesce(a.buckets, '{}'), coalesce(a.counts, '{}'), coalesce(a.sum_ms, 0), a.max_ms,
       coalesce(d.buckets, '{}'), coalesce(d.counts, '{}'), coalesce(d.sum_ms, 0), d.max_ms
FROM keys k
LEFT JOIN starts s USING (workspace_id, function_id, minute)
LEFT JOIN ends e USING (workspace_id, function_id, minute)
LEFT JOIN kinds a ON a.workspace_id = k.workspace_id AND a.function_id = k.function_id
                 AND a.minute = k.minute AND a.kind = 'app'
LEFT JOIN kinds d ON d.workspace_id = k.workspace_id AND d.function_id = k.function_id
                 AND d.minute = k.minute AND d.kind = 'durable'
$$;
