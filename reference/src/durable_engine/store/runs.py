"""Runs: the one place a run is created and put on the queue, with every flow rule that
applies to it resolved from its function's definition and its event ([FLOW-1], [FLOW-3],
[FLOW-7], [FLOW-8]) by core.admission. Events, cron ticks, debounce and batch buckets, reruns
(from a step too) create runs here; failures retry starts a failed run again here."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..core.admission import Flow, flow_of
from ..db import Conn
from .wakeups import wake_workers


@dataclass
class NewRun:
    """A run to create (or, restarted, to queue again) and its queue row's flow rules."""

    workspace_id: str
    function_id: str  # the runtime id
    event: dict[str, Any]
    priority: int
    flow: Flow
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    event_id: str | None = None  # the event's id unless given
    events: list[dict[str, Any]] | None = None  # a batch run's events ([INV-5])
    rate_key: str | None = None  # its rate-limit bucket ([FLOW-4])
    skip_reason: str | None = None  # refused at creation: the run is skipped, never queued
    lease_s: float | None = None  # offered for hand-off to the creating process
    rerun_of: str | None = None
    idempotency_key: str | None = None  # [IDEM-2]: runs of one key within a period are one
    singleton_key: str | None = None  # [SINGLE-2]: one live run per key
    parent: tuple[str, str, str] | None = None  # (run, namespace, step) awaiting it ([INVOKE-2])
    traceparent: str | None = None  # [TRACE-2]; None: a new one

    def row(self) -> dict[str, Any]:
        return {"id": self.id, "workspace_id": self.workspace_id,
                "function_id": self.function_id,
                "event_id": self.event_id if self.event_id is not None else self.event["id"],
                "event": self.event, "events": self.events, "priority": self.priority,
                "rate_key": self.rate_key, "skip_reason": self.skip_reason,
                "lease_s": self.lease_s, "rerun_of": self.rerun_of,
                "idempotency_key": self.idempotency_key, "singleton_key": self.singleton_key,
                "traceparent": self.traceparent,
                **dict(zip(("parent_run_id", "parent_namespace", "parent_step_id"),
                           self.parent or (None, None, None), strict=True)),
                **self.flow.params()}


def new_run(workspace_id: str, function_id: str, definition: dict[str, Any] | None,
            event: dict[str, Any], priority: int | None, **more: Any) -> NewRun:
    """A run of `function_id` for `event`, its flow rules resolved from `definition`."""
    return NewRun(workspace_id, function_id, event, priority or 0,
                  flow_of(workspace_id, definition, event), **more)


@dataclass
class Receipt:
    """An event's receipt ([EVT-7]), stored on the event with the runs it started."""

    workspace_id: str
    event_id: str
    body: dict[str, Any]


async def create(conn: Conn, queries: Mapping[str, str], runs: list[NewRun], now: datetime,
                 *, restart: bool = False, receipt: Receipt | None = None,
                 notify: bool = True) -> dict[str, uuid.UUID | None]:
    """Create `runs` (restart: reset those failed runs and queue them again) in the caller's
    transaction, each queued due now unless skipped; with `receipt`, store it. Returns each
    run's lease token when it was handed off (leased at once to the caller, which invokes it
    after its commit), else None. `notify`: wake the workers (after the commit) when a run
    was queued for them."""
    if not runs and receipt is None:
        return {}
    cur = await conn.execute(queries["runs_create"], {
        "runs": Jsonb([r.row() for r in runs]), "now": now, "restart": restart,
        "receipt": None if receipt is None else Jsonb(receipt.body),
        "workspace_id": None if receipt is None else receipt.workspace_id,
        "event_id": None if receipt is None else receipt.event_id})
    created = {row["run_id"]: row["lease_token"] for row in await cur.fetchall()}
    if len(created) != len(runs):
        missing = sorted({r.id for r in runs} - set(created))
        raise RuntimeError(f"runs {missing} exist already" if not restart
                           else f"runs {missing} are not there to restart")
    queued = sum(created[r.id] is None and r.skip_reason is None for r in runs)
    if notify and queued:
        await wake_workers(conn, queries, queued)
    return created


async def restart(conn: Conn, queries: Mapping[str, str], run: NewRun, now: datetime) -> None:
    """Start the failed run `run.id` again, from its first step (failures retry)."""
    await create(conn, queries, [run], now, restart=True)
