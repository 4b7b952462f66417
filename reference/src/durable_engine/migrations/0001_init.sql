-- Workspaces: one app in one environment. keys holds 1 or 2 active signing keys, oldest first
-- (decision 0002: the oldest signs, any verifies).
CREATE TABLE workspaces (
    id                text PRIMARY KEY,
    name              text NOT NULL,
    environment       text NOT NULL,
    app_url           text NOT NULL,
    keys              text[] NOT NULL,
    capabilities      jsonb NOT NULL DEFAULT '[]',
    max_request_bytes integer NOT NULL DEFAULT 1048576,
    sdk_version       text,
    manifest_at       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, environment)
);

-- Functions by runtime id (id@version when versioned). Flow-control and cron definitions are
-- stored in definition and enforced by later migrations.
CREATE TABLE functions (
    workspace_id  text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    runtime_id    text NOT NULL,
    function_id   text NOT NULL,
    version       text,
    trigger_event text,
    trigger_cron  text,
    enabled       boolean NOT NULL,
    removed       boolean NOT NULL DEFAULT false,
    priority      integer NOT NULL DEFAULT 0,
    definition    jsonb NOT NULL,
    synced_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, runtime_id)
);
CREATE INDEX functions_by_event ON functions (workspace_id, trigger_event) WHERE enabled AND NOT removed;

CREATE TABLE events (
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    id           text NOT NULL,
    seq          bigserial,
    name         text NOT NULL,
    data         jsonb,
    ts           bigint NOT NULL,
    received_at  timestamptz NOT NULL,
    receipt      jsonb NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

CREATE TABLE runs (
    id              text PRIMARY KEY,
    workspace_id    text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    function_id     text NOT NULL,
    event_id        text,
    event           jsonb NOT NULL,
    status          text NOT NULL,
    output          jsonb,
    error           jsonb,
    failure_handler text,
    failure_output  jsonb,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    ended_at        timestamptz
);
CREATE INDEX runs_by_workspace ON runs (workspace_id, created_at DESC, id DESC);
CREATE INDEX runs_by_function ON runs (workspace_id, function_id, status);

-- The memo journal. namespace 'main' for the handler, 'failure' for its failure handler
-- (decision 0009). The primary key is what makes a stale attempt's late answer harmless.
CREATE TABLE steps (
    run_id       text NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    namespace    text NOT NULL,
    step_id      text NOT NULL,
    type         text NOT NULL,
    data         jsonb,
    position     integer NOT NULL,
    queued_at    timestamptz,   -- when the invocation that produced it became due
    started_at   timestamptz,   -- when the app was called
    app_ms       double precision, -- how long the app took to answer
    ended_at     timestamptz NOT NULL, -- committed (sleep/wait: resumed)
    PRIMARY KEY (run_id, namespace, step_id)
);

-- One row per live run: the run's next invocation. due_at is when it may run; claims are
-- ordered by due_at - priority seconds (decision 0008). lease_token fences stale attempts.
CREATE TABLE queue (
    run_id       text PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    workspace_id text NOT NULL,
    namespace    text NOT NULL DEFAULT 'main',
    kind         text NOT NULL DEFAULT 'invoke',  -- invoke | wait_timeout
    priority     integer NOT NULL DEFAULT 0,
    due_at       timestamptz NOT NULL,
    rank_at      timestamptz NOT NULL,  -- due_at - priority seconds, kept by a trigger
    attempt      integer NOT NULL DEFAULT 0,
    lease_token  uuid,
    lease_until  timestamptz
);
CREATE INDEX queue_ready ON queue (rank_at) WHERE lease_token IS NULL;

CREATE FUNCTION queue_rank() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.rank_at := NEW.due_at - make_interval(secs => NEW.priority);
    RETURN NEW;
END $$;
CREATE TRIGGER queue_rank BEFORE INSERT OR UPDATE OF due_at, priority ON queue
    FOR EACH ROW EXECUTE FUNCTION queue_rank();
CREATE INDEX queue_leases ON queue (lease_until) WHERE lease_token IS NOT NULL;

-- Parked waits; the first matching event deletes the row and commits the memo.
CREATE TABLE waits (
    run_id       text NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    namespace    text NOT NULL,
    step_id      text NOT NULL,
    workspace_id text NOT NULL,
    event_name   text NOT NULL,
    match        jsonb,
    until        timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (run_id, namespace, step_id)
);
CREATE INDEX waits_by_event ON waits (workspace_id, event_name);

-- Every HTTP attempt to an app.
CREATE TABLE deliveries (
    id           text PRIMARY KEY,
    workspace_id text NOT NULL,
    run_id       text,
    function_id  text,
    namespace    text,
    attempt      integer,
    url          text NOT NULL,
    status       integer,
    duration_ms  double precision NOT NULL,
    op           text,
    error        text,
    at           timestamptz NOT NULL
);
CREATE INDEX deliveries_failed ON deliveries (workspace_id, at DESC) WHERE error IS NOT NULL;
CREATE INDEX deliveries_by_run ON deliveries (run_id);

-- Flow control (later issue): one row per occupied slot, claimed in the same transaction as
-- the queue item, so a limit is enforced in the claim rather than in memory.
CREATE TABLE flow_slots (
    workspace_id text NOT NULL,
    function_id  text NOT NULL,
    rule         integer NOT NULL,
    key          text NOT NULL,
    run_id       text NOT NULL,
    lease_until  timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, function_id, rule, key, run_id)
);

-- Cron ticks (later issue): the unique key makes each tick fire once.
CREATE TABLE cron_ticks (
    workspace_id text NOT NULL,
    runtime_id   text NOT NULL,
    tick_at      timestamptz NOT NULL,
    run_id       text,
    PRIMARY KEY (workspace_id, runtime_id, tick_at)
);
