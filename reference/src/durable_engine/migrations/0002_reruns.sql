-- Reruns ([API-11], [API-12]): the new run remembers what it reruns; an idempotency key
-- answers its first request again and refuses a different one.
ALTER TABLE runs ADD COLUMN rerun_of text;

CREATE TABLE reruns (
    workspace_id    text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    idempotency_key text NOT NULL,
    request         jsonb NOT NULL,
    answer          jsonb NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, idempotency_key)
);
