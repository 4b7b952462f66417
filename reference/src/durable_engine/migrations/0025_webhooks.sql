-- Webhook endpoints ([HOOK-1..5]): per workspace, a name, a URL token, a JMESPath
-- transform and an optional sender signature. The token is kept because the admin API shows
-- each endpoint's URL; requests are looked up by its SHA-256 (token_hash). The signature
-- secret is kept as given: checking an HMAC needs it (like the apps' signing keys).
CREATE TABLE webhooks (
    id           bigserial PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         text NOT NULL,
    token        text NOT NULL,
    token_hash   text NOT NULL UNIQUE,
    transform    text NOT NULL,
    preset       text,
    header       text,
    secret       text,
    created_at   timestamptz NOT NULL,
    UNIQUE (workspace_id, name)
);

-- The last deliveries of each endpoint, accepted or refused, with the reason of a refusal.
CREATE TABLE webhook_deliveries (
    id         bigserial PRIMARY KEY,
    webhook_id bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    at         timestamptz NOT NULL,
    status     integer NOT NULL,
    code       text,
    message    text,
    event_id   text,
    run_ids    text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (webhook_id, id DESC);
