"""Applying an app's answer: one transaction per op that fences the lease, records the
delivery and moves the run (memo, status, next queue item together). A stale attempt's late
answer changes nothing but its delivery record."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, TypedDict

import psycopg

from ..core.admission import (
    backoff_ms,
    may_retry,
)
from ..core.context import RunContext
from ..core.invocation import (
    DoneOp,
    ErrorOp,
    InvokeOp,
    Op,
    SendEventOp,
    SleepOp,
    StepOp,
    WaitOp,
    memo_refusal,
)
from ..core.status import RunStatus
from ..db import Conn
from ..features.invoke import CAPABILITY as INVOKE_CAPABILITY
from ..features.invoke import deadline as invoke_deadline
from ..features.invoke import start_child
from ..logs import run_changed
from ..store import transitions
from ..store.steps import StepCommit
from ..store.transitions import Delivery
from ..store.wakeups import wake_workers
from .base import Claim, Outcome, iso
from .events import Events

log = logging.getLogger("durable.engine")


class _Timing(TypedDict):
    """An attempt's timing, recorded on the memo its answer writes."""

    queued_at: datetime | None
    started_at: datetime | None
    app_ms: float | None


class Lifecycle(Events):
    async def _apply(self, claim: Claim, ctx: RunContext, outcome: Outcome,
                     deliver: bool = True) -> uuid.UUID | None:
        """Apply an answer, riding out a database restart: the answer is not dropped while the
        database is briefly away (the fence makes a retried commit safe)."""
        delay = 0.2
        for attempt in range(8):
            try:
                return await self._apply_once(claim, ctx, outcome, deliver)
            except psycopg.OperationalError as error:
                if attempt == 7:
                    raise
                log.warning("run %s: database unavailable (%s); retrying", claim.run_id, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                await self.pool.check()  # drop the pool's dead connections
        return None

    async def _apply_once(self, claim: Claim, ctx: RunContext, outcome: Outcome,
                          deliver: bool = True) -> uuid.UUID | None:
        """One transaction: fence, delivery record, the op's transition. Returns the new lease
        token when the run should be invoked again at once by this worker."""
        now = self.clock()
        op = outcome.op
        if deliver and isinstance(op, StepOp) and memo_refusal(op, ctx.steps) is None:
            return await self._commit_step(claim, ctx, op, outcome, now)
        error_text = outcome.error
        if isinstance(op, ErrorOp):
            # The HTTP exchange worked but the run did not progress: a failure for the view.
            error_text = f"{op.name or 'Error'}: {op.message}"
        ctx.changes = []
        try:
            # Pipeline mode: statements whose results are not read go out without waiting, so
            # the transaction costs about two round trips (the fence's answer, the commit).
            async with self.wakeups.transaction(pipeline=True) as conn:
                fenced = await transitions.fence(conn, self.queries, claim.run_id,
                                                 claim.lease_token)
                if deliver:
                    await transitions.record_delivery(conn, self.queries, Delivery(
                        workspace_id=ctx.workspace_id, run_id=claim.run_id,
                        function_id=ctx.function_id, namespace=claim.namespace,
                        attempt=claim.attempt, url=ctx.app_url, status=outcome.status,
                        duration_ms=outcome.duration_ms,
                        op=op.kind if op is not None else None,
                        error=error_text if fenced else (error_text or "stale attempt"),
                        code=outcome.code if outcome.error is not None else (
                            op.code if isinstance(op, ErrorOp) else None),
                        at=outcome.started))
                if not fenced:
                    return None  # lease lost (expired, cancelled): this answer is void
                if op is None:
                    op = ErrorOp(error_text, None, True, "DurableError", outcome.code,
                                 delivery=True)
                token = await self._transition(conn, claim, ctx, op, outcome, now)
        except psycopg.errors.UniqueViolation:
            return None
        for status, fields in ctx.changes:  # committed: now they happened
            run_changed(claim.run_id, status, function=ctx.function_id, **fields)
            if status in (RunStatus.COMPLETED, RunStatus.FAILED):  # [TRACE-6]
                self.spans.run_ended(ctx.traceparent, run_id=claim.run_id,
                                     function_id=ctx.function_id, status=str(status),
                                     created=ctx.created_at, end=now)
        return token

    async def _commit_step(self, claim: Claim, ctx: RunContext, op: StepOp,
                           outcome: Outcome, now: datetime) -> uuid.UUID | None:
        token = uuid.uuid4()
        done = await self.step_commits.commit(StepCommit(
            run_id=claim.run_id, lease_token=claim.lease_token, new_token=token, now=now,
            namespace=claim.namespace, step_id=op.id, data=op.data, position=len(ctx.steps),
            queued_at=claim.due_at, started_at=outcome.started, app_ms=outcome.duration_ms,
            workspace_id=ctx.workspace_id, function_id=ctx.function_id,
            attempt=claim.attempt, url=ctx.app_url, status=outcome.status,
            delivery_id=str(uuid.uuid4())))
        if not done.fenced:
            return None
        if not done.memoized:
            log.error("run %s: step %s was memoized concurrently", claim.run_id, op.id)
        ctx.steps[op.id] = {"type": "run", "data": op.data}
        return token

    async def _transition(self, conn: Conn, claim: Claim,
                          ctx: RunContext, op: Op, outcome: Outcome,
                          now: datetime) -> uuid.UUID | None:
        ns = claim.namespace
        if isinstance(op, InvokeOp) and INVOKE_CAPABILITY not in ctx.capabilities:
            # [INVOKE-1]: an unknown op from an app that does not advertise step-invoke
            op = ErrorOp("app answered an invoke op without advertising step-invoke",
                         delivery=True)
        refused = memo_refusal(op, ctx.steps)  # [OP-10], [ERR-7]
        if refused is not None:
            await self._fail(conn, claim, ctx, refused.error(), now)
            return None
        timing: _Timing = {"queued_at": claim.due_at, "started_at": outcome.started,
                           "app_ms": outcome.duration_ms}
        if isinstance(op, StepOp | SendEventOp):
            if isinstance(op, StepOp):
                kind, data = "run", op.data
            else:
                kind = "sendEvent"
                data = await self.ingest(conn, ctx.workspace_id, op.events, now)
            await self._memo(conn, claim.run_id, ns, op.id, kind, data, ended_at=now,
                             **timing)
            ctx.steps[op.id] = {"type": kind, "data": data}
            token = uuid.uuid4()
            await transitions.go_on(conn, self.queries, claim.run_id, now, token,
                                    self.config.lease_s)
            return token
        if isinstance(op, InvokeOp):
            at_once = await start_child(conn, self.queries, ctx, ns, op, now)
            if at_once is None:  # [INVOKE-2]: parked until the child ends or the deadline
                await self._park(conn, claim, "invoke_timeout", invoke_deadline(op, now),
                                 RunStatus.WAITING, now)
                ctx.changed(RunStatus.WAITING, step=op.id, invoke=op.function)
                return None
            await self._memo(conn, claim.run_id, ns, op.id, "invoke", at_once, ended_at=now,
                             **timing)  # [INVOKE-6]
            ctx.steps[op.id] = {"type": "invoke", "data": at_once}
            token = uuid.uuid4()
            await transitions.go_on(conn, self.queries, claim.run_id, now, token,
                                    self.config.lease_s)
            return token
        if isinstance(op, SleepOp):
            # [API-22]: the step is recorded now; its end is a time of its own
            wake = max(op.until, now)
            await self._memo(conn, claim.run_id, ns, op.id, "sleep", None,
                             ended_at=now, wake_at=wake, **timing)
            await self._park(conn, claim, "invoke", op.until, RunStatus.SLEEPING, now)
            ctx.changed(RunStatus.SLEEPING, step=op.id, wakeAt=iso(wake))
            return None
        if isinstance(op, WaitOp):
            await transitions.add_wait(conn, self.queries, claim.run_id, ns, op.id,
                                       ctx.workspace_id, op.event, op.match, op.until, now)
            await self._park(conn, claim, "wait_timeout", op.until, RunStatus.WAITING, now)
            ctx.changed(RunStatus.WAITING, step=op.id, waitFor=op.event, until=iso(op.until))
            return None
        if isinstance(op, DoneOp):
            await transitions.dequeue(conn, self.queries, claim.run_id)
            await wake_workers(conn, self.queries)  # a concurrency slot may be free
            if ns == "failure":
                await transitions.end_failure_handler(conn, self.queries, claim.run_id,
                                                      "completed", op.data, now)
            else:
                await transitions.complete(conn, self.queries, claim.run_id, op.data, now)
            ctx.changed(RunStatus.COMPLETED if ns == "main" else "failure handler completed",
                        attempt=claim.attempt)
            return None
        error = op.error()
        if may_retry(op.retryable, claim.attempt, ctx.definition):
            attempt = claim.attempt + 1
            delay = backoff_ms(attempt, self.config.backoff_base_ms, self.config.backoff_cap_ms)
            await transitions.schedule(conn, self.queries, claim.run_id, attempt=attempt,
                                       kind="invoke", namespace=ns,
                                       due_at=now + timedelta(milliseconds=delay))
            await transitions.set_status(conn, self.queries, claim.run_id, RunStatus.QUEUED,
                                         now)
            await wake_workers(conn, self.queries)
            ctx.changed("retrying", attempt=claim.attempt, next=attempt, inMs=delay,
                        code=error.get("code"), error=error["name"], step=error.get("stepId"))
            return None
        if op.delivery:
            error["code"] = "RETRIES_EXHAUSTED"  # [RETRY-5]: the last failure was no error op
        await self._fail(conn, claim, ctx, error, now)
        return None

    async def _fail(self, conn: Conn, claim: Claim,
                    ctx: RunContext, error: dict[str, Any], now: datetime) -> None:
        if claim.namespace == "failure":
            await transitions.dequeue(conn, self.queries, claim.run_id)
            await transitions.end_failure_handler(conn, self.queries, claim.run_id, "failed",
                                                  {"error": error}, now)
            ctx.changed("failure handler failed", code=error.get("code"))
            return None
        handler = ctx.rules.get("hasOnFailure") is True
        ctx.changed(RunStatus.FAILED, attempt=claim.attempt, code=error.get("code"),
                    error=error.get("name"), step=error.get("stepId"))
        await transitions.fail(conn, self.queries, claim.run_id, error, now,
                               "running" if handler else None)
        if handler:
            ctx.error = error
            await transitions.schedule(conn, self.queries, claim.run_id, attempt=0,
                                       kind="invoke", namespace="failure", due_at=now)
            await wake_workers(conn, self.queries)
        else:
            await transitions.dequeue(conn, self.queries, claim.run_id)
            await wake_workers(conn, self.queries)  # a concurrency slot may be free
        return None

    async def _park(self, conn: Conn, claim: Claim, kind: str,
                    until: datetime, status: RunStatus, now: datetime) -> None:
        await transitions.schedule(conn, self.queries, claim.run_id, attempt=0, kind=kind,
                                   namespace=claim.namespace, due_at=until)
        # [API-22]: updated_at is when the run parked; the wake time is the queue's due_at
        await transitions.set_status(conn, self.queries, claim.run_id, status, now)
        await wake_workers(conn, self.queries)
