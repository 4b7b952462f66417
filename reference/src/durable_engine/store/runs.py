"""Putting a run on the queue with every flow rule that applies to it: concurrency
([FLOW-1], [FLOW-7], [FLOW-8]) and throttle ([FLOW-3]), resolved from the function's
definition and the run's event, for a new run (rerun, rerun from a step) and for a failed run
started again (failures retry)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..core.admission import flow_buckets, throttle_bucket


async def enqueue(conn: Any, queries: dict[str, str], *, workspace_id: str, run_id: str,
                  definition: dict[str, Any] | None, event: dict[str, Any], priority: int,
                  now: datetime, again: bool = False) -> None:
    """Queue `run_id` due now. `again`: the run was queued before (its row is reset)."""
    keys, limits = flow_buckets(workspace_id, definition, event)
    params = {"run_id": run_id, "workspace_id": workspace_id, "priority": priority, "now": now,
              "flow_keys": keys, "flow_limits": limits,
              **throttle_bucket(workspace_id, definition, event)}
    await conn.execute(queries["queue_requeue" if again else "queue_insert"], params)
    await conn.execute(queries["notify_queue"])
