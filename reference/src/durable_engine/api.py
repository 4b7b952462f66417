"""HTTP surface: the engine API (signed by apps), the admin API and the OpenAPI document."""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import logging
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from aiohttp import web
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from . import signing
from .engine import Claim, Engine, flow_buckets, iso, to_ms
from .logs import run_changed
from .validation import (
    Invalid,
    TooLarge,
    reject_nul,
    spec_dir,
    validate_request,
    validate_schema,
)

log = logging.getLogger("durable.api")

MAX_BODY = 1_048_576
POOL_KEY = web.AppKey("pool", AsyncConnectionPool)
RAW_BODY: Any = web.RequestKey("raw_body", bytes) if hasattr(web, "RequestKey") else "raw_body"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SCHEMA_NAMES = {
    "/fn/sync": "sync-request", "/e": "event-input", "/e/bulk": "bulk-request",
    "/runs/search": "runs-search-request", "/runs/get": "run-id-request",
    "/runs/cancel": "run-id-request", "/runs/rerun": "runs-rerun-request",
    "/failures/search": "failures-search-request",
    "/failures/retry": "failures-retry-request", "/versions/status": "versions-status-request",
    "/runs/bulk-cancel": "runs-bulk-cancel-request", "/runs/bulk-rerun": "runs-bulk-rerun-request",
    "/runs/history": "runs-history-request", "/functions/list": "functions-list-request",
}


class _Raced(Exception):
    pass


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.path = path


def error_response(status: int, code: str, message: str, path: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if path is not None:
        error["path"] = path
    return web.json_response({"error": error}, status=status, headers=headers)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        try:
            return await handler(request)
        except psycopg.OperationalError:
            # Pooled connections die with a database restart: drop them and try once more
            # (a failed transaction was rolled back, so the retry is safe).
            await request.app[POOL_KEY].check()
            return await handler(request)
    except ApiError as error:
        return error_response(error.status, error.code, error.message, error.path)
    except TooLarge as error:
        return error_response(413, "PAYLOAD_TOO_LARGE", error.message, error.path)
    except Invalid as error:
        return error_response(400, "INVALID_REQUEST", error.message, error.path)
    except web.HTTPMethodNotAllowed as error:
        return error_response(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here",
                              headers={"Allow": ", ".join(sorted(error.allowed_methods))})
    except web.HTTPNotFound:
        return error_response(404, "NOT_FOUND", f"no such endpoint: {request.path}")
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "PAYLOAD_TOO_LARGE", f"request body exceeds {MAX_BODY} bytes")
    except web.HTTPException as error:
        return error_response(error.status, "HTTP_ERROR", error.reason)
    except Exception:  # noqa: BLE001 - a JSON error body, never a stack trace
        # Bad input never lands here (it is a 4xx above); this is the database being away
        # or a bug: INTERNAL per the registry, which clients retry with backoff.
        log.exception("unexpected error on %s", request.path)
        return error_response(500, "INTERNAL", "the engine could not handle this request; retry")


async def read_body(request: web.Request) -> bytes:
    if RAW_BODY in request:  # a retried request reads the body it already read
        return bytes(request[RAW_BODY])
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", f"request body exceeds {MAX_BODY} bytes")
    body = await request.content.read(MAX_BODY + 1)
    while len(body) <= MAX_BODY:
        chunk = await request.content.read(MAX_BODY + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if len(body) > MAX_BODY:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", f"request body exceeds {MAX_BODY} bytes")
    request[RAW_BODY] = body
    return body


def parse_json(body: bytes) -> Any:
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "INVALID_JSON", "request body is not valid JSON") from None
    reject_nul(value)
    return value


