"""Reruns ([API-11], [API-12]) and bulk cancel and rerun by filter ([API-16..18]), each with
its typed request and answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..engine import Engine
from ..store import browse, control
from ..store.browse import Cursor, RunFilter
from ..store.runs import create, new_run
from ..validation import Invalid, parse_instant
from .errors import ServiceError
from .runs import run_spans
from .views import decode_cursor, limit_of, next_json

Body = dict[str, Any]


class _Raced(Exception):
    pass


def _filter(body: Mapping[str, Any]) -> RunFilter:
    """The bulk filter of [API-16]; the schema has checked the shapes already."""
    if not any(k in body for k in ("functionId", "status", "createdFrom", "createdTo")):
        raise Invalid("", "name at least one of functionId, status, createdFrom, createdTo")
    bounds = []
    for member in ("createdFrom", "createdTo"):
        try:
            bounds.append(parse_instant(body[member]) if member in body else None)
        except (Invalid, ValueError, TypeError):
            raise Invalid(f"/{member}", "must be an ISO instant like "
                                        "2026-01-31T12:00:00.000Z") from None
    return RunFilter(body.get("functionId"), body.get("status"), bounds[0], bounds[1])


@dataclass(frozen=True, slots=True)
class RunsRerun:
    """POST /runs/rerun (spec/schemas/runs-rerun-request)."""

    run_id: str
    idempotency_key: str
    step_id: str | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> RunsRerun:
        return cls(body["runId"], body["idempotencyKey"], body.get("stepId"))

    def recorded(self) -> Body:
        """What the key is recorded with: the same key must come with the same request."""
        return {"runId": self.run_id, **({} if self.step_id is None else {"stepId": self.step_id})}


@dataclass(frozen=True, slots=True)
class Rerun:
    """spec/schemas/runs-rerun-answer."""

    run_id: str
    rerun_of: str
    from_step_id: str | None = None
    duplicate: bool = False

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Rerun:
        return cls(body["runId"], body["rerunOf"], body.get("fromStepId"),
                   bool(body.get("duplicate", False)))

    def to_json(self) -> Body:
        answer: Body = {"runId": self.run_id, "rerunOf": self.rerun_of}
        if self.from_step_id is not None:
            answer["fromStepId"] = self.from_step_id
        answer["duplicate"] = self.duplicate
        return answer


@dataclass(frozen=True, slots=True)
class RunsBulkCancel:
    """POST /runs/bulk-cancel (spec/schemas/runs-bulk-cancel-request)."""

    runs: RunFilter
    cursor: Cursor | None = None
    limit: int = 100

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> RunsBulkCancel:
        limit = limit_of(body, 100, 1000)
        return cls(_filter(body), decode_cursor(body.get("cursor")), limit)


@dataclass(frozen=True, slots=True)
class BulkCancelled:
    """spec/schemas/runs-bulk-cancel-answer: the runs this page cancelled, in page order."""

    cancelled: tuple[str, ...]
    next_cursor: Cursor | None

    def to_json(self) -> Body:
        return {"cancelled": list(self.cancelled), "nextCursor": next_json(self.next_cursor)}


@dataclass(frozen=True, slots=True)
class RunsBulkRerun:
    """POST /runs/bulk-rerun (spec/schemas/runs-bulk-rerun-request)."""

    runs: RunFilter
    idempotency_key: str
    cursor: Cursor | None = None
    limit: int = 50

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> RunsBulkRerun:
        limit = limit_of(body, 50, 100)
        return cls(_filter(body), body["idempotencyKey"], decode_cursor(body.get("cursor")),
                   limit)


@dataclass(frozen=True, slots=True)
class BulkReruns:
    """spec/schemas/runs-bulk-rerun-answer."""

    reruns: tuple[Rerun, ...]
    next_cursor: Cursor | None

    def to_json(self) -> Body:
        return {"reruns": [{"runId": r.run_id, "rerunOf": r.rerun_of, "duplicate": r.duplicate}
                           for r in self.reruns],
                "nextCursor": next_json(self.next_cursor)}


def _next(page: browse.Page) -> Cursor | None:
    return Cursor(page.rows[-1]["created_at"], page.rows[-1]["id"]) if page.more else None


class RerunOps:
    engine: Engine

    async def runs_rerun(self, workspace_id: str, request: RunsRerun) -> Rerun:
        """A new run of the same runtime id and event; from a step: with the memos committed
        before it ([API-11]). Idempotent by key ([API-12])."""
        try:
            return await self._rerun_once(workspace_id, request)
        except _Raced:  # a concurrent twin committed first: its answer is ours
            return await self._rerun_once(workspace_id, request)

    async def _rerun_once(self, workspace_id: str, request: RunsRerun) -> Rerun:
        q = self.engine.queries
        now = self.engine.clock()
        key = request.idempotency_key
        async with self.engine.pool.connection() as conn, conn.transaction():
            seen = await control.rerun_seen(conn, q, workspace_id, key)
            if seen is not None:
                if seen[0] != request.recorded():
                    raise ServiceError("CONFLICT", "this idempotencyKey was used for another "
                                       "request", "/idempotencyKey")
                return Rerun.from_json({**seen[1], "duplicate": True})
            source = await control.rerun_source(conn, q, workspace_id, request.run_id)
            if source is None:
                raise ServiceError("NOT_FOUND", "no such run", "/runId")
            before = None
            if request.step_id is not None:
                before = await control.step_position(conn, q, source["id"], request.step_id)
                if before is None:
                    raise ServiceError("INVALID_REQUEST", "the run has no memo for this step",
                                       "/stepId")
            # a rerun of a batch run gets the same batch
            run = new_run(workspace_id, source["function_id"], source["definition"],
                          source["event"], source["priority"], event_id=source["event_id"],
                          events=source["events"], rerun_of=source["id"])
            await create(conn, q, [run], now)
            if before is not None:
                await control.copy_steps(conn, q, run.id, source["id"], before, now)
            answer = Rerun(run.id, source["id"], request.step_id)
            stored = answer.to_json()
            del stored["duplicate"]
            if not await control.rerun_record(conn, q, workspace_id, key, request.recorded(),
                                              stored, now):
                raise _Raced  # a concurrent twin won: roll back, answer again
        return answer

    async def runs_bulk_cancel(self, workspace_id: str, request: RunsBulkCancel
                               ) -> BulkCancelled:
        """[API-17]: cancel one page of matching non-terminal runs in one short transaction."""
        q = self.engine.queries
        now = self.engine.clock()
        async with self.engine.pool.connection() as conn, conn.transaction():
            page = await browse.runs_matching(conn, q, workspace_id, request.runs,
                                              live_only=True, cursor=request.cursor,
                                              limit=request.limit)
            run_ids = [r["id"] for r in page.rows]
            ended = await control.cancel_runs(conn, q, run_ids, now, workspace_id=workspace_id)
        done = {r["id"] for r in ended}
        run_spans(self.engine, ended, now)
        return BulkCancelled(tuple(i for i in run_ids if i in done), _next(page))

    async def runs_bulk_rerun(self, workspace_id: str, request: RunsBulkRerun) -> BulkReruns:
        """[API-18]: rerun one page of matching runs, each idempotent by (key, source run)."""
        async with self.engine.pool.connection() as conn:
            page = await browse.runs_matching(conn, self.engine.queries, workspace_id,
                                              request.runs, live_only=False,
                                              cursor=request.cursor, limit=request.limit)
        reruns = []
        for row in page.rows:
            reruns.append(await self.runs_rerun(workspace_id, RunsRerun(
                row["id"], f"bulk:{request.idempotency_key}:{row['id']}")))
        return BulkReruns(tuple(reruns), _next(page))
