"""step.invoke's child runs ([INVOKE-2..7]): the function a child runs, the live children a
parent awaits in a namespace, and cancelling them when the parent's deadline passes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..db import Conn

Row = dict[str, Any]
Queries = Mapping[str, str]


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


async def cancel(conn: Conn, queries: Queries, run_ids: list[str], parent_id: str,
                 now: datetime) -> list[str]:
    """Cancel the live runs among `run_ids` (their parent `parent_id` gave up on them); their
    queue rows and waits go. Returns the ids cancelled."""
    await conn.execute(queries["bulk_lock_queue"], {"run_ids": run_ids})
    cur = await conn.execute(queries["invoke_cancel_children"], {
        "run_ids": run_ids, "now": now, "cancelled_by": Jsonb({"runId": parent_id})})
    cancelled = [row["id"] for row in await cur.fetchall()]
    if cancelled:
        await conn.execute(queries["bulk_cancel_cleanup"], {"run_ids": cancelled})
    return cancelled
