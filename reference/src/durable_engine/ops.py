"""Run operations (issue 4): bulk cancel and rerun by filter ([API-16..18]), a run's attempt
history ([API-19]) and retention of ended runs, events and deliveries."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg

from .api import ApiError
from .engine import Engine, iso
from .validation import Invalid, parse_instant

if TYPE_CHECKING:
    from .api import Api

log = logging.getLogger("durable.ops")

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_age(text: str) -> float | None:
    """`30d`, `12h`, `90m`, `45s`, `500ms` -> seconds; `0` or `off` -> None (keep forever)."""
    value = text.strip().lower()
    if value in ("0", "off", "none", "never"):
        return None
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30d, 12h, 90m, 45s)")
    seconds = int(match.group(1)) * _UNIT_S[match.group(2)]
    return seconds or None


# ---- cursors ---------------------------------------------------------------------------------

def encode_cursor(at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime | None, str | None]:
    if not cursor:  # "" is the first page, like no cursor
        return None, None
    try:
        at, _, row_id = base64.urlsafe_b64decode(cursor).decode().partition("|")
        if "\x00" in row_id:  # Postgres text cannot hold it
            raise ValueError(row_id)
        return datetime.fromisoformat(at), row_id
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise ApiError(400, "INVALID_REQUEST", "cursor is not valid", "/cursor") from None


def _limit(body: dict[str, Any], default: int, most: int) -> int:
    value = body.get("limit", default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) \
            or not 1 <= value <= most:
        raise Invalid("/limit", f"must be an integer 1..{most}")
    return int(value)


def _filter(body: dict[str, Any]) -> dict[str, Any]:
    """The bulk filter of [API-16]; the schema has checked the shapes already."""
    if not any(k in body for k in ("functionId", "status", "createdFrom", "createdTo")):
        raise Invalid("", "name at least one of functionId, status, createdFrom, createdTo")
    bounds: dict[str, datetime | None] = {}
    for member in ("createdFrom", "createdTo"):
        bounds[member] = None
        if member in body:
            try:
                bounds[member] = parse_instant(body[member])
            except (Invalid, ValueError, TypeError):
                raise Invalid(f"/{member}", "must be an ISO instant like "
                                            "2026-01-31T12:00:00.000Z") from None
    cursor_at, cursor_id = decode_cursor(body.get("cursor"))
    return {"function_id": body.get("functionId"), "status": body.get("status"),
            "created_from": bounds["createdFrom"], "created_to": bounds["createdTo"],
            "cursor_at": cursor_at, "cursor_id": cursor_id}


async def _page(engine: Engine, conn: Any, workspace_id: str, body: dict[str, Any],
                limit: int, live_only: bool) -> tuple[list[dict[str, Any]], str | None]:
    cur = await conn.execute(engine.q("bulk_runs_page"), {
        "workspace_id": workspace_id, **_filter(body), "live_only": live_only,
        "limit": limit + 1})
    rows = await cur.fetchall()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"])
    return rows, next_cursor


# ---- endpoints -------------------------------------------------------------------------------

async def bulk_cancel(api: Api, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """[API-17]: cancel one page of matching non-terminal runs in one short transaction."""
    engine = api.engine
    limit = _limit(body, 100, 1000)
    async with engine.pool.connection() as conn, conn.transaction():
        rows, next_cursor = await _page(engine, conn, workspace_id, body, limit, True)
        run_ids = [r["id"] for r in rows]
        cancelled: list[str] = []
        if run_ids:
            await conn.execute(engine.q("bulk_lock_queue"), {"run_ids": run_ids})
            cur = await conn.execute(engine.q("bulk_cancel_runs"), {
                "run_ids": run_ids, "workspace_id": workspace_id, "now": engine.clock()})
            done = {r["id"] for r in await cur.fetchall()}
            cancelled = [i for i in run_ids if i in done]  # page order
            if cancelled:
                await conn.execute(engine.q("bulk_cancel_cleanup"), {"run_ids": cancelled})
    return {"cancelled": cancelled, "nextCursor": next_cursor}


async def bulk_rerun(api: Api, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """[API-18]: rerun one page of matching runs, each idempotent by (key, source run)."""
    engine = api.engine
    limit = _limit(body, 50, 100)
    async with engine.pool.connection() as conn:
        rows, next_cursor = await _page(engine, conn, workspace_id, body, limit, False)
    reruns = []
    for row in rows:
        answer = await api.runs_rerun(workspace_id, {
            "runId": row["id"], "idempotencyKey": f"bulk:{body['idempotencyKey']}:{row['id']}"})
        reruns.append({"runId": answer["runId"], "rerunOf": answer["rerunOf"],
                       "duplicate": answer["duplicate"]})
    return {"reruns": reruns, "nextCursor": next_cursor}


async def run_history(api: Api, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """[API-19]: every HTTP attempt of a run, oldest first."""
    engine = api.engine
    limit = _limit(body, 100, 1000)
    cursor_at, cursor_id = decode_cursor(body.get("cursor"))
    async with engine.pool.connection() as conn:
        cur = await conn.execute(engine.q("run_exists"),
                                 {"run_id": body["runId"], "workspace_id": workspace_id})
        if await cur.fetchone() is None:
            raise ApiError(404, "NOT_FOUND", "no such run", "/runId")
        cur = await conn.execute(engine.q("run_history"), {
            "run_id": body["runId"], "workspace_id": workspace_id, "cursor_at": cursor_at,
            "cursor_id": cursor_id, "limit": limit + 1})
        rows = await cur.fetchall()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["at"], rows[-1]["id"])
    return {"runId": body["runId"], "nextCursor": next_cursor, "attempts": [{
        "deliveryId": r["id"], "namespace": r["namespace"] or "main",
        "attempt": r["attempt"] or 0, "at": iso(r["at"]),
        "durationMs": round(max(r["duration_ms"], 0.0), 3), "httpStatus": r["status"],
        "op": r["op"], "error": r["error"], "code": r["code"]} for r in rows]}


# ---- retention -------------------------------------------------------------------------------

async def prune_once(engine: Engine, age_s: float, batch: int = 500) -> dict[str, int]:
    """Delete ended runs (with their steps, waits, deliveries), events, rerun keys and cron
    ticks older than age_s, one batch per statement and transaction: locks are held for one
    short batch only, and rows other transactions hold are skipped until the next round."""
    cutoff = engine.clock() - timedelta(seconds=age_s)
    totals = {"runs": 0, "deliveries": 0, "events": 0, "reruns": 0, "cronTicks": 0}
    params = {"cutoff": cutoff, "batch": batch}
    while True:
        async with engine.pool.connection() as conn:
            await conn.set_autocommit(True)  # each statement its own short transaction
            try:
                row = await (await conn.execute(engine.q("retention_runs"), params)).fetchone()
                assert row is not None
                runs = int(row["runs"])
                totals["runs"] += runs
                totals["deliveries"] += int(row["deliveries"])
                events = len(await (await conn.execute(engine.q("retention_events"),
                                                       params)).fetchall())
                totals["events"] += events
                reruns = len(await (await conn.execute(engine.q("retention_reruns"),
                                                       params)).fetchall())
                totals["reruns"] += reruns
                ticks = len(await (await conn.execute(engine.q("retention_cron_ticks"),
                                                      params)).fetchall())
                totals["cronTicks"] += ticks
            finally:
                await conn.set_autocommit(False)
        if max(runs, events, reruns, ticks) < batch:
            return totals
        await asyncio.sleep(0.05)  # let live work between batches


async def retention_forever(engine: Engine, age_s: float, interval_s: float = 300.0,
                            batch: int = 500) -> None:
    """The periodic task of every worker process: SKIP LOCKED lets several prune together.
    The first round waits a little, so a process that starts and stops at once never prunes."""
    await asyncio.sleep(min(interval_s, 10.0))
    while True:
        try:
            totals = await prune_once(engine, age_s, batch)
            if any(totals.values()):
                log.info("retention pruned %s", totals)
        except (psycopg.Error, OSError) as error:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # psycopg turned our cancel into this
                raise asyncio.CancelledError from error
            log.warning("retention round failed: %s", error)
        await asyncio.sleep(interval_s)
