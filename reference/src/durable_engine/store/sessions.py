"""The dashboard's state in the database: admin sessions and single-use confirmations (only
hashes of their tokens are stored), failed logins by address, and run watches."""

from __future__ import annotations

from datetime import datetime

from ..db import Conn, Queries


async def session_insert(conn: Conn, queries: Queries, id_hash: str, csrf: str,
                         now: datetime, expires_at: datetime) -> None:
    """A new session; expired ones are dropped on the way."""
    await conn.execute(queries["sessions_prune"], {"now": now})
    await conn.execute(queries["session_insert"], {
        "id_hash": id_hash, "csrf": csrf, "now": now, "expires_at": expires_at})


async def session_touch(conn: Conn, queries: Queries, id_hash: str, now: datetime
                        ) -> str | None:
    """The CSRF token of a live session, seen now; None when unknown or expired."""
    cur = await conn.execute(queries["session_touch"], {"id_hash": id_hash, "now": now})
    row = await cur.fetchone()
    return None if row is None else str(row["csrf"])


async def session_delete(conn: Conn, queries: Queries, id_hash: str) -> None:
    await conn.execute(queries["session_delete"], {"id_hash": id_hash})


async def confirmation_insert(conn: Conn, queries: Queries, token_hash: str, visitor_hash: str,
                              action: str, now: datetime, expires_at: datetime) -> None:
    await conn.execute(queries["confirmation_insert"], {
        "token_hash": token_hash, "visitor_hash": visitor_hash, "action": action, "now": now,
        "expires_at": expires_at})


async def confirmation_take(conn: Conn, queries: Queries, token_hash: str, now: datetime
                            ) -> tuple[str, str] | None:
    """Delete the confirmation; its (visitor hash, action) if it was there and live."""
    cur = await conn.execute(queries["confirmation_take"],
                             {"token_hash": token_hash, "now": now})
    row = await cur.fetchone()
    if row is None or not row["live"]:
        return None
    return str(row["visitor_hash"]), str(row["action"])


async def login_failed(conn: Conn, queries: Queries, address: str, now: datetime) -> int:
    """Count one more wrong token from `address`: the count within the last hour."""
    cur = await conn.execute(queries["login_failure_count"], {"address": address, "now": now})
    row = await cur.fetchone()
    return int(row["count"]) if row else 1


async def login_failures_clear(conn: Conn, queries: Queries, address: str, now: datetime
                               ) -> None:
    await conn.execute(queries["login_failures_clear"], {"address": address, "now": now})


async def watch(conn: Conn, queries: Queries, run_id: str, watcher: str, until: datetime
                ) -> None:
    """Publish the run's attempts until `until` (renewed by calling again)."""
    await conn.execute(queries["watch_upsert"],
                       {"run_id": run_id, "watcher": watcher, "until": until})


async def unwatch(conn: Conn, queries: Queries, run_id: str, watcher: str, now: datetime
                  ) -> None:
    """End this watch, and any that expired."""
    await conn.execute(queries["watch_delete"],
                       {"run_id": run_id, "watcher": watcher, "now": now})
