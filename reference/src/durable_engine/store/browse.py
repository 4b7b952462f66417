"""Reads of runs and their history for the service's searches: one page of runs by a filter,
one run with its steps, a run's HTTP attempts, failures, parked waits, one workspace. Pages
are keyset pages (newest first for runs, oldest first for attempts) over a Cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from ..db import Conn, Queries, Row


class Cursor(NamedTuple):
    """Where a page ends: the (time, id) of its last row."""

    at: datetime
    id: str


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Runs of a function (a bare id matches every version), a status and a creation window
    [created_from, created_to); None matches all."""

    function_id: str | None = None
    status: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def params(self) -> dict[str, Any]:
        return {"function_id": self.function_id, "status": self.status,
                "created_from": self.created_from, "created_to": self.created_to}


class Page(NamedTuple):
    """Up to `limit` rows and whether more follow."""

    rows: list[Row]
    more: bool


def _cursor(cursor: Cursor | None) -> dict[str, Any]:
    return {"cursor_at": None if cursor is None else cursor.at,
            "cursor_id": None if cursor is None else cursor.id}


async def _page(conn: Conn, sql: str, params: dict[str, Any], limit: int) -> Page:
    cur = await conn.execute(sql, {**params, "limit": limit + 1})
    rows = await cur.fetchall()
    return Page(rows[:limit], len(rows) > limit)


async def runs_search(conn: Conn, queries: Queries, workspace_id: str, *,
                      function_id: str | None, status: str | None, cursor: Cursor | None,
                      limit: int) -> Page:
    """A page of the workspace's runs, newest first ([API-8])."""
    return await _page(conn, queries["runs_search"], {
        "workspace_id": workspace_id, "function_id": function_id, "status": status,
        **_cursor(cursor)}, limit)


async def runs_browse(conn: Conn, queries: Queries, workspace_id: str, runs: RunFilter, *,
                      event_name: str | None, run_id: str | None, cursor: Cursor | None,
                      limit: int) -> Page:
    """A page of runs by any filter a person types: a trigger event name, a run id (exact or
    its leading part) too; each row with its event's name."""
    return await _page(conn, queries["runs_browse"], {
        "workspace_id": workspace_id, **runs.params(), "event_name": event_name,
        "run_id": run_id, **_cursor(cursor)}, limit)


async def runs_matching(conn: Conn, queries: Queries, workspace_id: str, runs: RunFilter, *,
                        live_only: bool, cursor: Cursor | None, limit: int) -> Page:
    """A page of (id, created_at) of the runs a bulk filter matches ([API-16])."""
    return await _page(conn, queries["bulk_runs_page"], {
        "workspace_id": workspace_id, **runs.params(), "live_only": live_only,
        **_cursor(cursor)}, limit)


async def run(conn: Conn, queries: Queries, workspace_id: str, run_id: str) -> Row | None:
    """The run with its attempt and, sleeping or waiting, when it wakes."""
    cur = await conn.execute(queries["run_get"],
                             {"run_id": run_id, "workspace_id": workspace_id})
    row: Row | None = await cur.fetchone()
    return row


async def steps(conn: Conn, queries: Queries, run_id: str) -> list[Row]:
    """Every step of the run, every namespace, with its times."""
    cur = await conn.execute(queries["run_steps"], {"run_id": run_id})
    rows: list[Row] = await cur.fetchall()
    return rows


async def run_exists(conn: Conn, queries: Queries, workspace_id: str, run_id: str) -> bool:
    cur = await conn.execute(queries["run_exists"],
                             {"run_id": run_id, "workspace_id": workspace_id})
    return await cur.fetchone() is not None


async def attempts(conn: Conn, queries: Queries, workspace_id: str, run_id: str, *,
                   cursor: Cursor | None, limit: int) -> Page:
    """A page of the run's HTTP attempts, oldest first ([API-19])."""
    return await _page(conn, queries["run_history"], {
        "run_id": run_id, "workspace_id": workspace_id, **_cursor(cursor)}, limit)


async def failures(conn: Conn, queries: Queries, workspace_id: str, limit: int) -> list[Row]:
    """Failed runs, each with its last failed invocation."""
    cur = await conn.execute(queries["failures_search"],
                             {"workspace_id": workspace_id, "limit": limit})
    rows: list[Row] = await cur.fetchall()
    return rows


async def waits(conn: Conn, queries: Queries, workspace_id: str, run_id: str) -> list[Row]:
    """The run's waits for an event still parked, oldest first."""
    cur = await conn.execute(queries["run_waits"],
                             {"run_id": run_id, "workspace_id": workspace_id})
    rows: list[Row] = await cur.fetchall()
    return rows


class Signer(NamedTuple):
    """What verifies a workspace's signed requests, and the environment answers name."""

    keys: list[str]
    environment: str


async def signer(conn: Conn, queries: Queries, workspace_id: str) -> Signer | None:
    """The workspace's signing keys and environment, or None when there is none."""
    cur = await conn.execute(queries["workspace_get"], {"id": workspace_id})
    row = await cur.fetchone()
    return None if row is None else Signer(list(row["keys"]), row["environment"])


async def workspace(conn: Conn, queries: Queries, workspace_id: str) -> Row | None:
    """One workspace with its key count (no key)."""
    cur = await conn.execute(queries["workspace_view"], {"id": workspace_id})
    row: Row | None = await cur.fetchone()
    return row
