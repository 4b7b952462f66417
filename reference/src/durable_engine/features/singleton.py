"""Singleton runs ([SINGLE-1..4]): at most one live run per function id and key.

A new run (from an event or a cron tick) locks its key until commit, then finds the live
runs of the key: with `mode: "skip"` the new run is created skipped (`singleton`), with
`mode: "cancel"` those runs are cancelled for it (`cancelledBy: {"runId"}`). The lock makes
it exact across engine processes ([SINGLE-4]). Reruns and children are not subject to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ..paths import key_value

LOCK_SEED = 1104


def singleton_key(workspace_id: str, definition: dict[str, Any] | None,
                  event: dict[str, Any]) -> str | None:
    if not definition or not definition.get("singleton"):
        return None
    # [PATH-3]: a missing key value is null; no key is one run per function
    key = key_value(event, definition["singleton"].get("key"))
    return f"{workspace_id}|{definition['id']}|{key}"


async def apply_singleton(conn: psycopg.AsyncConnection[Any], q: Callable[[str], str], key: str,
                definition: dict[str, Any], new_run_id: str, now: datetime
                ) -> tuple[str | None, list[str]]:
    """Lock the key until commit and apply the mode: ("singleton", []) when the new run is
    to be skipped, else (None, the run ids cancelled for it)."""
    await conn.execute(q("run_key_lock"), {"key": key, "seed": LOCK_SEED})
    cur = await conn.execute(q("singleton_live"), {"key": key})
    live = [row["id"] for row in await cur.fetchall()]
    if not live:
        return None, []
    if definition["singleton"]["mode"] == "skip":
        return "singleton", []
    # The queue rows first, as an answer's transition locks them (no deadlock with one).
    await conn.execute(q("bulk_lock_queue"), {"run_ids": live})
    cur = await conn.execute(q("singleton_cancel"), {
        "run_ids": live, "now": now, "cancelled_by": Jsonb({"runId": new_run_id})})
    cancelled = [row["id"] for row in await cur.fetchall()]
    if cancelled:
        await conn.execute(q("bulk_cancel_cleanup"), {"run_ids": cancelled})
    return None, cancelled