class Api:
    def __init__(self, engine: Engine, *, dev: bool, admin_token: str | None) -> None:
        self.engine = engine
        self.dev = dev
        self.admin_token = admin_token

    def app(self) -> web.Application:
        app = web.Application(middlewares=[errors_middleware], client_max_size=MAX_BODY + 1)
        app[POOL_KEY] = self.engine.pool
        for path, handler in (
            ("/fn/sync", self.sync), ("/e", self.send), ("/e/bulk", self.send_bulk),
            ("/runs/search", self.runs_search), ("/runs/get", self.runs_get),
            ("/runs/cancel", self.runs_cancel), ("/runs/rerun", self.runs_rerun),
            ("/failures/search", self.failures_search),
            ("/failures/retry", self.failures_retry), ("/versions/status", self.versions_status),
            ("/functions/list", self.functions_list),
            *self._ops_routes(),
        ):
            app.router.add_post(path, self._signed(path, handler))
        app.router.add_post("/api/apps", self.apps_create)
        app.router.add_get("/api/apps", self.apps_list)
        app.router.add_patch("/api/apps/{id}", self.apps_update)
        app.router.add_delete("/api/apps/{id}", self.apps_delete)
        app.router.add_post("/api/apps/{id}/rotate-key", self.apps_rotate)
        app.router.add_post("/api/apps/{id}/retire-key", self.apps_retire)
        app.router.add_get("/openapi.yaml", self.openapi)
        app.router.add_get("/schemas/{name}", self.schema)
        app.router.add_get("/health", self.health)
        return app

    def _ops_routes(self) -> list[tuple[str, Callable[[str, dict[str, Any]], Awaitable[Any]]]]:
        from . import ops  # bulk run control, history (issue 4); imports this module

        return [("/runs/bulk-cancel", lambda w, b: ops.bulk_cancel(self, w, b)),
                ("/runs/bulk-rerun", lambda w, b: ops.bulk_rerun(self, w, b)),
                ("/runs/history", lambda w, b: ops.run_history(self, w, b))]

    # ---- engine API ------------------------------------------------------------------------

    def _signed(self, path: str, handler: Callable[[str, dict[str, Any]], Awaitable[Any]]
                ) -> Handler:
        async def endpoint(request: web.Request) -> web.Response:
            body = await read_body(request)
            app_id = request.headers.get("X-Durable-App")
            if not app_id:
                raise ApiError(401, "INVALID_SIGNATURE", "missing X-Durable-App")
            async with self.engine.pool.connection() as conn:
                cur = await conn.execute(self.engine.q("workspace_get"), {"id": app_id})
                workspace = await cur.fetchone()
            # Same answer for an unknown app and a bad signature: ids are not secrets to probe.
            reason = "unknown app or invalid signature"
            if workspace is not None:
                problem = signing.verify_api_request(workspace["keys"], request.headers, body,
                                                     to_ms(self.engine.clock()))
                if problem is None:
                    reason = ""
                elif "window" in problem or "Timestamp" in problem:
                    reason = problem
            if reason:
                raise ApiError(401, "INVALID_SIGNATURE", reason)
            value = parse_json(body)
            # Hand checks first for their precise paths, then the spec's schema as the judge.
            payload = validate_request(path, value)
            validate_schema(SCHEMA_NAMES[path], value)
            return web.json_response(await handler(app_id, payload),
                                     dumps=lambda v: json.dumps(v, separators=(",", ":")))
        return endpoint

    async def sync(self, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
        now = self.engine.clock()
        async with self.engine.pool.connection() as conn, conn.transaction():
            live, deactivated = await store_functions(self.engine, conn, workspace_id,
                                                      body["functions"], now)
            await conn.execute(self.engine.q("workspace_set_sdk"), {
                "id": workspace_id, "sdk_version": body.get("sdkVersion"),
                "capabilities": Jsonb(body["capabilities"]) if "capabilities" in body else None,
                "max_request_bytes": body.get("maxRequestBytes"), "now": now})
        if "capabilities" in body or "maxRequestBytes" in body:
            self.engine.forget_manifest(workspace_id)
        return {"ok": True, "functions": live, "deactivated": deactivated}

    async def send(self, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return (await self._ingest(workspace_id, [body]))[0]

    async def send_bulk(self, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"events": await self._ingest(workspace_id, body["events"])}

    async def _ingest(self, workspace_id: str, events: list[dict[str, Any]]
                      ) -> list[dict[str, Any]]:
        now = self.engine.clock()
        # New runs this process can invoke at once are leased in the same transaction and
        # invoked right after the commit (no wake-up, no claim round trip).
        slots = self.engine.handoff_slots(len(events))
        committed: list[Claim] = []
        try:
            for attempt in range(3):
                handoff: list[Claim] = []
                try:
                    async with self.engine.pool.connection() as conn, conn.transaction():
                        receipts = await self.engine.ingest(conn, workspace_id, events, now,
                                                            handoff, slots)
                    committed = handoff
                    for receipt in receipts:
                        for run_id in [] if receipt.get("duplicate") else receipt["runIds"]:
                            run_changed(run_id, "created", workspace=workspace_id,
                                        trigger=receipt.get("name"), eventId=receipt.get("id"))
                    return receipts
                except psycopg.errors.UniqueViolation:
                    if attempt == 2:  # two senders raced on one event id: the retry sees it
                        raise
            raise AssertionError("unreachable")
        finally:
            await self.engine.adopt(committed, slots)

    async def runs_search(self, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
        limit = body.get("limit", 50)
        cursor_at, cursor_id = None, None
        if body.get("cursor"):  # "" is the first page, like no cursor
            try:
                at, _, cursor_id = base64.urlsafe_b64decode(body["cursor"]).decode().partition(
                    "|")
                cursor_at = datetime.fromisoformat(at)
                if "\x00" in cursor_id:  # Postgres text cannot hold it
                    raise ValueError(cursor_id)
            except (ValueError, UnicodeDecodeError, OverflowError):
                raise ApiError(400, "INVALID_REQUEST", "cursor is not valid", "/cursor") from None
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("runs_search"), {
                "workspace_id": workspace_id, "function_id": body.get("functionId"),
                "status": body.get("status"), "cursor_at": cursor_at, "cursor_id": cursor_id,
                "limit": limit + 1})
            rows = await cur.fetchall()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = base64.urlsafe_b64encode(
                f"{last['created_at'].isoformat()}|{last['id']}".encode()).decode()
        return {"runs": [run_summary(r) for r in rows], "nextCursor": next_cursor}

    async def runs_get(self, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("run_get"),
                                     {"run_id": body["runId"], "workspace_id": workspace_id})
            run = await cur.fetchone()
            if run is None:
                raise ApiError(404, "NOT_FOUND", "no such run", "/runId")
            cur = await conn.execute(self.engine.q("run_steps"), {"run_id": run["id"]})
            steps = await cur.fetchall()
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
        # The handler's own memos and per-step timing stay in the database (dashboard).
        result["steps"] = [step_view(s) for s in steps if s["namespace"] == "main"]
        if run["failure_handler"] is not None:
            result["failureHandler"] = {"status": run["failure_handler"]}
        return result

    async def runs_cancel(self, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.engine.pool.connection() as conn, conn.transaction():
            # The queue row first, as an answer's transition locks it (no deadlock with one)
            await conn.execute(self.engine.q("bulk_lock_queue"), {"run_ids": [body["runId"]]})
            cur = await conn.execute(self.engine.q("run_cancel"), {
                "run_id": body["runId"], "workspace_id": workspace_id,
                "now": self.engine.clock()})
            if await cur.fetchone() is None:
                cur = await conn.execute(self.engine.q("run_status"),
                                         {"run_id": body["runId"], "workspace_id": workspace_id})
                row = await cur.fetchone()
                if row is None:
                    raise ApiError(404, "NOT_FOUND", "no such run", "/runId")
                return {"ok": row["status"] == "cancelled", "status": row["status"]}
            await conn.execute(self.engine.q("queue_delete"), {"run_id": body["runId"]})
            await conn.execute(self.engine.q("waits_delete_run"), {"run_id": body["runId"]})
            # engines driving this run invoke it no more (an answer in flight is void anyway)
            await conn.execute(self.engine.q("cancel_notify"), {"run_id": body["runId"]})
        run_changed(body["runId"], "cancelled", workspace=workspace_id)
        return {"ok": True, "status": "cancelled"}

    async def runs_rerun(self, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """A new run of the same runtime id and event; from a step: with the memos committed
        before it ([API-11]). Idempotent by key ([API-12])."""
        try:
            return await self._rerun_once(workspace_id, body)
        except _Raced:  # a concurrent twin committed first: its answer is ours
            return await self._rerun_once(workspace_id, body)

    async def _rerun_once(self, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
        q = self.engine.q
        now = self.engine.clock()
        request = {k: body[k] for k in ("runId", "stepId") if k in body}
        async with self.engine.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(q("rerun_lookup"), {"workspace_id": workspace_id,
                                                         "key": body["idempotencyKey"]})
            seen = await cur.fetchone()
            if seen is not None:
                if seen["request"] != request:
                    raise ApiError(409, "CONFLICT", "this idempotencyKey was used for another "
                                   "request", "/idempotencyKey")
                return {**seen["answer"], "duplicate": True}
            cur = await conn.execute(q("rerun_source"), {"run_id": body["runId"],
                                                         "workspace_id": workspace_id})
            source = await cur.fetchone()
            if source is None:
                raise ApiError(404, "NOT_FOUND", "no such run", "/runId")
            before = None
            if "stepId" in body:
                cur = await conn.execute(q("rerun_step_position"), {
                    "run_id": source["id"], "step_id": body["stepId"]})
                row = await cur.fetchone()
                if row is None:
                    raise ApiError(400, "INVALID_REQUEST", "the run has no memo for this step",
                                   "/stepId")
                before = row["position"]
            new_id = str(uuid.uuid4())
            await conn.execute(q("rerun_insert_run"), {
                "id": new_id, "workspace_id": workspace_id, "function_id": source["function_id"],
                "event_id": source["event_id"], "event": Jsonb(source["event"]), "now": now,
                "rerun_of": source["id"]})
            if before is not None:
                await conn.execute(q("rerun_copy_steps"), {
                    "new_run_id": new_id, "run_id": source["id"], "before": before, "now": now})
            keys, limits = flow_buckets(workspace_id, source["definition"], source["event"])
            await conn.execute(q("queue_insert"), {
                "run_id": new_id, "workspace_id": workspace_id, "priority": source["priority"],
                "now": now, "flow_keys": keys, "flow_limits": limits})
            answer: dict[str, Any] = {"runId": new_id, "rerunOf": source["id"]}
            if "stepId" in body:
                answer["fromStepId"] = body["stepId"]
            cur = await conn.execute(q("rerun_record"), {
                "workspace_id": workspace_id, "key": body["idempotencyKey"],
                "request": Jsonb(request), "answer": Jsonb(answer), "now": now})
            if await cur.fetchone() is None:  # a concurrent twin won: roll back, answer again
                raise _Raced
            await conn.execute(q("notify_queue"))
        return {**answer, "duplicate": False}

    async def failures_search(self, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
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

    async def failures_retry(self, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
        now = self.engine.clock()
        async with self.engine.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(self.engine.q("failure_get"),
                                     {"id": body["deliveryId"], "workspace_id": workspace_id})
            row = await cur.fetchone()
            if row is None:
                raise ApiError(404, "NOT_FOUND", "no such delivery", "/deliveryId")
            if row["status"] != "failed":
                return {"ok": False}
            await conn.execute(self.engine.q("run_requeue"), {"run_id": row["run_id"],
                                                              "now": now})
            keys, limits = flow_buckets(workspace_id, row["definition"], row["event"])
            await conn.execute(self.engine.q("queue_requeue"), {
                "run_id": row["run_id"], "workspace_id": workspace_id,
                "priority": row["priority"] or 0, "now": now, "flow_keys": keys,
                "flow_limits": limits})
            await conn.execute(self.engine.q("notify_queue"))
        return {"ok": True}

    async def versions_status(self, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
        function_id = body["functionId"].split("@", 1)[0]
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("versions_status"),
                                     {"workspace_id": workspace_id, "function_id": function_id})
            rows = await cur.fetchall()
            if not rows:
                cur = await conn.execute(self.engine.q("function_known"), {
                    "workspace_id": workspace_id, "function_id": function_id})
                if await cur.fetchone() is None:
                    raise ApiError(404, "UNKNOWN_FUNCTION", f"no function {function_id!r}",
                                   "/functionId")
        return {"functionId": function_id, "versions": [{
            "version": r["version"], "runtimeId": r["runtime_id"],
            "active": r["enabled"] and not r["removed"],  # [API-14]: live and enabled
            "runs": r["runs"]} for r in rows]}

    async def functions_list(self, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """[API-21]: every live runtime id (and retired ones with runs still going)."""
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("functions_list"),
                                     {"workspace_id": workspace_id})
            rows = await cur.fetchall()
        return {"functions": [{
            "functionId": r["function_id"], "runtimeId": r["runtime_id"],
            "version": r["version"], "trigger": r["trigger"] or {},
            "active": r["enabled"] and not r["removed"], "runs": r["runs"]} for r in rows]}

    # ---- admin API -------------------------------------------------------------------------

    def _admin(self, request: web.Request) -> None:
        if self.admin_token:
            given = request.headers.get("Authorization", "")
            expected = f"Bearer {self.admin_token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise ApiError(401, "UNAUTHORIZED", "admin token required (Authorization: "
                                                    "Bearer <DURABLE_ADMIN_TOKEN>)")
            return
        if not self.dev:
            raise ApiError(403, "FORBIDDEN",
                           "the admin API is disabled: set DURABLE_ADMIN_TOKEN")
        try:
            loopback = ipaddress.ip_address(request.remote or "").is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ApiError(403, "FORBIDDEN", "without an admin token only loopback clients "
                                             "may use the admin API")

    async def apps_create(self, request: web.Request) -> web.Response:
        self._admin(request)
        value = parse_json(await read_body(request))
        body = validate_request("/api/apps", value)
        validate_schema("apps-create-request", value)
        environment = body.get("environment", "dev")
        key = new_key()
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("workspace_insert"), {
                "id": f"app_{uuid.uuid4().hex[:20]}", "name": body["name"],
                "environment": environment, "app_url": body["appUrl"], "key": key,
                "now": self.engine.clock()})
            row = await cur.fetchone()
        if row is None:
            raise ApiError(409, "CONFLICT",
                           f"app {body['name']!r} already exists in {environment!r}", "/name")
        return web.json_response({**app_view(row), "key": key})

    async def apps_list(self, request: web.Request) -> web.Response:
        self._admin(request)
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("workspace_list"))
            rows = await cur.fetchall()
        return web.json_response({"apps": [app_view(r) for r in rows]})

    async def apps_rotate(self, request: web.Request) -> web.Response:
        self._admin(request)
        key = new_key()
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("workspace_rotate"),
                                     {"id": app_id_of(request), "key": key})
            row = await cur.fetchone()
        if row is None:
            await self._app_exists(app_id_of(request))
            raise ApiError(409, "CONFLICT", "two keys are already active: retire one first")
        return web.json_response({"id": row["id"], "key": key, "activeKeys": row["key_count"]})

    async def apps_retire(self, request: web.Request) -> web.Response:
        self._admin(request)
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("workspace_retire"),
                                     {"id": app_id_of(request)})
            row = await cur.fetchone()
        if row is None:
            await self._app_exists(app_id_of(request))
            raise ApiError(409, "CONFLICT", "only one key is active: nothing to retire")
        return web.json_response({"id": row["id"], "activeKeys": row["key_count"]})

    async def apps_update(self, request: web.Request) -> web.Response:
        """[ADMIN-4]: rename an app or change its URL; keys and environment stay."""
        self._admin(request)
        value = parse_json(await read_body(request))
        body = validate_request("/api/apps/{id}", value)
        validate_schema("apps-update-request", value)
        try:
            async with self.engine.pool.connection() as conn:
                cur = await conn.execute(self.engine.q("workspace_update"), {
                    "id": app_id_of(request), "name": body.get("name"),
                    "app_url": body.get("appUrl")})
                row = await cur.fetchone()
        except psycopg.errors.UniqueViolation:
            raise ApiError(409, "CONFLICT", f"an app named {body.get('name')!r} already exists "
                           "in this environment", "/name") from None
        if row is None:
            raise ApiError(404, "NOT_FOUND", "no such app")
        return web.json_response(app_view(row))

    async def apps_delete(self, request: web.Request) -> web.Response:
        """[ADMIN-5]: the app goes with its functions, events, runs and history."""
        self._admin(request)
        app_id = app_id_of(request)
        async with self.engine.pool.connection() as conn, conn.transaction():
            await conn.execute(self.engine.q("workspace_delete_side"), {"id": app_id})
            cur = await conn.execute(self.engine.q("workspace_delete"), {"id": app_id})
            row = await cur.fetchone()
        if row is None or not row["deleted"]:
            raise ApiError(404, "NOT_FOUND", "no such app")
        log.info("app %s deleted with %d runs", app_id, row["runs"])
        return web.json_response({"id": app_id, "deleted": True, "runsDeleted": row["runs"]})

    async def _app_exists(self, app_id: str) -> None:
        async with self.engine.pool.connection() as conn:
            cur = await conn.execute(self.engine.q("workspace_get"), {"id": app_id})
            if await cur.fetchone() is None:
                raise ApiError(404, "NOT_FOUND", "no such app")

    # ---- documents -------------------------------------------------------------------------

    async def openapi(self, request: web.Request) -> web.Response:
        base = spec_dir()
        path = base / "openapi.yaml" if base else None
        if path is None or not path.is_file():
            path = Path(__file__).with_name("openapi.yaml")
        return web.Response(body=path.read_bytes(), content_type="application/yaml")

    async def schema(self, request: web.Request) -> web.Response:
        """The spec's schemas beside /openapi.yaml, so its relative $refs resolve."""
        base = spec_dir()
        name = request.match_info["name"]
        if base is None or not re.fullmatch(r"[a-z0-9-]+\.schema\.json", name):
            raise ApiError(404, "NOT_FOUND", f"no such schema: {name}")
        path = base / "schemas" / name
        if not path.is_file():
            raise ApiError(404, "NOT_FOUND", f"no such schema: {name}")
        return web.Response(body=path.read_bytes(), content_type="application/schema+json")

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})


def new_key() -> str:
    return "signkey_" + secrets.token_hex(32)  # [ADMIN-2]: 32 random bytes


def app_id_of(request: web.Request) -> str:
    """The {id} of an /api/apps/{id} path; one Postgres text cannot hold is no app."""
    app_id = request.match_info["id"]
    if "\x00" in app_id:
        raise ApiError(404, "NOT_FOUND", "no such app")
    return app_id


def app_view(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "name": r["name"], "environment": r["environment"],
            "appUrl": r["app_url"], "activeKeys": r["key_count"],
            "createdAt": iso(r["created_at"])}


def run_summary(r: dict[str, Any]) -> dict[str, Any]:
    return {"runId": r["id"], "functionId": r["function_id"], "status": r["status"],
            "eventId": r["event_id"], "createdAt": iso(r["created_at"]),
            "updatedAt": iso(r["updated_at"])}


def step_view(s: dict[str, Any]) -> dict[str, Any]:
    view = {"id": s["step_id"], "type": s["type"], "data": s["data"], "at": iso(s["ended_at"])}
    if s.get("app_ms") is not None:
        view["appMs"] = round(max(s["app_ms"], 0.0), 3)
    if s.get("wake_at") is not None:
        view["wakeAt"] = iso(s["wake_at"])
    if s.get("copied_from") is not None:
        view["copiedFrom"] = s["copied_from"]
    return view


async def store_functions(engine: Engine, conn: Any, workspace_id: str,
                          functions: list[dict[str, Any]], now: datetime
                          ) -> tuple[list[str], list[str]]:
    """Replace the workspace's live functions ([API-6]); returns (live, deactivated)."""
    keep: list[str] = []
    for d in functions:
        runtime_id = f"{d['id']}@{d['version']}" if d.get("version") else d["id"]
        keep.append(runtime_id)
        await conn.execute(engine.q("function_upsert"), {
            "workspace_id": workspace_id, "runtime_id": runtime_id, "function_id": d["id"],
            "version": d.get("version"), "trigger_event": d["trigger"].get("event"),
            "trigger_cron": d["trigger"].get("cron"), "enabled": d.get("enabled", True),
            "priority": d.get("priority", 0), "definition": Jsonb(d), "now": now})
    cur = await conn.execute(engine.q("functions_mark_removed"),
                             {"workspace_id": workspace_id, "keep": keep})
    return keep, sorted(r["runtime_id"] for r in await cur.fetchall())
