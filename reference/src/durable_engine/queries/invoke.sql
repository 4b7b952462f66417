-- step.invoke ([INVOKE-2..6]); the child's end is handled by a trigger (migration 0022).

-- name: invoke_resolve
-- [INVOKE-2]: the function by runtime id, or by function id its live version (the greatest
-- runtime id), in the named workspace of the parent's environment.
SELECT f.workspace_id, f.runtime_id, f.priority, f.definition
FROM functions f
JOIN workspaces w ON w.id = f.workspace_id
JOIN workspaces p ON p.id = %(parent_workspace)s AND p.environment = w.environment
WHERE f.workspace_id = %(workspace_id)s AND f.enabled AND NOT f.removed
  AND (f.runtime_id = %(function)s OR f.function_id = %(function)s)
ORDER BY f.runtime_id = %(function)s DESC, f.runtime_id DESC
LIMIT 1;

-- name: invoke_live_children
-- A parent's awaited children still running when its step's deadline passed ([INVOKE-5]).
SELECT r.id, r.parent_step_id, r.created_at FROM runs r
WHERE r.parent_run_id = %(run_id)s AND r.parent_namespace = %(namespace)s
  AND r.status IN ('queued', 'running', 'sleeping', 'waiting')
  AND NOT EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.parent_run_id
                  AND s.namespace = r.parent_namespace AND s.step_id = r.parent_step_id)
ORDER BY r.id;
