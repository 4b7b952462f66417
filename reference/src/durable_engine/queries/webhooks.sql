-- name: webhook_insert
-- Nothing when the workspace already has a webhook of that name.
INSERT INTO webhooks (workspace_id, name, token, token_hash, transform, preset, header,
                      secret, created_at)
SELECT %(workspace_id)s, %(name)s, %(token)s, %(token_hash)s, %(transform)s, %(preset)s,
       %(header)s, %(secret)s, %(now)s
WHERE EXISTS (SELECT 1 FROM workspaces WHERE id = %(workspace_id)s)
ON CONFLICT (workspace_id, name) DO NOTHING
RETURNING id, name, token, transform, preset, header, created_at;

-- name: webhook_list
SELECT id, name, token, transform, preset, header, created_at
FROM webhooks WHERE workspace_id = %(workspace_id)s ORDER BY name;

-- name: webhook_get
SELECT id, name, token, transform, preset, header, created_at
FROM webhooks WHERE workspace_id = %(workspace_id)s AND name = %(name)s;

-- name: webhook_by_token
SELECT id, workspace_id, name, transform, preset, header, secret
FROM webhooks WHERE token_hash = %(token_hash)s;

-- name: webhook_delete
DELETE FROM webhooks WHERE workspace_id = %(workspace_id)s AND name = %(name)s RETURNING id;

-- name: webhook_delivery_record
-- One delivery, keeping the last %(keep)s of the endpoint.
WITH added AS (
    INSERT INTO webhook_deliveries (webhook_id, at, status, code, message, event_id, run_ids)
    VALUES (%(webhook_id)s, %(at)s, %(status)s, %(code)s, %(message)s, %(event_id)s,
            %(run_ids)s)
    RETURNING id
)
DELETE FROM webhook_deliveries
WHERE webhook_id = %(webhook_id)s
  AND id < (SELECT min(id) FROM (SELECT id FROM webhook_deliveries
                                 WHERE webhook_id = %(webhook_id)s
                                 ORDER BY id DESC LIMIT %(keep)s) AS kept);

-- name: webhook_deliveries
SELECT d.at, d.status, d.code, d.message, d.event_id, d.run_ids
FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
WHERE w.workspace_id = %(workspace_id)s AND w.name = %(name)s
ORDER BY d.id DESC LIMIT %(limit)s;

-- name: webhook_update
-- [HOOK-6]: only what the request names changes.
UPDATE webhooks SET
    transform  = coalesce(%(transform)s, transform),
    preset     = CASE WHEN %(set_signature)s THEN %(preset)s ELSE preset END,
    header     = CASE WHEN %(set_signature)s THEN %(header)s ELSE header END,
    secret     = CASE WHEN %(set_signature)s THEN %(secret)s ELSE secret END,
    token      = coalesce(%(token)s, token),
    token_hash = coalesce(%(token_hash)s, token_hash)
WHERE workspace_id = %(workspace_id)s AND name = %(name)s
RETURNING id, name, token, transform, preset, header, created_at;
