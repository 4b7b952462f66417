"""Events ([EVT-1..7]) and what an accepted one does in its transaction: stored idempotently
by id with what it triggers, the rate window it counts in ([FLOW-4]), and the waits it
resolves (a memo, the run queued again)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..db import Conn, Queries, Row


async def accept(conn: Conn, queries: Queries, workspace_id: str, event: Row, now: datetime
                 ) -> Row:
    """Store the event unless its id is known; one row: inserted (0 or 1), prior_receipt,
    the functions it triggers, the waits of its name (locked), the cancelOn rules it may
    meet, and the workspace's app_url, keys, capabilities, max_request_bytes,
    manifest_at."""
    cur = await conn.execute(queries["event_accept"], {
        "workspace_id": workspace_id, "id": event["id"], "name": event["name"],
        "data": Jsonb(event["data"]), "ts": event["ts"], "now": now})
    row: Row | None = await cur.fetchone()
    assert row is not None
    return row


async def receipt(conn: Conn, queries: Queries, workspace_id: str, event_id: str
                  ) -> Row | None:
    """The receipt stored with an event, or None when there is no such event."""
    cur = await conn.execute(queries["event_receipt"],
                             {"workspace_id": workspace_id, "id": event_id})
    row = await cur.fetchone()
    found: Row | None = None if row is None else row["receipt"]
    return found


async def rate_window(conn: Conn, queries: Queries, rate_key: str, now: datetime,
                      period_ms: int) -> int:
    """Lock the rate bucket until commit, then count the runs it created (not skipped) in
    its sliding window."""
    # two statements: the count's snapshot must follow the lock
    await conn.execute(queries["rate_lock"], {"rate_key": rate_key})
    cur = await conn.execute(queries["rate_window_count"], {
        "rate_key": rate_key, "now": now, "period_ms": period_ms})
    row = await cur.fetchone()
    return 0 if row is None else int(row["n"])


async def take_wait(conn: Conn, queries: Queries, run_id: str, namespace: str, step_id: str
                    ) -> bool:
    """Take the run's wait for the step; False when another event took it first."""
    cur = await conn.execute(queries["wait_take_one"],
                             {"run_id": run_id, "namespace": namespace, "step_id": step_id})
    return await cur.fetchone() is not None


async def insert_memo(conn: Conn, queries: Queries, run_id: str, namespace: str, step_id: str,
                      type_: str, data: Any, *, queued_at: datetime | None,
                      started_at: datetime | None, app_ms: float | None, ended_at: datetime,
                      wake_at: datetime | None = None) -> None:
    """Record a memo (a second memo of the same step id is ignored). Its answer is not read,
    so in pipeline mode the statement does not wait for it."""
    await conn.execute(queries["step_insert"], {
        "run_id": run_id, "namespace": namespace, "step_id": step_id, "type": type_,
        "data": Jsonb(data), "queued_at": queued_at, "started_at": started_at,
        "app_ms": app_ms, "ended_at": ended_at, "wake_at": wake_at})


async def resume(conn: Conn, queries: Queries, run_id: str, status: str, now: datetime) -> None:
    """The run's queue row is due now and the run takes `status` (queued)."""
    await conn.execute(queries["queue_resume"], {"run_id": run_id, "now": now})
    await conn.execute(queries["run_set_status"],
                       {"run_id": run_id, "status": status, "now": now})
