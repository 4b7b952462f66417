"""Retention: batches of ended runs (with their deliveries), events, rerun keys and cron
ticks older than a cutoff, and old metrics minutes. Each batch SKIPs rows other transactions
hold (queries/ops.sql)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from ..db import Conn, Queries


class Pruned(NamedTuple):
    runs: int
    deliveries: int
    events: int
    reruns: int
    cron_ticks: int


async def prune_metrics(conn: Conn, queries: Queries, cutoff: datetime) -> int:
    """Delete metrics minutes before `cutoff` (running totals stay); the rows deleted."""
    cur = await conn.execute(queries["retention_metrics"], {"cutoff": cutoff})
    row = await cur.fetchone()
    return int(row["rows"]) if row else 0


async def prune_batch(conn: Conn, queries: Queries, cutoff: datetime, batch: int) -> Pruned:
    """One batch (up to `batch` rows) of each kind, one statement each: run them in
    autocommit so that each holds its locks for its own short transaction only."""
    params = {"cutoff": cutoff, "batch": batch}
    row = await (await conn.execute(queries["retention_runs"], params)).fetchone()
    assert row is not None

    async def count(name: str) -> int:
        return len(await (await conn.execute(queries[name], params)).fetchall())

    return Pruned(int(row["runs"]), int(row["deliveries"]), await count("retention_events"),
                  await count("retention_reruns"), await count("retention_cron_ticks"))
