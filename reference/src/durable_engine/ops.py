"""Retention of ended runs, events and deliveries, and the age parser of its setting."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta

import psycopg

from .engine import Engine

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
    params = {"cutoff": cutoff, "batch": batch}
    async with engine.pool.connection() as conn:
        row = await (await conn.execute(engine.q("retention_metrics"), params)).fetchone()
    totals["metricsRows"] = int(row["rows"]) if row else 0
    while True:
        async with engine.pool.connection() as conn:
            await conn.set_autocommit(True)  # each statement its own short transaction
            try:
                row = await (await conn.execute(engine.q("retention_runs"), params)).fetchone()
                assert row is not None
                runs = int(row["runs"])
                totals["runs"] += runs
                totals["deliveries"] += int(row["deliveries"])
                events = len(await (await conn.execute(engine.q("retention_events"),
                                                       params)).fetchall())
                totals["events"] += events
                reruns = len(await (await conn.execute(engine.q("retention_reruns"),
                                                       params)).fetchall())
                totals["reruns"] += reruns
                ticks = len(await (await conn.execute(engine.q("retention_cron_ticks"),
                                                      params)).fetchall())
                totals["cronTicks"] += ticks
            finally:
                await conn.set_autocommit(False)
        if max(runs, events, reruns, ticks) < batch:
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
