"""Throttle, debounce and batch (decision 0008: [FLOW-3], [FLOW-5], [FLOW-6]), enforced in
Postgres: throttle in the claim under per-bucket advisory locks, debounce and batch through
one `flow_pending` row per bucket that a claimer turns into a run when it is due. What the
rules mean is decided in core.admission; this module runs their statements."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .core.admission import Flow, Throttle, free_starts, pending_of, throttle_bucket, window_free_at
from .store.runs import NewRun, create


async def pend(conn: psycopg.AsyncConnection[Any], queries: dict[str, str], workspace_id: str,
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


async def flush(conn: psycopg.AsyncConnection[Any], queries: dict[str, str], now: datetime,
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


async def throttle_windows(conn: psycopg.AsyncConnection[Any], queries: dict[str, str],
                           candidates: list[dict[str, Any]], now: datetime
                           ) -> dict[str, tuple[int, datetime | None]]:
    """Per throttle bucket of the candidates: runs started in the window (capped at the
    limit) and when the next start may happen if the window is full."""
    rules: dict[str, tuple[int, int]] = {}
    for c in candidates:
        if c["throttle_key"] is not None:
            rules.setdefault(c["throttle_key"], (c["throttle_limit"], c["throttle_period_ms"]))
    if not rules:
        return {}
    keys = list(rules)
    cur = await conn.execute(queries["throttle_window"], {
        "keys": keys, "limits": [rules[k][0] for k in keys],
        "periods": [rules[k][1] for k in keys], "now": now})
    windows: dict[str, tuple[int, datetime | None]] = {}
    for row in await cur.fetchall():
        limit, period_ms = rules[row["key"]]
        windows[row["key"]] = (row["n"], window_free_at(row["n"], limit, row["oldest"],
                                                        period_ms))
    return windows


async def throttle_heads(conn: psycopg.AsyncConnection[Any], queries: dict[str, str],
                         windows: dict[str, tuple[int, datetime | None]],
                         limits: dict[str, int], now: datetime) -> dict[str, list[str]]:
    """Per throttle bucket with room: the runs that may start next, oldest first ([FLOW-3]:
    first in, first out across every claimer, decided under the buckets' locks)."""
    free = free_starts(windows, limits)
    if not free:
        return {}
    keys = list(free)
    cur = await conn.execute(queries["throttle_heads"], {
        "keys": keys, "counts": [free[k] for k in keys], "now": now})
    heads: dict[str, list[str]] = {k: [] for k in keys}
    for row in await cur.fetchall():
        heads[row["key"]].append(row["run_id"])
    return heads
