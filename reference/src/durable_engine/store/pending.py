"""Debounce and batch buckets ([FLOW-5], [FLOW-6], decision 0008): one `flow_pending` row
per bucket, upserted by each accepted event in its transaction, turned into a run through
store.runs.create when due (or, a batch, when full)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..core.admission import Flow, Throttle, pending_of, throttle_bucket
from ..db import Conn
from .runs import NewRun, create


async def pend(conn: Conn, queries: dict[str, str], workspace_id: str,
               fn: dict[str, Any], event: dict[str, Any], now: datetime,
               flow_keys: list[str], flow_limits: list[int], rate_key: str | None,
               traceparent: str | None = None) -> None:
    """Add an accepted event to its debounce or batch bucket, in the event's transaction;
    `traceparent` is the event's ([TRACE-2]: the run keeps a batch's first, a debounce's
    last)."""
    definition = fn["definition"]
    pending = pending_of(workspace_id, definition, event, now)
    params = {
        "bucket": pending.bucket, "workspace_id": workspace_id, "runtime_id": fn["runtime_id"],
        "run_id": str(uuid.uuid4()), "event": Jsonb(event), "priority": fn["priority"],
        "flow_keys": flow_keys, "flow_limits": flow_limits, "rate_key": rate_key, "now": now,
        "due_at": pending.due_at, "traceparent": traceparent,
        **throttle_bucket(workspace_id, definition, event),
    }
    if pending.kind == "debounce":
        await conn.execute(queries["flow_debounce"], params)
        return
    params["max_size"] = pending.max_size
    cur = await conn.execute(queries["flow_batch"], params)
    row = await cur.fetchone()
    if row is not None and row["size"] >= row["max_size"]:  # full: the run starts now
        await flush(conn, queries, now, pending.bucket, notify=False)


async def flush(conn: Conn, queries: dict[str, str], now: datetime,
                bucket: str | None = None, notify: bool = True) -> list[NewRun]:
    """Turn due debounce/batch buckets (or the one `bucket`) into runs, in the caller's
    transaction: created like every run, with the flow rules resolved when the bucket's
    event came ([FLOW-7]: a batch's first event, a debounce's last)."""
    cur = await conn.execute(queries["flow_take"], {"bucket": bucket, "now": now})
    runs = [NewRun(p["workspace_id"], p["runtime_id"], p["event"], p["priority"],
                   Flow(p["flow_keys"], p["flow_limits"],
                        Throttle(p["throttle_key"], p["throttle_limit"],
                                 p["throttle_period_ms"])),
                   id=p["run_id"], events=p["events"], rate_key=p["rate_key"],
                   traceparent=p["traceparent"])
            for p in await cur.fetchall()]
    await create(conn, queries, runs, now, notify=notify)
    return runs
