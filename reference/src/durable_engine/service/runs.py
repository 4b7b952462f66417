"""Run operations of the service: search ([API-8]), get ([API-9]), the dashboard's run detail
and cancel ([API-10]); each with its typed request and answer. Reruns and bulk operations
are in service/rerun.py, attempt history and failures in service/history.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..db import Conn
from ..engine import Engine, iso
from ..logs import run_changed
from ..store import browse, control
from ..store.browse import Cursor
from .errors import ServiceError
from .views import Attempt, RunSummary, StepTiming, StepView, decode_cursor, next_json

Body = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RunsSearch:
    """POST /runs/search (spec/schemas/runs-search-request)."""

    function_id: str | None = None
    status: str | None = None
    cursor: Cursor | None = None
    limit: int = 50

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> RunsSearch:
        return cls(body.get("functionId"), body.get("status"), decode_cursor(body.get("cursor")),
                   int(body.get("limit", 50)))


@dataclass(frozen=True, slots=True)
class RunsPage:
    """spec/schemas/runs-search-answer."""

    runs: tuple[RunSummary, ...]
    next_cursor: Cursor | None

    def to_json(self) -> Body:
        return {"runs": [r.to_json() for r in self.runs], "nextCursor": next_json(self.next_cursor)}


@dataclass(frozen=True, slots=True)
class RunId:
    """POST /runs/get and /runs/cancel (spec/schemas/run-id-request)."""

    run_id: str

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> RunId:
        return cls(body["runId"])


@dataclass(frozen=True, slots=True)
class Run:
    """spec/schemas/run: a run with its main memos. The handler's own memos and per-step
    timing stay in the database (RunDetail)."""

    summary: RunSummary
    event: Any
    events: list[Any] | None  # a batch run's events
    attempt: int
    wake_at: datetime | None
    output: Any
    error: Any
    skip_reason: str | None
    cancelled_by: Any
    traceparent: str | None
    parent: tuple[str, str | None] | None  # (run, step) awaiting this run
    steps: tuple[StepView, ...]
    failure_handler: str | None

    @classmethod
    def from_rows(cls, run: Mapping[str, Any], steps: list[dict[str, Any]]) -> Run:
        parent = None if run["parent_run_id"] is None else \
            (run["parent_run_id"], run["parent_step_id"])
        return cls(RunSummary.from_row(run), run["event"], run["events"], run["attempt"],
                   run["wake_at"], run["output"], run["error"], run["skip_reason"],
                   run["cancelled_by"], run["traceparent"], parent,
                   tuple(StepView.from_row(s) for s in steps if s["namespace"] == "main"),
                   run["failure_handler"])

    @property
    def status(self) -> str:
        return self.summary.status

    def to_json(self) -> Body:
        result = self.summary.to_json()
        result["event"] = self.event
        if self.events is not None:
            result["events"] = self.events
        result["attempt"] = self.attempt
        if self.wake_at is not None:
            result["wakeAt"] = iso(self.wake_at)
        if self.status == "completed":
            result["output"] = self.output
        if self.error is not None:
            result["error"] = self.error
        if self.skip_reason is not None:
            result["skipReason"] = self.skip_reason
        if self.cancelled_by is not None:  # [CANCEL-4]
            result["cancelledBy"] = self.cancelled_by
        if self.traceparent is not None:  # [TRACE-5]
            result["traceparent"] = self.traceparent
        if self.parent is not None:  # [INVOKE-10]
            result["parent"] = {"runId": self.parent[0], "stepId": self.parent[1]}
        result["steps"] = [s.to_json() for s in self.steps]
        if self.failure_handler is not None:
            result["failureHandler"] = {"status": self.failure_handler}
        return result


@dataclass(frozen=True, slots=True)
class RunDetail:
    """The dashboard's run: Run plus its own start and end, every step of every namespace
    with its times, and all its HTTP attempts."""

    run: Run
    started_at: datetime | None
    ended_at: datetime | None
    failure_output: Any
    timeline: tuple[StepTiming, ...]
    attempts: tuple[Attempt, ...]

    def to_json(self) -> Body:
        return {**self.run.to_json(), "startedAt": iso(self.started_at),
                "endedAt": iso(self.ended_at), "failureOutput": self.failure_output,
                "timeline": [s.to_json() for s in self.timeline],
                "attempts": [a.to_json() for a in self.attempts]}


@dataclass(frozen=True, slots=True)
class Cancelled:
    """spec/schemas/runs-cancel-answer: ok when the run is cancelled (now or before)."""

    ok: bool
    status: str

    def to_json(self) -> Body:
        return {"ok": self.ok, "status": self.status}


def run_spans(engine: Engine, rows: list[Any], now: datetime) -> None:
    """[TRACE-6]: the spans of runs a cancel ended (nothing when export is off)."""
    for row in rows:
        engine.spans.run_ended(row["traceparent"], run_id=row["id"],
                               function_id=row["function_id"], status="cancelled",
                               created=row["created_at"], end=now)


class RunOps:
    engine: Engine

    async def runs_search(self, workspace_id: str, request: RunsSearch) -> RunsPage:
        async with self.engine.pool.connection() as conn:
            page = await browse.runs_search(
                conn, self.engine.queries, workspace_id, function_id=request.function_id,
                status=request.status, cursor=request.cursor, limit=request.limit)
        last = page.rows[-1] if page.more else None
        return RunsPage(tuple(RunSummary.from_row(r) for r in page.rows),
                        None if last is None else Cursor(last["created_at"], last["id"]))

    async def _run_rows(self, conn: Conn, workspace_id: str, run_id: str
                        ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        run = await browse.run(conn, self.engine.queries, workspace_id, run_id)
        if run is None:
            raise ServiceError("NOT_FOUND", "no such run", "/runId")
        return run, await browse.steps(conn, self.engine.queries, run["id"])

    async def runs_get(self, workspace_id: str, request: RunId) -> Run:
        async with self.engine.pool.connection() as conn:
            run, steps = await self._run_rows(conn, workspace_id, request.run_id)
        return Run.from_rows(run, steps)

    async def run_detail(self, workspace_id: str, run_id: str) -> RunDetail:
        """The run, its timeline and every HTTP attempt, read on one connection."""
        attempts: list[Attempt] = []
        cursor: Cursor | None = None
        async with self.engine.pool.connection() as conn:
            run, steps = await self._run_rows(conn, workspace_id, run_id)
            while True:
                page = await browse.attempts(conn, self.engine.queries, workspace_id, run_id,
                                             cursor=cursor, limit=1000)
                attempts += [Attempt.from_row(r) for r in page.rows]
                if not page.more:
                    break
                cursor = Cursor(page.rows[-1]["at"], page.rows[-1]["id"])
        return RunDetail(Run.from_rows(run, steps), run["started_at"], run["ended_at"],
                         run["failure_output"], tuple(StepTiming.from_row(s) for s in steps),
                         tuple(attempts))

    async def runs_cancel(self, workspace_id: str, request: RunId) -> Cancelled:
        q = self.engine.queries
        now = self.engine.clock()
        async with self.engine.pool.connection() as conn, conn.transaction():
            ended = await control.cancel(conn, q, workspace_id, request.run_id, now)
            if ended is None:
                status = await control.status(conn, q, workspace_id, request.run_id)
                if status is None:
                    raise ServiceError("NOT_FOUND", "no such run", "/runId")
                return Cancelled(status == "cancelled", status)
        run_changed(request.run_id, "cancelled", workspace=workspace_id)
        run_spans(self.engine, [ended], now)
        return Cancelled(True, "cancelled")
