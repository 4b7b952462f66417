"""Keys a run is created under: function-level idempotency ([IDEM-1..3]) and singleton
([SINGLE-1..4]). The creators of one key are serialized by a transaction-scoped advisory
lock, so engine processes accepting events at once still agree."""

from __future__ import annotations

from datetime import datetime

from ..db import Conn, Queries, Row


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
