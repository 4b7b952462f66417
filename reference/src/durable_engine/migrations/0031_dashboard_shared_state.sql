-- What the dashboard must agree on across engine processes behind one address: a production
-- action's confirmation (issued by one process, carried out by any) and the wrong-token
-- count that slows down logins. Only hashes of secrets are kept.
CREATE TABLE dashboard_confirmations (
    token_hash   text PRIMARY KEY,
    visitor_hash text NOT NULL,
    action       text NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX dashboard_confirmations_expiry ON dashboard_confirmations (expires_at);

CREATE TABLE dashboard_login_failures (
    address text PRIMARY KEY,
    count   integer NOT NULL,
    last_at timestamptz NOT NULL
);
CREATE INDEX dashboard_login_failures_last ON dashboard_login_failures (last_at);
