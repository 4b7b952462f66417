"""step.invoke ([INVOKE-1..7]): a child run awaited by its parent's step.

The op creates the child and parks the parent in one transaction (`start_child`, then the
engine parks). The child's end commits the parent's memo in the transaction that ends it (a
trigger, migration 0022), so the parent gets exactly one result even when engine processes
die in between. `time_out` is the parent's deadline: the step's memo says `timedOut` and
the child is cancelled ([INVOKE-5]).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ..core.context import RunContext
from ..core.invocation import InvokeOp
from ..db import Conn
from ..store import children
from ..store.control import cancel_runs
from ..store.events import insert_memo
from ..store.runs import create, new_run

CAPABILITY = "step-invoke"
EVENT_NAME = "durable/invoke"  # registry invoke.eventName
NO_DEADLINE = timedelta(days=36_500)  # a parent without a timeout waits for its child


def unresolved(message: str) -> dict[str, Any]:
    """[INVOKE-6]: the memo of an invoke step whose function cannot be resolved."""
    return {"runId": None, "status": "failed",
            "error": {"name": "DurableError", "code": "UNKNOWN_FUNCTION", "message": message}}


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


async def start_child(conn: Conn, queries: Mapping[str, str], ctx: RunContext,
                      namespace: str, op: InvokeOp, now: datetime) -> dict[str, Any] | None:
    """Create the child run of `op` ([INVOKE-2], [INVOKE-3]) and queue it, in the caller's
    transaction. Returns the memo to commit at once when the function cannot be resolved,
    else None (the caller parks the parent until the child ends)."""
    workspace_id = op.app or ctx.workspace_id
    fn = await children.resolve(conn, queries, workspace_id, ctx.workspace_id, op.function)
    if fn is None:
        where = f"app {op.app}" if op.app else "this app"
        return unresolved(f"no live function {op.function!r} in {where}")
    event = {"id": f"invoke:{ctx.run_id}:{op.id}", "name": EVENT_NAME, "data": op.data,
             "ts": to_ms(now)}
    batch = isinstance(fn["definition"], dict) and "batch" in fn["definition"]
    # concurrency, throttle and priority apply to the child; the other rules do not
    await create(conn, queries, [new_run(
        workspace_id, fn["runtime_id"], fn["definition"], event, fn["priority"],
        events=[event] if batch else None, parent=(ctx.run_id, namespace, op.id),
        traceparent=ctx.traceparent)], now)  # [TRACE-2]: the child continues the trace
    return None


def deadline(op: InvokeOp, now: datetime) -> datetime:
    return op.until if op.until is not None else now + NO_DEADLINE


async def time_out(conn: Conn, queries: Mapping[str, str], run_id: str, namespace: str,
                   now: datetime) -> list[str]:
    """[INVOKE-5]: the parent's deadline passed. Each awaited child still live gets its step
    memoized as timedOut, then is cancelled (and its children, [INVOKE-7]); returns them."""
    awaited = await children.live_children(conn, queries, run_id, namespace)
    for child in awaited:
        result = {"runId": child["id"], "status": "timedOut",
                  "error": {"name": "DurableError", "code": "INVOKE_TIMEOUT",
                            "message": "the invoked run did not end before the step's"
                                       " timeout; it was cancelled"}}
        await insert_memo(conn, queries, run_id, namespace, child["parent_step_id"], "invoke",
                          result, queued_at=child["created_at"], started_at=None,
                          app_ms=None, ended_at=now)
    ids = [child["id"] for child in awaited]
    if not ids:
        return []
    done = await cancel_runs(conn, queries, ids, now, cancelled_by={"runId": run_id})
    return [row["id"] for row in done]
