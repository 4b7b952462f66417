"""Changes people make to runs, each in the caller's transaction: cancel one run or a page of
runs ([API-10], [API-17]), rerun records ([API-11], [API-12]) and the failed delivery a retry
starts again. Creating a run stays in store.runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..db import Conn, Queries, Row


async def cancel_runs(conn: Conn, queries: Queries, run_ids: list[str], now: datetime, *,
                      workspace_id: str | None = None,
                      cancelled_by: Row | None = None) -> list[Row]:
    """Cancel those of `run_ids` still live (of `workspace_id` when given), recording
    `cancelled_by` on them: their queue rows and waits go, and the engines driving them are
    told to invoke them no more. Their ended rows (id, function_id, traceparent, created_at),
    in the order of `run_ids`."""
    if not run_ids:
        return []
    # The queue rows first, as an answer's transition locks them (no deadlock with one)
    await conn.execute(queries["bulk_lock_queue"], {"run_ids": run_ids})
    cur = await conn.execute(queries["runs_cancel"], {
        "run_ids": run_ids, "workspace_id": workspace_id, "now": now,
        "cancelled_by": None if cancelled_by is None else Jsonb(cancelled_by)})
    ended = {row["id"]: row for row in await cur.fetchall()}
    if ended:
        await conn.execute(queries["bulk_cancel_cleanup"],
                           {"run_ids": [i for i in run_ids if i in ended]})
    return [ended[i] for i in dict.fromkeys(run_ids) if i in ended]


async def cancel(conn: Conn, queries: Queries, workspace_id: str, run_id: str,
                 now: datetime) -> Row | None:
    """Cancel the run if it is live (cancel_runs for one); its ended row, or None when the
    run is not live (or not there)."""
    ended = await cancel_runs(conn, queries, [run_id], now, workspace_id=workspace_id)
    return ended[0] if ended else None


async def status(conn: Conn, queries: Queries, workspace_id: str, run_id: str) -> str | None:
    """The run's status, or None when there is no such run."""
    cur = await conn.execute(queries["run_status"],
                             {"run_id": run_id, "workspace_id": workspace_id})
    row = await cur.fetchone()
    return None if row is None else str(row["status"])


async def rerun_seen(conn: Conn, queries: Queries, workspace_id: str, key: str
                     ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The (request, answer) a rerun of this idempotency key recorded, if any."""
    cur = await conn.execute(queries["rerun_lookup"], {"workspace_id": workspace_id,
                                                       "key": key})
    row = await cur.fetchone()
    return None if row is None else (row["request"], row["answer"])


async def rerun_source(conn: Conn, queries: Queries, workspace_id: str, run_id: str
                       ) -> Row | None:
    """What a rerun copies of a run: function, event(s), and its function's definition."""
    cur = await conn.execute(queries["rerun_source"], {"run_id": run_id,
                                                       "workspace_id": workspace_id})
    row: Row | None = await cur.fetchone()
    return row


async def step_position(conn: Conn, queries: Queries, run_id: str, step_id: str) -> int | None:
    """The position of the run's memo `step_id`, or None when it has none."""
    cur = await conn.execute(queries["rerun_step_position"], {"run_id": run_id,
                                                              "step_id": step_id})
    row = await cur.fetchone()
    return None if row is None else int(row["position"])


async def copy_steps(conn: Conn, queries: Queries, new_run_id: str, run_id: str, before: int,
                     now: datetime) -> None:
    """The memos of `run_id` before position `before` become the new run's."""
    await conn.execute(queries["rerun_copy_steps"], {
        "new_run_id": new_run_id, "run_id": run_id, "before": before, "now": now})


async def rerun_record(conn: Conn, queries: Queries, workspace_id: str, key: str,
                       request: dict[str, Any], answer: dict[str, Any], now: datetime) -> bool:
    """Record a rerun's key; False when a concurrent twin recorded it first."""
    cur = await conn.execute(queries["rerun_record"], {
        "workspace_id": workspace_id, "key": key, "request": Jsonb(request),
        "answer": Jsonb(answer), "now": now})
    return await cur.fetchone() is not None


async def failed_delivery(conn: Conn, queries: Queries, workspace_id: str, delivery_id: str
                          ) -> Row | None:
    """A delivery with its run (locked) and the run's function, or None."""
    cur = await conn.execute(queries["failure_get"],
                             {"id": delivery_id, "workspace_id": workspace_id})
    row: Row | None = await cur.fetchone()
    return row
