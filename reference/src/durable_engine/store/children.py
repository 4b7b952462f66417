"""step.invoke's child runs ([INVOKE-2..7]): the function a child runs, the live children a
parent awaits in a namespace (cancelled, when the parent's deadline passes, through
store.control.cancel_runs)."""

from __future__ import annotations

from ..db import Conn, Queries, Row


async def resolve(conn: Conn, queries: Queries, workspace_id: str, parent_workspace: str,
                  function: str) -> Row | None:
    """The live function `function` of `workspace_id` a run of `parent_workspace` may invoke
    (runtime_id, definition, priority), or None."""
    cur = await conn.execute(queries["invoke_resolve"], {
        "workspace_id": workspace_id, "parent_workspace": parent_workspace,
        "function": function})
    row: Row | None = await cur.fetchone()
    return row


async def live_children(conn: Conn, queries: Queries, run_id: str, namespace: str
                        ) -> list[Row]:
    """The children `run_id` still awaits in `namespace` (id, parent_step_id, created_at)."""
    cur = await conn.execute(queries["invoke_live_children"],
                             {"run_id": run_id, "namespace": namespace})
    return list(await cur.fetchall())
