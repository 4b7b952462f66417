-- Throttle ([FLOW-3]): a queue row not yet started carries its throttle bucket; the claim
-- admits it only while fewer than `limit` runs of the bucket started in the last periodMs
-- (runs.throttle_key + runs.started_at), under the bucket's advisory lock.
ALTER TABLE queue ADD COLUMN throttle_key text;
ALTER TABLE queue ADD COLUMN throttle_limit integer;
ALTER TABLE queue ADD COLUMN throttle_period_ms integer;
CREATE INDEX queue_throttle_ready ON queue (rank_at)
    WHERE lease_token IS NULL AND throttle_key IS NOT NULL;
ALTER TABLE runs ADD COLUMN throttle_key text;
CREATE INDEX runs_throttle_window ON runs (throttle_key, started_at)
    WHERE throttle_key IS NOT NULL;

-- Batch runs ([FLOW-6], [INV-5]): every event of the batch, in arrival order.
ALTER TABLE runs ADD COLUMN events jsonb;

-- Debounce ([FLOW-5]) and batch ([FLOW-6]): one pending row per bucket (workspace, function
-- id, key value) until it is due; then a claimer turns it into a run (SKIP LOCKED, so each
-- once). An event upserts its bucket's row, so concurrent events serialize on the row lock.
CREATE TABLE flow_pending (
    bucket             text PRIMARY KEY,
    kind               text NOT NULL,          -- debounce | batch
    workspace_id       text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    runtime_id         text NOT NULL,
    run_id             text NOT NULL,
    event              jsonb NOT NULL,         -- debounce: the last event; batch: the first
    events             jsonb,                  -- batch: all, in arrival order
    size               integer NOT NULL DEFAULT 1,
    max_size           integer,
    priority           integer NOT NULL DEFAULT 0,
    flow_keys          text[] NOT NULL DEFAULT '{}',
    flow_limits        integer[] NOT NULL DEFAULT '{}',
    throttle_key       text,
    throttle_limit     integer,
    throttle_period_ms integer,
    rate_key           text,
    first_at           timestamptz NOT NULL,
    due_at             timestamptz NOT NULL
);
CREATE INDEX flow_pending_due ON flow_pending (due_at);
