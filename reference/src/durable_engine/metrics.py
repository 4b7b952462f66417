"""Metrics kept as rollups in Postgres (decision 0040), and the sampler task of every engine
process that keeps them.

Every few seconds a process samples the backlog (live runs by state per workspace and
function) and stores it as the minute's maximum, then tries to roll the minutes that have
ended: it locks the one watermark row (SKIP LOCKED: another process rolling means this one
does not), rolls [watermark, end) from runs and steps into metrics_minutes and the running
totals, and moves the watermark, in one transaction. So a minute is rolled once whatever the
number of processes, and history survives restarts. Nothing is added to the per-step path:
the figures come from the times runs and steps already carry.

The last sample is kept in memory (`Sampler.last`): /metrics is served from it, so a scrape
costs no query.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from .engine import Engine
from .store import metrics as rollups

log = logging.getLogger("durable.metrics")

BASE_MS = 0.25  # upper bound of bucket 0
BUCKETS = 65  # 0..63 bounded, 64 above BASE_MS * 2^31.5
STATES = ("due", "running", "sleeping", "waiting", "retrying")
ROLL_CHUNK = timedelta(hours=1)  # the most minutes one roll transaction takes


def bucket_of(ms: float) -> int:
    """The histogram bucket of a duration (the SQL function durable_metrics_bucket)."""
    return min(BUCKETS - 1, max(0, math.ceil(2 * math.log(max(ms, BASE_MS) / BASE_MS)
                                             / math.log(2))))


def upper_ms(bucket: int) -> float:
    """The largest duration bucket `bucket` holds (inf for the last)."""
    return math.inf if bucket >= BUCKETS - 1 else BASE_MS * 2 ** (bucket / 2)


def lower_ms(bucket: int) -> float:
    return 0.0 if bucket <= 0 else upper_ms(bucket - 1)


def percentile(hist: Mapping[int, int], q: float, max_ms: float | None = None
               ) -> float | None:
    """The q-quantile (0 < q <= 1) of the durations a summed histogram counts: the bucket
    holding the rank, interpolated geometrically inside it (linearly in bucket 0), never above
    the largest value seen. None when the histogram is empty."""
    total = sum(hist.values())
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for bucket in sorted(hist):
        count = hist[bucket]
        if count <= 0:
            continue
        if seen + count >= rank:
            frac = min(1.0, max(0.0, (rank - seen) / count))
            low, high = lower_ms(bucket), upper_ms(bucket)
            if math.isinf(high):
                value = max_ms if max_ms is not None else low
            elif low <= 0:
                value = high * frac
            else:
                value = low * (high / low) ** frac
            return min(value, max_ms) if max_ms is not None else value
        seen += count
    return max_ms


def floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


@dataclass
class Snapshot:
    """What one sample saw: the backlog now, the running totals, and what it cost."""

    at: datetime
    backlog: list[dict[str, Any]]
    totals: list[dict[str, Any]]
    buckets: list[dict[str, Any]]
    rolled_to: datetime | None
    duration_ms: float
    queries: int


@dataclass
class Sampler:
    engine: Engine
    sample_s: float = 10.0  # how often the backlog is sampled
    grace_s: float = 20.0  # a minute is rolled this long after it ends, at the earliest
    last: Snapshot | None = None
    samples: int = 0
    queries: int = 0  # statements sent, in total
    busy_s: float = 0.0  # time spent sampling and rolling, in total
    _stopping: bool = field(default=False, repr=False)

    async def run_forever(self) -> None:
        while not self._stopping:
            try:
                await self.sample_once()
            except (psycopg.Error, OSError) as error:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from error
                log.warning("metrics sample failed: %s", error)
            except Exception:  # noqa: BLE001 - metrics never stop the engine; try next round
                log.exception("metrics sample failed")
            await asyncio.sleep(self.sample_s)

    async def sample_once(self, now: datetime | None = None) -> Snapshot:
        """Sample the backlog, roll the minutes that have ended, read the totals."""
        t0 = time.perf_counter()
        queries = 0
        now = now or self.engine.clock()
        async with self.engine.pool.connection() as conn:
            await conn.set_autocommit(True)
            try:
                backlog = await rollups.sample_backlog(conn, self.engine.queries, now,
                                                       floor_minute(now))
                queries += 1
            finally:
                await conn.set_autocommit(False)
        rolled, _, roll_queries = await self._roll(now)
        queries += roll_queries
        async with self.engine.pool.connection() as conn:
            await conn.set_autocommit(True)
            try:
                totals, buckets = await rollups.totals(conn, self.engine.queries)
                queries += 2
            finally:
                await conn.set_autocommit(False)
        duration_ms = (time.perf_counter() - t0) * 1000
        rolled_to = totals[0]["rolled_to"] if totals else rolled
        totals = [t for t in totals if t["workspace_id"] is not None]
        self.last = Snapshot(now, backlog, totals, buckets, rolled_to, duration_ms, queries)
        self.samples += 1
        self.queries += queries
        self.busy_s += duration_ms / 1000
        return self.last

    async def roll_once(self, now: datetime | None = None) -> int:
        """Roll every ended minute not rolled yet (unless another process is rolling);
        returns how many rollup rows were written."""
        return (await self._roll(now or self.engine.clock()))[1]

    async def _roll(self, now: datetime) -> tuple[datetime | None, int, int]:
        """(watermark now, rows written, statements sent)."""
        rolled_to, written, queries = None, 0, 0
        while True:
            done, rows, statements, more = await self._roll_chunk(now)
            rolled_to, written, queries = done or rolled_to, written + rows, queries + statements
            if not done or not more:
                return rolled_to, written, queries

    async def _roll_chunk(self, now: datetime) -> tuple[datetime | None, int, int, bool]:
        """One transaction: (new watermark or None, rows written, statements, more to do)."""
        async with self.engine.pool.connection() as conn, conn.transaction():
            state = await rollups.roll_claim(conn, self.engine.queries)
            if state is None:
                return None, 0, 1, False  # another process is rolling
            # Rows are stamped with the engine's clock before their transaction begins: wait
            # out the grace, and for any transaction still open that began before the end.
            safe = now - timedelta(seconds=max(self.grace_s, float(state["age_s"]) + 1))
            end = floor_minute(safe)
            start = state["rolled_to"]
            if end <= start:
                return None, 0, 1, False
            to = min(end, start + ROLL_CHUNK)
            rows = await rollups.roll(conn, self.engine.queries, start, to)
            return to, rows, 3, to < end

    def stop(self) -> None:
        self._stopping = True

