"""Metrics rollups (decision 0040): the backlog sample, the roll of ended minutes under the one
watermark row, the running totals /metrics shows, and a workspace's series over a window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..db import Conn, Queries, Row


async def sample_backlog(conn: Conn, queries: Queries, now: datetime, minute: datetime
                         ) -> list[Row]:
    """Live runs by state per workspace and function now, kept as the minute's maximum."""
    cur = await conn.execute(queries["metrics_sample_backlog"], {"now": now, "minute": minute})
    rows: list[Row] = await cur.fetchall()
    return rows


async def totals(conn: Conn, queries: Queries) -> tuple[list[Row], list[Row]]:
    """(running totals per workspace and function with the watermark, their histogram
    buckets)."""
    rows: list[Row] = await (await conn.execute(queries["metrics_totals"])).fetchall()
    buckets: list[Row] = await (await conn.execute(
        queries["metrics_total_buckets"])).fetchall()
    return rows, buckets


async def roll_claim(conn: Conn, queries: Queries) -> Row | None:
    """Lock the watermark row for this transaction (rolled_to, age_s: how long the oldest
    open transaction has run); None when another process holds it."""
    cur = await conn.execute(queries["metrics_roll_claim"])
    row: Row | None = await cur.fetchone()
    return row


async def roll(conn: Conn, queries: Queries, start: datetime, end: datetime) -> int:
    """Roll the minutes [start, end) into the rollups and move the watermark to `end`; the
    number of rollup rows written. Run it in the transaction of roll_claim."""
    cur = await conn.execute(queries["metrics_roll"], {"from": start, "to": end})
    row = await cur.fetchone()
    await conn.execute(queries["metrics_roll_done"], {"to": end})
    return int(row["rows"]) if row else 0


@dataclass(frozen=True, slots=True)
class Window:
    """A workspace's series: points of `step` seconds from `start` to `now`, of one function
    id or runtime id (None: all); minutes not rolled yet are read live up to `live_s` back."""

    workspace_id: str
    function_id: str | None
    start: datetime
    now: datetime
    step: int
    live_s: int

    def params(self) -> dict[str, Any]:
        return {"workspace_id": self.workspace_id, "function_id": self.function_id,
                "from": self.start, "now": self.now, "step": self.step, "live_s": self.live_s}


@dataclass(frozen=True, slots=True)
class Series:
    """The rolled-to watermark, one row per point of runs and step-time histograms, one per
    point of the backlog sampled, and the backlog now per function."""

    rolled_to: datetime
    points: list[Row]
    backlog: list[Row]
    backlog_now: list[Row]


async def series(conn: Conn, queries: Queries, window: Window) -> Series | None:
    """The window's series, or None when there is no such workspace."""
    params = window.params()
    workspace = await (await conn.execute(queries["metrics_workspace"], params)).fetchone()
    if workspace is None:
        return None
    points = await (await conn.execute(queries["metrics_series"], params)).fetchall()
    backlog = await (await conn.execute(queries["metrics_backlog_series"], params)).fetchall()
    now = await (await conn.execute(queries["metrics_backlog_now"], params)).fetchall()
    return Series(workspace["rolled_to"], points, backlog, now)
