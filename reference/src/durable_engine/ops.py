"""Retention of ended runs, events and deliveries, and the age parser of its setting."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta

import psycopg

from .engine import Engine
from .store import retention

log = logging.getLogger("durable.ops")

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_age(text: str) -> float | None:
    """`30d`, `12h`, `90m`, `45s`, `500ms` -> seconds; `0` or `off` -> None (keep forever)."""
    value = text.strip().lower()
    if value in ("0", "off", "none", "never"):
        return None
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30d, 12h, 90m, 45s)")
    seconds = int(match.group(1)) * _UNIT_S[match.group(2)]
    return seconds or None


# ---- retention -------------------------------------------------------------------------------

async def prune_once(engine: Engine, age_s: float, batch: int = 500) -> dict[str, int]:
    """Delete ended runs (with their steps, waits, deliveries), events, rerun keys and cron
    ticks older than age_s, one batch per statement and transaction: locks are held for one
    short batch only, and rows other transactions hold are skipped until the next round.
    Metrics minutes older than age_s go too (their running totals stay)."""
    cutoff = engine.clock() - timedelta(seconds=age_s)
    totals = {"runs": 0, "deliveries": 0, "events": 0, "reruns": 0, "cronTicks": 0}
    async with engine.pool.connection() as conn:
        totals["metricsRows"] = await retention.prune_metrics(conn, engine.queries, cutoff)
    while True:
        async with engine.pool.connection() as conn:
            await conn.set_autocommit(True)  # each statement its own short transaction
            try:
                pruned = await retention.prune_batch(conn, engine.queries, cutoff, batch)
            finally:
                await conn.set_autocommit(False)
        for name, count in zip(("runs", "deliveries", "events", "reruns", "cronTicks"), pruned,
                               strict=True):
            totals[name] += count
        if max(pruned.runs, pruned.events, pruned.reruns, pruned.cron_ticks) < batch:
            return totals
        await asyncio.sleep(0.05)  # let live work between batches


async def retention_forever(engine: Engine, age_s: float, interval_s: float = 300.0,
                            batch: int = 500) -> None:
    """The periodic task of every worker process: SKIP LOCKED lets several prune together.
    The first round waits a little, so a process that starts and stops at once never prunes."""
    await asyncio.sleep(min(interval_s, 10.0))
    while True:
        try:
            totals = await prune_once(engine, age_s, batch)
            if any(totals.values()):
                log.info("retention pruned %s", totals)
        except (psycopg.Error, OSError) as error:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # psycopg turned our cancel into this
                raise asyncio.CancelledError from error
            log.warning("retention round failed: %s", error)
        await asyncio.sleep(interval_s)
