"""Function-level idempotency ([IDEM-1..3]): one run per key value and period.

A run created under a definition with `idempotency` stores its key; an event that would
create another run of the function id (any version) with the same canonical key value
([PATH-3]) within `periodMs` gets the earlier run in its receipt's `deduplicated` instead.
Creators of one key are serialized by a transaction-scoped advisory lock, so two engine
processes accepting two such events at once still create one run ([IDEM-3]).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..db import Conn
from ..paths import MISSING, canonical_json, resolve
from ..store import run_keys

DEFAULT_PERIOD_MS = 86_400_000  # registry defaults.idempotencyPeriodMs
LOCK_SEED = 1103


def idempotency_key(workspace_id: str, definition: dict[str, Any], event: dict[str, Any]
                    ) -> str | None:
    """The run's idempotency key, or None (no rule, or the key path is missing)."""
    rule = definition.get("idempotency")
    if not rule:
        return None
    value = resolve(event.get("data"), rule["key"])
    if value is MISSING:  # [IDEM-2]: a missing key deduplicates nothing
        return None
    return f"{workspace_id}|{definition['id']}|{canonical_json(value)}"


async def original_run(conn: Conn, queries: Mapping[str, str],
                       key: str, definition: dict[str, Any], now: datetime
                       ) -> dict[str, str] | None:
    """Lock the key until commit; the run already created under it within the period, as a
    `deduplicated` entry, or None."""
    await run_keys.lock(conn, queries, key, LOCK_SEED)
    period_ms = definition["idempotency"].get("periodMs", DEFAULT_PERIOD_MS)
    row = await run_keys.idempotency_original(conn, queries, key, now, period_ms / 1000)
    if row is None:
        return None
    return {"functionId": row["function_id"], "runId": row["id"]}
