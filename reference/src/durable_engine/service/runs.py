"""Run operations of the service: search, get, detail, cancel, rerun ([API-11], [API-12]),
bulk cancel and rerun by filter ([API-16..18]), attempt history ([API-19]) and failures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..engine import Engine, iso
from ..logs import run_changed
from ..store.runs import create, new_run, restart
from ..validation import Invalid, parse_instant
from .errors import ServiceError
from .views import (
    attempt_view,
    decode_cursor,
    encode_cursor,
    run_summary,
    step_timing,
    step_view,
)

Body = dict[str, Any]


class _Raced(Exception):
    pass


def _limit(body: Body, default: int, most: int) -> int:
    value = body.get("limit", default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) \
            or not 1 <= value <= most:
        raise Invalid("/limit", f"must be an integer 1..{most}")
    return int(value)


def _filter(body: Body) -> dict[str, Any]:
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


class RunOps:
    engine: Engine

    async def runs_search(self, workspace_id: str, body: Body) -> Body:
        limit = body.get("limit", 50)
        cursor_at, cursor_id = decode_cursor(body.get("cursor"))
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("runs_search"), {
                "workspace_id": workspace_id, "function_id": body.get("functionId"),
                "status": body.get("status"), "cursor_at": cursor_at, "cursor_id": cursor_id,
                "limit": limit + 1})
            rows = await cur.fetchall()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"])
        return {"runs": [run_summary(r) for r in rows], "nextCursor": next_cursor}

    async def _run_rows(self, workspace_id: str, run_id: str
                        ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("run_get"),
                                     {"run_id": run_id, "workspace_id": workspace_id})
            run = await cur.fetchone()
            if run is None:
                raise ServiceError("NOT_FOUND", "no such run", "/runId")
            cur = await conn.execute(self.engine.q("run_steps"), {"run_id": run["id"]})
            return run, await cur.fetchall()

    async def runs_get(self, workspace_id: str, body: Body) -> Body:
        run, steps = await self._run_rows(workspace_id, body["runId"])
        result = run_summary(run)
        result["event"] = run["event"]
        if run["events"] is not None:  # a batch run
            result["events"] = run["events"]
        result["attempt"] = run["attempt"]
        if run["wake_at"] is not None:
            result["wakeAt"] = iso(run["wake_at"])
        if run["status"] == "completed":
            result["output"] = run["output"]
        if run["error"] is not None:
            result["error"] = run["error"]
        if run["skip_reason"] is not None:
            result["skipReason"] = run["skip_reason"]
        if run["cancelled_by"] is not None:  # [CANCEL-4]
            result["cancelledBy"] = run["cancelled_by"]
        if run["traceparent"] is not None:  # [TRACE-5]
            result["traceparent"] = run["traceparent"]
        if run["parent_run_id"] is not None:  # [INVOKE-10]
            result["parent"] = {"runId": run["parent_run_id"], "stepId": run["parent_step_id"]}
        # The handler's own memos and per-step timing stay in the database (run_detail).
        result["steps"] = [step_view(s) for s in steps if s["namespace"] == "main"]
        if run["failure_handler"] is not None:
            result["failureHandler"] = {"status": run["failure_handler"]}
        return result

    async def run_detail(self, workspace_id: str, run_id: str) -> Body:
        """runs_get plus every step of every namespace with its times (queuedAt, startedAt,
        appMs, endedAt), the run's own start and end, and all its HTTP attempts."""
        result = await self.runs_get(workspace_id, {"runId": run_id})
        run, steps = await self._run_rows(workspace_id, run_id)
        result["startedAt"] = iso(run["started_at"])
        result["endedAt"] = iso(run["ended_at"])
        result["failureOutput"] = run["failure_output"]
        result["timeline"] = [step_timing(s) for s in steps]
        attempts: list[Body] = []
        cursor: str | None = None
        while True:
            page = await self.runs_history(workspace_id, {"runId": run_id, "limit": 1000,
                                                          "cursor": cursor})
            attempts += page["attempts"]
            cursor = page["nextCursor"]
            if cursor is None:
                break
        result["attempts"] = attempts
        return result

    async def runs_cancel(self, workspace_id: str, body: Body) -> Body:
        q = self.engine.q
        run_id = body["runId"]
        now = self.engine.clock()
        async with self.engine.pool.connection() as conn, conn.transaction():
            # The queue row first, as an answer's transition locks it (no deadlock with one)
            await conn.execute(q("bulk_lock_queue"), {"run_ids": [run_id]})
            cur = await conn.execute(q("run_cancel"), {
                "run_id": run_id, "workspace_id": workspace_id, "now": now})
            ended = await cur.fetchone()
            if ended is None:
                cur = await conn.execute(q("run_status"),
                                         {"run_id": run_id, "workspace_id": workspace_id})
                row = await cur.fetchone()
                if row is None:
                    raise ServiceError("NOT_FOUND", "no such run", "/runId")
                return {"ok": row["status"] == "cancelled", "status": row["status"]}
            await conn.execute(q("queue_delete"), {"run_id": run_id})
            await conn.execute(q("waits_delete_run"), {"run_id": run_id})
            # engines driving this run invoke it no more (an answer in flight is void anyway)
            await conn.execute(q("cancel_notify"), {"run_id": run_id})
        run_changed(run_id, "cancelled", workspace=workspace_id)
        self._run_spans([ended], now)
        return {"ok": True, "status": "cancelled"}

    def _run_spans(self, rows: list[Any], now: datetime) -> None:
        """[TRACE-6]: the spans of runs this call ended (nothing when export is off)."""
        for row in rows:
            self.engine.spans.run_ended(row["traceparent"], run_id=row["id"],
                                        function_id=row["function_id"], status="cancelled",
                                        created=row["created_at"], end=now)

    async def runs_rerun(self, workspace_id: str, body: Body) -> Body:
        """A new run of the same runtime id and event; from a step: with the memos committed
        before it ([API-11]). Idempotent by key ([API-12])."""
        try:
            return await self._rerun_once(workspace_id, body)
        except _Raced:  # a concurrent twin committed first: its answer is ours
            return await self._rerun_once(workspace_id, body)

    async def _rerun_once(self, workspace_id: str, body: Body) -> Body:
        q = self.engine.q
        now = self.engine.clock()
        request = {k: body[k] for k in ("runId", "stepId") if k in body}
        async with self.engine.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(q("rerun_lookup"), {"workspace_id": workspace_id,
                                                         "key": body["idempotencyKey"]})
            seen = await cur.fetchone()
            if seen is not None:
                if seen["request"] != request:
                    raise ServiceError("CONFLICT", "this idempotencyKey was used for another "
                                       "request", "/idempotencyKey")
                return {**seen["answer"], "duplicate": True}
            cur = await conn.execute(q("rerun_source"), {"run_id": body["runId"],
                                                         "workspace_id": workspace_id})
            source = await cur.fetchone()
            if source is None:
                raise ServiceError("NOT_FOUND", "no such run", "/runId")
            before = None
            if "stepId" in body:
                cur = await conn.execute(q("rerun_step_position"), {
                    "run_id": source["id"], "step_id": body["stepId"]})
                row = await cur.fetchone()
                if row is None:
                    raise ServiceError("INVALID_REQUEST", "the run has no memo for this step",
                                       "/stepId")
                before = row["position"]
            # a rerun of a batch run gets the same batch
            run = new_run(workspace_id, source["function_id"], source["definition"],
                          source["event"], source["priority"], event_id=source["event_id"],
                          events=source["events"], rerun_of=source["id"])
            await create(conn, self.engine.queries, [run], now)
            new_id = run.id
            if before is not None:
                await conn.execute(q("rerun_copy_steps"), {
                    "new_run_id": new_id, "run_id": source["id"], "before": before, "now": now})
            answer: Body = {"runId": new_id, "rerunOf": source["id"]}
            if "stepId" in body:
                answer["fromStepId"] = body["stepId"]
            cur = await conn.execute(q("rerun_record"), {
                "workspace_id": workspace_id, "key": body["idempotencyKey"],
                "request": Jsonb(request), "answer": Jsonb(answer), "now": now})
            if await cur.fetchone() is None:  # a concurrent twin won: roll back, answer again
                raise _Raced
        return {**answer, "duplicate": False}

    async def _page(self, conn: Any, workspace_id: str, body: Body, limit: int,
                    live_only: bool) -> tuple[list[dict[str, Any]], str | None]:
        cur = await conn.execute(self.engine.q("bulk_runs_page"), {
            "workspace_id": workspace_id, **_filter(body), "live_only": live_only,
            "limit": limit + 1})
        rows = await cur.fetchall()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"])
        return rows, next_cursor

    async def runs_bulk_cancel(self, workspace_id: str, body: Body) -> Body:
        """[API-17]: cancel one page of matching non-terminal runs in one short transaction."""
        q = self.engine.q
        limit = _limit(body, 100, 1000)
        now = self.engine.clock()
        ended: list[Any] = []
        async with self.engine.pool.connection() as conn, conn.transaction():
            rows, next_cursor = await self._page(conn, workspace_id, body, limit, True)
            run_ids = [r["id"] for r in rows]
            cancelled: list[str] = []
            if run_ids:
                await conn.execute(q("bulk_lock_queue"), {"run_ids": run_ids})
                cur = await conn.execute(q("bulk_cancel_runs"), {
                    "run_ids": run_ids, "workspace_id": workspace_id, "now": now})
                ended = await cur.fetchall()
                done = {r["id"] for r in ended}
                cancelled = [i for i in run_ids if i in done]  # page order
                if cancelled:
                    await conn.execute(q("bulk_cancel_cleanup"), {"run_ids": cancelled})
        self._run_spans(ended, now)
        return {"cancelled": cancelled, "nextCursor": next_cursor}

    async def runs_bulk_rerun(self, workspace_id: str, body: Body) -> Body:
        """[API-18]: rerun one page of matching runs, each idempotent by (key, source run)."""
        limit = _limit(body, 50, 100)
        async with self.engine.pool.connection() as conn:
            rows, next_cursor = await self._page(conn, workspace_id, body, limit, False)
        reruns = []
        for row in rows:
            answer = await self.runs_rerun(workspace_id, {
                "runId": row["id"],
                "idempotencyKey": f"bulk:{body['idempotencyKey']}:{row['id']}"})
            reruns.append({"runId": answer["runId"], "rerunOf": answer["rerunOf"],
                           "duplicate": answer["duplicate"]})
        return {"reruns": reruns, "nextCursor": next_cursor}

    async def runs_history(self, workspace_id: str, body: Body) -> Body:
        """[API-19]: every HTTP attempt of a run, oldest first."""
        limit = _limit(body, 100, 1000)
        cursor_at, cursor_id = decode_cursor(body.get("cursor"))
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("run_exists"),
                                     {"run_id": body["runId"], "workspace_id": workspace_id})
            if await cur.fetchone() is None:
                raise ServiceError("NOT_FOUND", "no such run", "/runId")
            cur = await conn.execute(self.engine.q("run_history"), {
                "run_id": body["runId"], "workspace_id": workspace_id, "cursor_at": cursor_at,
                "cursor_id": cursor_id, "limit": limit + 1})
            rows = await cur.fetchall()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1]["at"], rows[-1]["id"])
        return {"runId": body["runId"], "nextCursor": next_cursor,
                "attempts": [attempt_view(r) for r in rows]}

    async def failures_search(self, workspace_id: str, body: Body) -> Body:
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("failures_search"),
                                     {"workspace_id": workspace_id,
                                      "limit": body.get("limit", 50)})
            rows = await cur.fetchall()
        return {"failures": [{
            "deliveryId": r["id"], "runId": r["run_id"], "functionId": r["function_id"],
            "attempt": r["attempt"], "at": iso(r["at"]),
            "error": r["error"] or {"message": r["delivery_error"], "name": "DurableError"},
            "httpStatus": r["status"], "detail": r["delivery_error"]}
            for r in rows]}

    async def failures_retry(self, workspace_id: str, body: Body) -> Body:
        q = self.engine.q
        now = self.engine.clock()
        async with self.engine.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(q("failure_get"),
                                     {"id": body["deliveryId"], "workspace_id": workspace_id})
            row = await cur.fetchone()
            if row is None:
                raise ServiceError("NOT_FOUND", "no such delivery", "/deliveryId")
            if row["status"] != "failed":
                return {"ok": False}
            await restart(conn, self.engine.queries, new_run(
                workspace_id, row["function_id"], row["definition"], row["event"],
                row["priority"], id=row["run_id"], event_id=row["event_id"]), now)
        return {"ok": True}
