-- name: workspace_get
SELECT * FROM workspaces WHERE id = %(id)s;

-- name: workspace_insert
INSERT INTO workspaces (id, name, environment, app_url, keys, created_at)
VALUES (%(id)s, %(name)s, %(environment)s, %(app_url)s, ARRAY[%(key)s], %(now)s)
ON CONFLICT DO NOTHING
RETURNING id, name, environment, app_url, cardinality(keys) AS key_count, created_at;

-- name: workspace_list
SELECT id, name, environment, app_url, cardinality(keys) AS key_count, capabilities, created_at
FROM workspaces ORDER BY created_at, id;

-- name: workspace_rotate
UPDATE workspaces SET keys = keys || %(key)s::text
WHERE id = %(id)s AND cardinality(keys) = 1
RETURNING id, cardinality(keys) AS key_count;

-- name: workspace_retire
UPDATE workspaces SET keys = keys[2:2]
WHERE id = %(id)s AND cardinality(keys) = 2
RETURNING id, cardinality(keys) AS key_count;

-- name: workspace_upsert_dev
INSERT INTO workspaces (id, name, environment, app_url, keys, capabilities, max_request_bytes,
                        sdk_version, manifest_at, created_at)
VALUES (%(id)s, %(name)s, 'dev', %(app_url)s, ARRAY[%(key)s], %(capabilities)s,
        %(max_request_bytes)s, %(sdk_version)s, %(now)s, %(now)s)
ON CONFLICT (id) DO UPDATE SET
    app_url = EXCLUDED.app_url, keys = EXCLUDED.keys, capabilities = EXCLUDED.capabilities,
    max_request_bytes = EXCLUDED.max_request_bytes, sdk_version = EXCLUDED.sdk_version,
    manifest_at = EXCLUDED.manifest_at
RETURNING id;

-- name: workspace_set_manifest
UPDATE workspaces SET capabilities = %(capabilities)s, max_request_bytes = %(max_request_bytes)s,
    sdk_version = coalesce(%(sdk_version)s, sdk_version), manifest_at = %(now)s
WHERE id = %(id)s;

-- name: workspace_set_sdk
-- [MAN-5]: a sync that carries capabilities is as recent as a fetched manifest; one that
-- does not (the published client's) leaves what the manifest said.
UPDATE workspaces SET sdk_version = %(sdk_version)s,
    capabilities = coalesce(%(capabilities)s, capabilities),
    max_request_bytes = CASE WHEN %(capabilities)s::jsonb IS NULL
                             THEN coalesce(%(max_request_bytes)s, max_request_bytes)
                             ELSE coalesce(%(max_request_bytes)s, 1048576) END,
    manifest_at = CASE WHEN %(capabilities)s::jsonb IS NULL AND %(max_request_bytes)s::int IS NULL
                       THEN manifest_at ELSE %(now)s END
WHERE id = %(id)s;

-- name: function_upsert
INSERT INTO functions (workspace_id, runtime_id, function_id, version, trigger_event,
                       trigger_cron, enabled, removed, priority, definition, synced_at)
VALUES (%(workspace_id)s, %(runtime_id)s, %(function_id)s, %(version)s, %(trigger_event)s,
        %(trigger_cron)s, %(enabled)s, false, %(priority)s, %(definition)s, %(now)s)
ON CONFLICT (workspace_id, runtime_id) DO UPDATE SET
    trigger_event = EXCLUDED.trigger_event, trigger_cron = EXCLUDED.trigger_cron,
    enabled = EXCLUDED.enabled, removed = false, priority = EXCLUDED.priority,
    definition = EXCLUDED.definition, synced_at = EXCLUDED.synced_at;

-- name: functions_mark_removed
UPDATE functions SET removed = true
WHERE workspace_id = %(workspace_id)s AND NOT removed AND NOT (runtime_id = ANY(%(keep)s))
RETURNING runtime_id;

-- name: versions_status
SELECT f.runtime_id, f.version, f.enabled, f.removed, f.synced_at,
       coalesce((SELECT jsonb_object_agg(s.status, s.n) FROM
                 (SELECT status, count(*) AS n FROM runs r
                  WHERE r.workspace_id = f.workspace_id AND r.function_id = f.runtime_id
                  GROUP BY status) s), '{}'::jsonb) AS runs
FROM functions f
WHERE f.workspace_id = %(workspace_id)s AND f.function_id = %(function_id)s
  AND (NOT f.removed OR EXISTS (
      SELECT 1 FROM runs r WHERE r.workspace_id = f.workspace_id AND r.function_id = f.runtime_id
        AND r.status IN ('queued', 'running', 'sleeping', 'waiting')))
ORDER BY f.synced_at, f.runtime_id;

-- name: function_known
SELECT 1 FROM functions WHERE workspace_id = %(workspace_id)s AND function_id = %(function_id)s
LIMIT 1;

-- name: workspace_update
UPDATE workspaces SET name = coalesce(%(name)s, name), app_url = coalesce(%(app_url)s, app_url)
WHERE id = %(id)s
RETURNING id, name, environment, app_url, cardinality(keys) AS key_count, created_at;

-- name: workspace_delete_side
-- Rows that name the workspace without a foreign key (attempts, cron ticks).
WITH d AS (DELETE FROM deliveries WHERE workspace_id = %(id)s)
DELETE FROM cron_ticks WHERE workspace_id = %(id)s;

-- name: workspace_delete
WITH gone AS (DELETE FROM workspaces WHERE id = %(id)s RETURNING id)
SELECT (SELECT count(*) FROM gone) AS deleted,
       (SELECT count(*) FROM runs WHERE workspace_id = %(id)s) AS runs;

-- name: functions_overview
-- Every function of a workspace with its definition (the service's read model).
SELECT f.function_id, f.runtime_id, f.version, f.enabled, f.removed, f.trigger_cron,
       f.definition, f.synced_at,
       coalesce((SELECT jsonb_object_agg(s.status, s.n) FROM
                 (SELECT status, count(*) AS n FROM runs r
                  WHERE r.workspace_id = f.workspace_id AND r.function_id = f.runtime_id
                  GROUP BY status) s), '{}'::jsonb) AS runs
FROM functions f
WHERE f.workspace_id = %(workspace_id)s
ORDER BY f.function_id, f.synced_at, f.runtime_id;
