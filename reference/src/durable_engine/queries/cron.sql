-- name: cron_functions
SELECT f.workspace_id, f.runtime_id, f.trigger_cron, f.priority, f.synced_at, f.definition,
       (SELECT max(t.tick_at) FROM cron_ticks t
        WHERE t.workspace_id = f.workspace_id AND t.runtime_id = f.runtime_id) AS last_tick
FROM functions f
WHERE f.trigger_cron IS NOT NULL AND f.enabled AND NOT f.removed;

-- name: cron_tick_claim
-- [CRON-8]: the primary key lets exactly one engine process fire a tick.
INSERT INTO cron_ticks (workspace_id, runtime_id, tick_at, run_id)
VALUES (%(workspace_id)s, %(runtime_id)s, %(tick_at)s, %(run_id)s)
ON CONFLICT DO NOTHING
RETURNING run_id;

-- name: cron_event_insert
INSERT INTO events (workspace_id, id, name, data, ts, received_at, receipt)
VALUES (%(workspace_id)s, %(id)s, 'durable/cron', %(data)s, %(ts)s, %(now)s, %(receipt)s)
ON CONFLICT DO NOTHING;
