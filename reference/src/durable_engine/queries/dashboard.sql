-- name: runs_browse
-- A page of a workspace's runs, newest first, by any of: function (a bare id matches every
-- version), status, trigger event name, creation window, run id (exact or leading part).
SELECT id, function_id, event_id, left(event->>'name', 200) AS event_name, status,
       failure_handler, created_at, updated_at, started_at, ended_at
FROM runs
WHERE workspace_id = %(workspace_id)s
  AND (%(function_id)s::text IS NULL OR function_id = %(function_id)s
       OR (strpos(%(function_id)s, '@') = 0
           AND left(function_id, length(%(function_id)s) + 1) = %(function_id)s || '@'))
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(event_name)s::text IS NULL OR event->>'name' = %(event_name)s)
  AND (%(created_from)s::timestamptz IS NULL OR created_at >= %(created_from)s)
  AND (%(created_to)s::timestamptz IS NULL OR created_at < %(created_to)s)
  AND (%(run_id)s::text IS NULL OR id = %(run_id)s
       OR left(id, length(%(run_id)s)) = %(run_id)s)
  AND (%(cursor_at)s::timestamptz IS NULL OR (created_at, id) < (%(cursor_at)s, %(cursor_id)s))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;

-- name: workspace_view
SELECT id, name, environment, app_url, cardinality(keys) AS key_count, capabilities, created_at
FROM workspaces WHERE id = %(id)s;

-- name: session_insert
INSERT INTO dashboard_sessions (id_hash, csrf, created_at, seen_at, expires_at)
VALUES (%(id_hash)s, %(csrf)s, %(now)s, %(now)s, %(expires_at)s);

-- name: session_touch
-- A live session, seen now; an expired one is gone.
UPDATE dashboard_sessions SET seen_at = %(now)s
WHERE id_hash = %(id_hash)s AND expires_at > %(now)s
RETURNING csrf, created_at, expires_at;

-- name: session_delete
DELETE FROM dashboard_sessions WHERE id_hash = %(id_hash)s;

-- name: sessions_prune
DELETE FROM dashboard_sessions WHERE expires_at <= %(now)s;

-- name: watch_upsert
-- This process's run page is open on the run: its attempts are published until `until`.
INSERT INTO dashboard_watches (run_id, watcher, until)
VALUES (%(run_id)s, %(watcher)s, %(until)s)
ON CONFLICT (run_id, watcher) DO UPDATE SET until = excluded.until;

-- name: watch_delete
DELETE FROM dashboard_watches
WHERE (run_id = %(run_id)s AND watcher = %(watcher)s) OR until < %(now)s;

-- name: run_waits
-- A run's waits still parked (for its page: a wait shows before it resolves).
SELECT w.namespace, w.step_id, w.event_name, w.until, w.created_at
FROM waits w JOIN runs r ON r.id = w.run_id
WHERE w.run_id = %(run_id)s AND r.workspace_id = %(workspace_id)s
ORDER BY w.created_at;

-- name: confirmation_insert
-- A production action's confirmation, single use; expired ones are dropped on the way.
WITH pruned AS (DELETE FROM dashboard_confirmations WHERE expires_at <= %(now)s)
INSERT INTO dashboard_confirmations (token_hash, visitor_hash, action, expires_at)
VALUES (%(token_hash)s, %(visitor_hash)s, %(action)s, %(expires_at)s);

-- name: confirmation_take
-- Used once: the row goes whether or not it matches the visitor and the action.
DELETE FROM dashboard_confirmations WHERE token_hash = %(token_hash)s
RETURNING visitor_hash, action, expires_at > %(now)s AS live;

-- name: login_failure_count
-- One more wrong token from this address; a quiet hour forgets the earlier ones.
INSERT INTO dashboard_login_failures AS f (address, count, last_at)
VALUES (%(address)s, 1, %(now)s)
ON CONFLICT (address) DO UPDATE
SET count = CASE WHEN f.last_at < %(now)s - interval '1 hour' THEN 1 ELSE f.count + 1 END,
    last_at = %(now)s
RETURNING count;

-- name: login_failures_clear
DELETE FROM dashboard_login_failures
WHERE address = %(address)s OR last_at < %(now)s - interval '1 day';
