"""A run's HTTP attempts ([API-19]) and failures: search and retry ([API-13]), each with its
typed request and answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..engine import Engine, iso
from ..store import browse, control
from ..store.browse import Cursor
from ..store.runs import new_run, restart
from .errors import ServiceError
from .views import Attempt, decode_cursor, limit_of, next_json

Body = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RunsHistory:
    """POST /runs/history (spec/schemas/runs-history-request)."""

    run_id: str
    cursor: Cursor | None = None
    limit: int = 100

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> RunsHistory:
        limit = limit_of(body, 100, 1000)
        return cls(body["runId"], decode_cursor(body.get("cursor")), limit)


@dataclass(frozen=True, slots=True)
class History:
    """spec/schemas/runs-history-answer: a page of attempts, oldest first."""

    run_id: str
    attempts: tuple[Attempt, ...]
    next_cursor: Cursor | None

    def to_json(self) -> Body:
        return {"runId": self.run_id, "nextCursor": next_json(self.next_cursor),
                "attempts": [a.to_json() for a in self.attempts]}


@dataclass(frozen=True, slots=True)
class FailuresSearch:
    """POST /failures/search (spec/schemas/failures-search-request)."""

    limit: int = 50

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> FailuresSearch:
        return cls(int(body.get("limit", 50)))


@dataclass(frozen=True, slots=True)
class Failure:
    """spec/schemas/failure: a failed run and its last failed invocation."""

    delivery_id: str
    run_id: str
    function_id: str
    attempt: int
    at: datetime
    error: Any  # the run's error, or one made of the delivery's
    http_status: int | None
    detail: str | None

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> Failure:
        return cls(r["id"], r["run_id"], r["function_id"], r["attempt"], r["at"],
                   r["error"] or {"message": r["delivery_error"], "name": "DurableError"},
                   r["status"], r["delivery_error"])

    def to_json(self) -> Body:
        return {"deliveryId": self.delivery_id, "runId": self.run_id,
                "functionId": self.function_id, "attempt": self.attempt, "at": iso(self.at),
                "error": self.error, "httpStatus": self.http_status, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Failures:
    """spec/schemas/failures-search-answer."""

    failures: tuple[Failure, ...]

    def to_json(self) -> Body:
        return {"failures": [f.to_json() for f in self.failures]}


@dataclass(frozen=True, slots=True)
class FailuresRetry:
    """POST /failures/retry (spec/schemas/failures-retry-request)."""

    delivery_id: str

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> FailuresRetry:
        return cls(body["deliveryId"])


@dataclass(frozen=True, slots=True)
class Ok:
    """spec/schemas/ok-answer."""

    ok: bool

    def to_json(self) -> Body:
        return {"ok": self.ok}


class HistoryOps:
    engine: Engine

    async def runs_history(self, workspace_id: str, request: RunsHistory) -> History:
        """[API-19]: every HTTP attempt of a run, oldest first."""
        q = self.engine.queries
        async with self.engine.pool.connection() as conn:
            if not await browse.run_exists(conn, q, workspace_id, request.run_id):
                raise ServiceError("NOT_FOUND", "no such run", "/runId")
            page = await browse.attempts(conn, q, workspace_id, request.run_id,
                                         cursor=request.cursor, limit=request.limit)
        last = page.rows[-1] if page.more else None
        return History(request.run_id, tuple(Attempt.from_row(r) for r in page.rows),
                       None if last is None else Cursor(last["at"], last["id"]))

    async def failures_search(self, workspace_id: str, request: FailuresSearch) -> Failures:
        async with self.engine.pool.connection() as conn:
            rows = await browse.failures(conn, self.engine.queries, workspace_id, request.limit)
        return Failures(tuple(Failure.from_row(r) for r in rows))

    async def failures_retry(self, workspace_id: str, request: FailuresRetry) -> Ok:
        """Start the failed run of the delivery again, from its first step."""
        q = self.engine.queries
        now = self.engine.clock()
        async with self.engine.pool.connection() as conn, conn.transaction():
            row = await control.failed_delivery(conn, q, workspace_id, request.delivery_id)
            if row is None:
                raise ServiceError("NOT_FOUND", "no such delivery", "/deliveryId")
            if row["status"] != "failed":
                return Ok(False)
            await restart(conn, q, new_run(
                workspace_id, row["function_id"], row["definition"], row["event"],
                row["priority"], id=row["run_id"], event_id=row["event_id"]), now)
        return Ok(True)
