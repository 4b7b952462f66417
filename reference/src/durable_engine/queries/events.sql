-- name: event_insert
INSERT INTO events (workspace_id, id, name, data, ts, received_at, receipt)
VALUES (%(workspace_id)s, %(id)s, %(name)s, %(data)s, %(ts)s, %(now)s, '{}')
ON CONFLICT DO NOTHING
RETURNING seq;

-- name: event_set_receipt
UPDATE events SET receipt = %(receipt)s WHERE workspace_id = %(workspace_id)s AND id = %(id)s;

-- name: event_receipt
SELECT receipt FROM events WHERE workspace_id = %(workspace_id)s AND id = %(id)s;

-- name: waits_for_event
SELECT run_id, namespace, step_id, match, created_at FROM waits
WHERE workspace_id = %(workspace_id)s AND event_name = %(name)s AND until > %(now)s
ORDER BY created_at, run_id
FOR UPDATE;
