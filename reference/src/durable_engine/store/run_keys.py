"""Keys a run is created under: function-level idempotency ([IDEM-1..3]) and singleton
([SINGLE-1..4]). The creators of one key are serialized by a transaction-scoped advisory
lock, so engine processes accepting events at once still agree."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..db import Conn

Row = dict[str, Any]
Queries = Mapping[str, str]


async def lock(conn: Conn, queries: Queries, key: str, seed: int) -> None:
    """Hold the key until commit (a statement of its own: a look-up after it sees what the
    previous holder committed)."""
    await conn.execute(queries["run_key_lock"], {"key": key, "seed": seed})


async def idempotency_original(conn: Conn, queries: Queries, key: str, now: datetime,
                               period_s: float) -> Row | None:
    """The earliest run (id, function_id) created under the key within the period."""
    cur = await conn.execute(queries["idempotency_original"], {
        "key": key, "now": now, "period_s": period_s})
    row: Row | None = await cur.fetchone()
    return row


async def singleton_live(conn: Conn, queries: Queries, key: str) -> list[str]:
    """The ids of the key's live runs."""
    cur = await conn.execute(queries["singleton_live"], {"key": key})
    return [row["id"] for row in await cur.fetchall()]


async def singleton_cancel(conn: Conn, queries: Queries, run_ids: list[str], new_run_id: str,
                           now: datetime) -> list[str]:
    """[SINGLE-3]: those of `run_ids` still live give way to `new_run_id` (recorded on
    them): cancelled, their queue rows and waits gone; returns them."""
    # The queue rows first, as an answer's transition locks them (no deadlock with one).
    await conn.execute(queries["bulk_lock_queue"], {"run_ids": run_ids})
    cur = await conn.execute(queries["singleton_cancel"], {
        "run_ids": run_ids, "now": now, "cancelled_by": Jsonb({"runId": new_run_id})})
    cancelled = [row["id"] for row in await cur.fetchall()]
    if cancelled:
        await conn.execute(queries["bulk_cancel_cleanup"], {"run_ids": cancelled})
    return cancelled
