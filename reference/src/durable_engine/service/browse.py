"""Read models and session operations of the dashboard: runs by any filter a person types,
one workspace, and admin sessions (only the SHA-256 of a session id is stored)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from ..engine import Engine, iso
from .errors import ServiceError
from .views import app_view, decode_cursor, encode_cursor, run_summary

Body = dict[str, Any]
STATUSES = ("queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled",
            "skipped")


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class BrowseOps:
    engine: Engine

    async def runs_browse(self, workspace_id: str, *, status: str | None = None,
                          function_id: str | None = None, event_name: str | None = None,
                          created_from: datetime | None = None,
                          created_to: datetime | None = None, run_id: str | None = None,
                          cursor: str | None = None, limit: int = 50) -> Body:
        """{"runs": [run summary + eventName], "nextCursor"}; filters left None match all."""
        if status is not None and status not in STATUSES:
            raise ServiceError("INVALID_REQUEST", f"status must be one of {', '.join(STATUSES)}",
                               "/status")
        if not 1 <= limit <= 500:
            raise ServiceError("INVALID_REQUEST", "limit must be 1..500", "/limit")
        for name, value in (("functionId", function_id), ("eventName", event_name),
                            ("runId", run_id)):
            if value is not None and ("\x00" in value or len(value) > 500):
                raise ServiceError("INVALID_REQUEST", f"{name} is not valid", f"/{name}")
        cursor_at, cursor_id = decode_cursor(cursor)
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("runs_browse"), {
                "workspace_id": workspace_id, "function_id": function_id, "status": status,
                "event_name": event_name, "created_from": created_from,
                "created_to": created_to, "run_id": run_id, "cursor_at": cursor_at,
                "cursor_id": cursor_id, "limit": limit + 1})
            rows = await cur.fetchall()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"])
        return {"runs": [{**run_summary(r), "eventName": r["event_name"],
                          "startedAt": iso(r["started_at"]), "endedAt": iso(r["ended_at"])}
                         for r in rows],
                "nextCursor": next_cursor}

    async def workspace_get(self, workspace_id: str) -> Body:
        """One workspace (app view), or NOT_FOUND."""
        if "\x00" in workspace_id:
            raise ServiceError("NOT_FOUND", "no such workspace")
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("workspace_view"), {"id": workspace_id})
            row = await cur.fetchone()
        if row is None:
            raise ServiceError("NOT_FOUND", "no such workspace")
        return app_view(row)

    async def run_waits(self, workspace_id: str, run_id: str) -> list[Body]:
        """The run's waits for an event still parked: [{namespace, stepId, event, until,
        since}]."""
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("run_waits"),
                                     {"run_id": run_id, "workspace_id": workspace_id})
            rows = await cur.fetchall()
        return [{"namespace": r["namespace"] or "main", "stepId": r["step_id"],
                 "event": r["event_name"], "until": iso(r["until"]),
                 "since": iso(r["created_at"])} for r in rows]

    async def run_watch(self, run_id: str, watcher: str, seconds: float) -> None:
        """Publish the run's every recorded attempt (ChangeFeed kind "attempt") for the next
        `seconds`; renew to keep it (migration 0030)."""
        async with self.engine.pool.connection() as conn:
            await conn.execute(self.engine.q("watch_upsert"), {
                "run_id": run_id, "watcher": watcher,
                "until": self.engine.clock() + timedelta(seconds=seconds)})

    async def run_unwatch(self, run_id: str, watcher: str) -> None:
        async with self.engine.pool.connection() as conn:
            await conn.execute(self.engine.q("watch_delete"), {
                "run_id": run_id, "watcher": watcher, "now": self.engine.clock()})

    async def session_create(self, lifetime: timedelta) -> tuple[str, str]:
        """A new admin session: (session id for the cookie, its CSRF token)."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = self.engine.clock()
        async with self.engine.pool.connection() as conn:
            await conn.execute(self.engine.q("sessions_prune"), {"now": now})
            await conn.execute(self.engine.q("session_insert"), {
                "id_hash": session_hash(session_id), "csrf": csrf, "now": now,
                "expires_at": now + lifetime})
        return session_id, csrf

    async def session_get(self, session_id: str) -> str | None:
        """The CSRF token of a live session, or None (unknown or expired)."""
        if not session_id or len(session_id) > 200 or "\x00" in session_id:
            return None
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("session_touch"), {
                "id_hash": session_hash(session_id), "now": self.engine.clock()})
            row = await cur.fetchone()
        return None if row is None else str(row["csrf"])

    async def confirmation_create(self, visitor_key: str, action: str,
                                  lifetime: timedelta) -> str:
        """A single-use token that lets this visitor carry out this very action once, on any
        engine process, within `lifetime`."""
        token = secrets.token_urlsafe(18)
        now = self.engine.clock()
        async with self.engine.pool.connection() as conn:
            await conn.execute(self.engine.q("confirmation_insert"), {
                "token_hash": session_hash(token), "visitor_hash": session_hash(visitor_key),
                "action": action, "now": now, "expires_at": now + lifetime})
        return token

    async def confirmation_take(self, token: str, visitor_key: str, action: str) -> bool:
        """True once for a live token issued to this visitor for this action."""
        if not token or len(token) > 200 or "\x00" in token:
            return False
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("confirmation_take"), {
                "token_hash": session_hash(token), "now": self.engine.clock()})
            row = await cur.fetchone()
        return row is not None and bool(row["live"]) and row["action"] == action and \
            secrets.compare_digest(row["visitor_hash"], session_hash(visitor_key))

    async def login_failed(self, address: str) -> int:
        """Count a wrong token from `address`; the count so far (within the last hour)."""
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("login_failure_count"), {
                "address": address[:100], "now": self.engine.clock()})
            row = await cur.fetchone()
        return int(row["count"]) if row else 1

    async def login_succeeded(self, address: str) -> None:
        async with self.engine.pool.connection() as conn:
            await conn.execute(self.engine.q("login_failures_clear"), {
                "address": address[:100], "now": self.engine.clock()})

    async def session_end(self, session_id: str) -> None:
        async with self.engine.pool.connection() as conn:
            await conn.execute(self.engine.q("session_delete"),
                               {"id_hash": session_hash(session_id)})
