"""Cron ticks (decision 0005): each tick fired once across all engine processes ([CRON-8]),
at most one catch-up tick after downtime ([CRON-7]); a tick's run is queued like any other."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import psycopg

from ..cron import latest_fire, next_fire
from ..features.singleton import apply_singleton, singleton_key
from ..store import cron as ticks
from ..store.runs import create, new_run
from .base import iso, to_ms
from .scheduler import Scheduler

log = logging.getLogger("durable.engine")


class CronTicks(Scheduler):
    async def run_cron(self) -> None:
        """Fire cron ticks (decision 0005): each tick once across all engine processes, at
        most one catch-up tick after downtime, sleeping until the next tick in between."""
        while not self._stopping:
            delay = self.config.idle_poll_s
            try:
                delay = await self.cron_round()
            except (psycopg.Error, OSError, ValueError) as error:
                log.warning("cron round failed: %s", error)
            await asyncio.sleep(max(0.01, delay))

    async def cron_round(self) -> float:
        now = self.clock()
        async with self.pool.connection() as conn:
            functions = await ticks.functions(conn, self.queries)
        wake = now + timedelta(seconds=self.config.idle_poll_s)
        for fn in functions:
            since = fn["last_tick"] or fn["synced_at"]
            tick = latest_fire(fn["trigger_cron"], now, since)
            if tick is not None:
                await self._fire_tick(fn, tick, now)
                since = tick
            wake = min(wake, next_fire(fn["trigger_cron"], max(since, now)))
        return (wake - self.clock()).total_seconds()

    async def _fire_tick(self, fn: dict[str, Any], tick: datetime, now: datetime) -> None:
        run_id = str(uuid.uuid4())
        tick_ms = to_ms(tick)
        event = {"id": f"cron:{fn['runtime_id']}:{tick_ms}", "name": "durable/cron",
                 "data": {"cron": fn["trigger_cron"], "scheduledAt": iso(tick)}, "ts": tick_ms}
        async with self.pool.connection() as conn, conn.transaction():
            if not await ticks.claim_tick(conn, self.queries, fn["workspace_id"],
                                          fn["runtime_id"], tick, run_id):
                return  # another engine fired it
            receipt = {"id": event["id"], "name": event["name"], "ts": tick_ms,
                       "runIds": [run_id]}
            await ticks.insert_event(conn, self.queries, fn["workspace_id"], event, receipt, now)
            single_key = singleton_key(fn["workspace_id"], fn["definition"], event)
            skip = None
            if single_key is not None:  # [SINGLE-2], [SINGLE-3] hold for cron ticks too
                skip, _ = await apply_singleton(conn, self.queries, single_key, fn["definition"],
                                                run_id, now)
            await create(conn, self.queries, [new_run(
                fn["workspace_id"], fn["runtime_id"], fn["definition"], event, fn["priority"],
                id=run_id, skip_reason=skip, singleton_key=None if skip else single_key)], now)
