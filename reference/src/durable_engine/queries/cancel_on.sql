-- cancelOn ([CANCEL-3], [CANCEL-4]); the candidate rules come with event_accept.

-- name: cancel_on_cancel
-- Cancel the runs an event met ([STATUS-2]), recording the event ([CANCEL-4]); returns those
-- that were still live.
UPDATE runs SET status = 'cancelled', ended_at = %(now)s, updated_at = %(now)s,
                cancelled_by = %(cancelled_by)s
WHERE id = ANY(%(run_ids)s) AND workspace_id = %(workspace_id)s
  AND status IN ('queued', 'running', 'sleeping', 'waiting')
RETURNING id;
