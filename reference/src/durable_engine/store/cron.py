"""Cron ticks (decision 0005): the functions with a live cron trigger and their last tick, a
tick claimed once across all engine processes ([CRON-8]), and the event it stores."""

from __future__ import annotations

from datetime import datetime

from psycopg.types.json import Jsonb

from ..db import Conn, Queries, Row


async def functions(conn: Conn, queries: Queries) -> list[Row]:
    """Every enabled live function with a cron trigger: workspace_id, runtime_id,
    trigger_cron, priority, synced_at, definition, last_tick (None before its first)."""
    cur = await conn.execute(queries["cron_functions"])
    rows: list[Row] = await cur.fetchall()
    return rows


async def claim_tick(conn: Conn, queries: Queries, workspace_id: str, runtime_id: str,
                     tick_at: datetime, run_id: str) -> bool:
    """Claim the tick for the run `run_id`; False when another engine fired it."""
    cur = await conn.execute(queries["cron_tick_claim"], {
        "workspace_id": workspace_id, "runtime_id": runtime_id, "tick_at": tick_at,
        "run_id": run_id})
    return await cur.fetchone() is not None


async def insert_event(conn: Conn, queries: Queries, workspace_id: str, event: Row,
                       receipt: Row, now: datetime) -> None:
    """Store the tick's `durable/cron` event with its receipt."""
    await conn.execute(queries["cron_event_insert"], {
        "workspace_id": workspace_id, "id": event["id"], "data": Jsonb(event["data"]),
        "ts": event["ts"], "now": now, "receipt": Jsonb(receipt)})
