"""Singleton runs ([SINGLE-1..4]): at most one live run per function id and key.

A new run (from an event or a cron tick) locks its key until commit, then finds the live
runs of the key: with `mode: "skip"` the new run is created skipped (`singleton`), with
`mode: "cancel"` those runs are cancelled for it (`cancelledBy: {"runId"}`). The lock makes
it exact across engine processes ([SINGLE-4]). Reruns and children are not subject to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..db import Conn
from ..paths import key_value
from ..store import run_keys
from ..store.control import cancel_runs

LOCK_SEED = 1104


def singleton_key(workspace_id: str, definition: dict[str, Any] | None,
                  event: dict[str, Any]) -> str | None:
    if not definition or not definition.get("singleton"):
        return None
    # [PATH-3]: a missing key value is null; no key is one run per function
    key = key_value(event, definition["singleton"].get("key"))
    return f"{workspace_id}|{definition['id']}|{key}"


async def apply_singleton(conn: Conn, queries: Mapping[str, str],
                          key: str, definition: dict[str, Any], new_run_id: str,
                          now: datetime) -> tuple[str | None, list[str]]:
    """Lock the key until commit and apply the mode: ("singleton", []) when the new run is
    to be skipped, else (None, the run ids cancelled for it)."""
    await run_keys.lock(conn, queries, key, LOCK_SEED)
    live = await run_keys.singleton_live(conn, queries, key)
    if not live:
        return None, []
    if definition["singleton"]["mode"] == "skip":
        return "singleton", []
    # [SINGLE-3]: they give way to the new run, which is recorded on them
    done = await cancel_runs(conn, queries, live, now, cancelled_by={"runId": new_run_id})
    return None, [row["id"] for row in done]
