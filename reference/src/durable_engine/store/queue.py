"""The queue: claiming due work, the flow admission reads under the buckets' locks, the idle
look-ahead and the leases a process holds. Each function is one named query (queries/)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..core.admission import free_starts, window_free_at
from ..db import Conn, Row


async def claimer_session(conn: Conn, queries: Mapping[str, str]) -> None:
    """The claimer's own connection: its leases are committed without waiting for an fsync."""
    await conn.execute(queries["claimer_session"])


async def probe(conn: Conn, queries: Mapping[str, str], now: datetime) -> tuple[bool, bool]:
    """(whether debounce/batch buckets are due, whether due rows are flow-controlled)."""
    cur = await conn.execute(queries["flow_probe"], {"now": now})
    row = await cur.fetchone()
    assert row is not None
    return bool(row["pending"]), bool(row["flow"])


async def claim(conn: Conn, queries: Mapping[str, str], now: datetime, limit: int,
                lease_s: float, flow_ok: list[str]) -> list[Row]:
    """Lease up to `limit` due rows (flow-controlled ones only if in `flow_ok`), with each
    run's invocation context."""
    cur = await conn.execute(queries["claim"], {"now": now, "limit": limit,
                                                "flow_ok": flow_ok, "lease_s": lease_s})
    return list(await cur.fetchall())


async def claim_sent(conn: Conn, queries: Mapping[str, str], now: datetime, limit: int,
                     lease_s: float, flow_ok: list[str]) -> Any:
    """`claim` sent without waiting for its rows: in pipeline mode they arrive with the
    commit that follows (one round trip for both); fetch them from the cursor returned."""
    return await conn.execute(queries["claim"], {"now": now, "limit": limit,
                                                 "flow_ok": flow_ok, "lease_s": lease_s})


async def candidates(conn: Conn, queries: Mapping[str, str], now: datetime, page: int,
                     fair: bool) -> list[Row]:
    """Due flow-controlled rows, locked: the first `page` by rank, or (`fair`) round-robin over
    the buckets that have room for another run, each giving no more rows than it has room
    for."""
    name = "flow_candidates_fair" if fair else "flow_candidates"
    cur = await conn.execute(queries[name], {"now": now, "limit": page})
    return list(await cur.fetchall())


async def lock_buckets(conn: Conn, queries: Mapping[str, str], keys: list[str]) -> None:
    """The buckets' advisory locks until the transaction ends (sorted: no deadlock)."""
    await conn.execute(queries["flow_lock"], {"keys": sorted(keys)})


async def in_flight(conn: Conn, queries: Mapping[str, str], now: datetime,
                    keys: list[str]) -> dict[str, int]:
    """Invocations in flight (live leases) per concurrency bucket."""
    cur = await conn.execute(queries["flow_in_flight"], {"now": now, "keys": keys})
    return {r["key"]: r["n"] for r in await cur.fetchall()}


async def throttle_windows(conn: Conn, queries: Mapping[str, str], rows: list[Row],
                           now: datetime) -> dict[str, tuple[int, datetime | None]]:
    """Per throttle bucket of `rows`: runs started in the window (capped at the limit) and
    when the next start may happen if the window is full."""
    rules: dict[str, tuple[int, int]] = {}
    for c in rows:
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


async def throttle_heads(conn: Conn, queries: Mapping[str, str],
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


async def next_due(conn: Conn, queries: Mapping[str, str], now: datetime) -> Row | None:
    """When the next row becomes claimable (`at`) and whether some are due now (`stuck`)."""
    cur = await conn.execute(queries["next_due"], {"now": now})
    row: Row | None = await cur.fetchone()
    return row


async def renew(conn: Conn, queries: Mapping[str, str], tokens: list[uuid.UUID],
                now: datetime, lease_s: float) -> None:
    """The heartbeat: extend every lease still held by one of `tokens`."""
    await conn.execute(queries["queue_renew"], {"tokens": tokens, "now": now,
                                                "lease_s": lease_s})


async def release(conn: Conn, queries: Mapping[str, str], tokens: list[uuid.UUID]) -> None:
    """Give leases back at once (a graceful stop), instead of letting them lapse."""
    await conn.execute(queries["queue_release"], {"tokens": tokens})
