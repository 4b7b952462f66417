"""Read models and session operations of the dashboard: runs by any filter a person types,
one workspace, a run's parked waits and watches, and admin sessions (only the SHA-256 of a
session id or token is stored)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..engine import Engine, iso
from ..store import browse, sessions
from ..store.browse import Cursor, RunFilter, Signer
from .errors import ServiceError
from .views import RunSummary, app_view, decode_cursor, next_json

Body = dict[str, Any]
STATUSES = ("queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled",
            "skipped")


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RunsBrowse:
    """A page of runs by the filters of the dashboard's runs page; None matches all."""

    runs: RunFilter = RunFilter()
    event_name: str | None = None
    run_id: str | None = None  # exact or its leading part
    cursor: Cursor | None = None
    limit: int = 50

    @classmethod
    def of(cls, *, status: str | None = None, function_id: str | None = None,
           event_name: str | None = None, created_from: datetime | None = None,
           created_to: datetime | None = None, run_id: str | None = None,
           cursor: str | None = None, limit: int = 50) -> RunsBrowse:
        """The request of typed-in filters, checked (INVALID_REQUEST with the member)."""
        if status is not None and status not in STATUSES:
            raise ServiceError("INVALID_REQUEST",
                               f"status must be one of {', '.join(STATUSES)}", "/status")
        if not 1 <= limit <= 500:
            raise ServiceError("INVALID_REQUEST", "limit must be 1..500", "/limit")
        for name, value in (("functionId", function_id), ("eventName", event_name),
                            ("runId", run_id)):
            if value is not None and ("\x00" in value or len(value) > 500):
                raise ServiceError("INVALID_REQUEST", f"{name} is not valid", f"/{name}")
        return cls(RunFilter(function_id, status, created_from, created_to), event_name,
                   run_id, decode_cursor(cursor), limit)


@dataclass(frozen=True, slots=True)
class BrowsedRun:
    summary: RunSummary
    event_name: str | None
    started_at: datetime | None
    ended_at: datetime | None

    def to_json(self) -> Body:
        return {**self.summary.to_json(), "eventName": self.event_name,
                "startedAt": iso(self.started_at), "endedAt": iso(self.ended_at)}


@dataclass(frozen=True, slots=True)
class BrowsePage:
    runs: tuple[BrowsedRun, ...]
    next_cursor: Cursor | None

    def to_json(self) -> Body:
        return {"runs": [r.to_json() for r in self.runs],
                "nextCursor": next_json(self.next_cursor)}


@dataclass(frozen=True, slots=True)
class Wait:
    """A wait for an event still parked."""

    namespace: str
    step_id: str
    event: str
    until: datetime | None
    since: datetime

    def to_json(self) -> Body:
        return {"namespace": self.namespace, "stepId": self.step_id, "event": self.event,
                "until": iso(self.until), "since": iso(self.since)}


class BrowseOps:
    engine: Engine

    async def runs_browse(self, workspace_id: str, request: RunsBrowse) -> BrowsePage:
        """Newest first, each run with its event's name, start and end."""
        async with self.engine.pool.connection() as conn:
            page = await browse.runs_browse(
                conn, self.engine.queries, workspace_id, request.runs,
                event_name=request.event_name, run_id=request.run_id, cursor=request.cursor,
                limit=request.limit)
        last = page.rows[-1] if page.more else None
        return BrowsePage(
            tuple(BrowsedRun(RunSummary.from_row(r), r["event_name"], r["started_at"],
                             r["ended_at"]) for r in page.rows),
            None if last is None else Cursor(last["created_at"], last["id"]))

    async def workspace_get(self, workspace_id: str) -> Body:
        """One workspace (app view), or NOT_FOUND."""
        if "\x00" in workspace_id:
            raise ServiceError("NOT_FOUND", "no such workspace")
        async with self.engine.pool.connection() as conn:
            row = await browse.workspace(conn, self.engine.queries, workspace_id)
        if row is None:
            raise ServiceError("NOT_FOUND", "no such workspace")
        return app_view(row)

    async def workspace_signer(self, workspace_id: str) -> Signer | None:
        """The keys that verify the workspace's requests and its environment, or None."""
        async with self.engine.pool.connection() as conn:
            return await browse.signer(conn, self.engine.queries, workspace_id)

    async def run_waits(self, workspace_id: str, run_id: str) -> tuple[Wait, ...]:
        """The run's waits for an event still parked, oldest first."""
        async with self.engine.pool.connection() as conn:
            rows = await browse.waits(conn, self.engine.queries, workspace_id, run_id)
        return tuple(Wait(r["namespace"] or "main", r["step_id"], r["event_name"], r["until"],
                          r["created_at"]) for r in rows)

    async def run_watch(self, run_id: str, watcher: str, seconds: float) -> None:
        """Publish the run's every recorded attempt (ChangeFeed kind "attempt") for the next
        `seconds`; renew to keep it (migration 0030)."""
        async with self.engine.pool.connection() as conn:
            await sessions.watch(conn, self.engine.queries, run_id, watcher,
                                 self.engine.clock() + timedelta(seconds=seconds))

    async def run_unwatch(self, run_id: str, watcher: str) -> None:
        async with self.engine.pool.connection() as conn:
            await sessions.unwatch(conn, self.engine.queries, run_id, watcher,
                                   self.engine.clock())

    async def session_create(self, lifetime: timedelta) -> tuple[str, str]:
        """A new admin session: (session id for the cookie, its CSRF token)."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = self.engine.clock()
        async with self.engine.pool.connection() as conn:
            await sessions.session_insert(conn, self.engine.queries, session_hash(session_id),
                                          csrf, now, now + lifetime)
        return session_id, csrf

    async def session_get(self, session_id: str) -> str | None:
        """The CSRF token of a live session, or None (unknown or expired)."""
        if not session_id or len(session_id) > 200 or "\x00" in session_id:
            return None
        async with self.engine.pool.connection() as conn:
            return await sessions.session_touch(conn, self.engine.queries,
                                                session_hash(session_id), self.engine.clock())

    async def confirmation_create(self, visitor_key: str, action: str,
                                  lifetime: timedelta) -> str:
        """A single-use token that lets this visitor carry out this very action once, on any
        engine process, within `lifetime`."""
        token = secrets.token_urlsafe(18)
        now = self.engine.clock()
        async with self.engine.pool.connection() as conn:
            await sessions.confirmation_insert(conn, self.engine.queries, session_hash(token),
                                               session_hash(visitor_key), action, now,
                                               now + lifetime)
        return token

    async def confirmation_take(self, token: str, visitor_key: str, action: str) -> bool:
        """True once for a live token issued to this visitor for this action."""
        if not token or len(token) > 200 or "\x00" in token:
            return False
        async with self.engine.pool.connection() as conn:
            taken = await sessions.confirmation_take(conn, self.engine.queries,
                                                     session_hash(token), self.engine.clock())
        return taken is not None and taken[1] == action and \
            secrets.compare_digest(taken[0], session_hash(visitor_key))

    async def login_failed(self, address: str) -> int:
        """Count a wrong token from `address`; the count so far (within the last hour)."""
        async with self.engine.pool.connection() as conn:
            return await sessions.login_failed(conn, self.engine.queries, address[:100],
                                               self.engine.clock())

    async def login_succeeded(self, address: str) -> None:
        async with self.engine.pool.connection() as conn:
            await sessions.login_failures_clear(conn, self.engine.queries, address[:100],
                                                self.engine.clock())

    async def session_end(self, session_id: str) -> None:
        async with self.engine.pool.connection() as conn:
            await sessions.session_delete(conn, self.engine.queries, session_hash(session_id))
