"""HTTP surface: the engine API (signed by apps), the admin API and the OpenAPI document."""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from . import signing
from .engine import Engine, to_ms
from .environments import HEADER as ENVIRONMENT_HEADER
from .metrics import Sampler
from .prometheus import CONTENT_TYPE, registry_for, render
from .service import ChangeFeed, Service, ServiceError
from .service.apps import AppsCreate, AppsUpdate
from .service.functions import FunctionsList, SendEvent, SendEvents, Sync, VersionsStatus
from .service.history import FailuresRetry, FailuresSearch, RunsHistory
from .service.operation import Operation
from .service.rerun import RunsBulkCancel, RunsBulkRerun, RunsRerun
from .service.runs import RunId, RunsSearch
from .validation import (
    Invalid,
    TooLarge,
    load_json,
    reject_nul,
    spec_dir,
    valid_traceparent,
    validate_request,
    validate_schema,
)
from .webhooks_http import install_webhooks

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


# The engine API: path -> the Service method that performs it (the gRPC surface maps its
# rpcs onto the same paths through their `http` option, grpc_api.py).
OPERATIONS = {
    "/fn/sync": Operation("sync", Sync),
    "/e": Operation("send", SendEvent),
    "/e/bulk": Operation("send_bulk", SendEvents),
    "/runs/search": Operation("runs_search", RunsSearch),
    "/runs/get": Operation("runs_get", RunId),
    "/runs/cancel": Operation("runs_cancel", RunId),
    "/runs/rerun": Operation("runs_rerun", RunsRerun),
    "/runs/bulk-cancel": Operation("runs_bulk_cancel", RunsBulkCancel),
    "/runs/bulk-rerun": Operation("runs_bulk_rerun", RunsBulkRerun),
    "/runs/history": Operation("runs_history", RunsHistory),
    "/failures/search": Operation("failures_search", FailuresSearch),
    "/failures/retry": Operation("failures_retry", FailuresRetry),
    "/versions/status": Operation("versions_status", VersionsStatus),
    "/functions/list": Operation("functions_list", FunctionsList),
}


class ApiError(ServiceError):
    """A transport-level refusal (signature, admin token, body size) with its HTTP status."""

    def __init__(self, status: int, code: str, message: str, path: str | None = None) -> None:
        super().__init__(code, message, path)
        self._status = status

    @property
    def status(self) -> int:
        return self._status


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
    except ServiceError as error:
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
    except (web.HTTPRedirection, web.HTTPSuccessful):
        raise  # not errors: a redirect stays a redirect
    except web.HTTPException as error:
        return error_response(error.status, "HTTP_ERROR", error.reason)
    except Exception:  # noqa: BLE001 - a JSON error body, never a stack trace
        # Bad input never lands here (it is a 4xx above); this is the database being away
        # or a bug: INTERNAL per the registry, which clients retry with backoff.
        log.exception("unexpected error on %s", logged_path(request.path))
        return error_response(500, "INTERNAL", "the engine could not handle this request; retry")


def logged_path(path: str) -> str:
    """A path fit for logs: a webhook's URL token is its credential ([HOOK-1])."""
    return "/w/<token>" if path.startswith("/w/") else path


def with_traceparent(payload: dict[str, Any], header: str | None) -> None:
    """[TRACE-1]: a valid `traceparent` header of /e or /e/bulk goes on each event that has
    no member of its own; an invalid header is ignored."""
    if not valid_traceparent(header):
        return
    for event in payload["events"] if "events" in payload else [payload]:
        event.setdefault("traceparent", header)


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
        value = load_json(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "INVALID_JSON", "request body is not valid JSON") from None
    reject_nul(value)
    return value


class Api:
    def __init__(self, engine: Engine, *, dev: bool, admin_token: str | None,
                 feed: ChangeFeed | None = None, metrics: Sampler | None = None,
                 metrics_public: bool = False) -> None:
        self.engine = engine
        self.service = Service(engine)
        self.dev = dev
        self.admin_token = admin_token
        self.feed = feed
        self.metrics_public = metrics_public
        self.registry = registry_for(metrics or Sampler(engine))

    def app(self) -> web.Application:
        app = web.Application(middlewares=[errors_middleware], client_max_size=MAX_BODY + 1)
        app[POOL_KEY] = self.engine.pool
        for path, operation in OPERATIONS.items():
            app.router.add_post(path, self._signed(path, operation))
        app.router.add_post("/api/apps", self.apps_create)
        app.router.add_get("/api/apps", self.apps_list)
        app.router.add_patch("/api/apps/{id}", self.apps_update)
        app.router.add_delete("/api/apps/{id}", self.apps_delete)
        app.router.add_post("/api/apps/{id}/rotate-key", self.apps_rotate)
        app.router.add_post("/api/apps/{id}/retire-key", self.apps_retire)
        install_webhooks(app, self.service, self._admin, read_body, parse_json, app_id_of)
        app.router.add_get("/openapi.yaml", self.openapi)
        app.router.add_get("/schemas/{name}", self.schema)
        app.router.add_get("/health", self.health)
        app.router.add_get("/metrics", self.metrics)
        if self.feed is not None:
            from .dashboard import install  # jinja2 and templates: only when serving pages

            install(app, self.service, self.feed, dev=self.dev, admin_token=self.admin_token)
        return app

    # ---- engine API ------------------------------------------------------------------------

    def _signed(self, path: str, operation: Operation) -> Handler:
        async def endpoint(request: web.Request) -> web.Response:
            body = await read_body(request)
            app_id = request.headers.get("X-Durable-App")
            if not app_id:
                raise ApiError(401, "INVALID_SIGNATURE", "missing X-Durable-App")
            workspace = await self.service.workspace_signer(app_id)
            # Same answer for an unknown app and a bad signature: ids are not secrets to probe.
            reason = "unknown app or invalid signature"
            if workspace is not None:
                problem = signing.verify_api_request(workspace.keys, request.headers, body,
                                                     to_ms(self.engine.clock()))
                if problem is None:
                    reason = ""
                elif "window" in problem or "Timestamp" in problem:
                    reason = problem
            if reason or workspace is None:
                raise ApiError(401, "INVALID_SIGNATURE", reason)
            value = parse_json(body)
            # Hand checks first for their precise paths, then the spec's schema as the judge.
            payload = validate_request(path, value)
            validate_schema(SCHEMA_NAMES[path], value)
            if path in ("/e", "/e/bulk"):  # [TRACE-1]: a valid header applies to each event
                with_traceparent(payload, request.headers.get("traceparent"))
            return web.json_response(await operation.perform(self.service, app_id, payload),
                                     headers={ENVIRONMENT_HEADER: workspace.environment},
                                     dumps=lambda v: json.dumps(v, separators=(",", ":")))
        return endpoint

    # ---- admin API -------------------------------------------------------------------------

    def _admin(self, request: web.Request) -> None:
        authorize_admin(self.admin_token, self.dev, request.headers.get("Authorization", ""),
                        request.remote or "")

    async def apps_create(self, request: web.Request) -> web.Response:
        self._admin(request)
        value = parse_json(await read_body(request))
        body = validate_request("/api/apps", value)
        validate_schema("apps-create-request", value)
        return web.json_response(
            (await self.service.apps_create(AppsCreate.from_json(body))).to_json())

    async def apps_list(self, request: web.Request) -> web.Response:
        self._admin(request)
        return web.json_response((await self.service.apps_list()).to_json())

    async def apps_rotate(self, request: web.Request) -> web.Response:
        self._admin(request)
        return web.json_response(
            (await self.service.apps_rotate_key(app_id_of(request))).to_json())

    async def apps_retire(self, request: web.Request) -> web.Response:
        self._admin(request)
        return web.json_response(
            (await self.service.apps_retire_key(app_id_of(request))).to_json())

    async def apps_update(self, request: web.Request) -> web.Response:
        """[ADMIN-4]: rename an app or change its URL; keys and environment stay."""
        self._admin(request)
        value = parse_json(await read_body(request))
        body = validate_request("/api/apps/{id}", value)
        validate_schema("apps-update-request", value)
        return web.json_response((await self.service.apps_update(
            app_id_of(request), AppsUpdate.from_json(body))).to_json())

    async def apps_delete(self, request: web.Request) -> web.Response:
        """[ADMIN-5]: the app goes with its functions, events, runs and history."""
        self._admin(request)
        return web.json_response((await self.service.apps_delete(app_id_of(request))).to_json())

    # ---- documents -------------------------------------------------------------------------

    async def openapi(self, request: web.Request) -> web.Response:
        """[API-15]: spec/openapi.yaml as it is (an installed engine ships the spec)."""
        base = spec_dir()
        path = base / "openapi.yaml" if base else None
        if path is None or not path.is_file():
            raise ApiError(404, "NOT_FOUND", "openapi.yaml not found (set DURABLE_SPEC_DIR)")
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

    async def metrics(self, request: web.Request) -> web.Response:
        """Prometheus text format, from the sampler's last sample (decision 0040). Open with
        DURABLE_METRICS_PUBLIC=1; else like the admin API: the admin token as a bearer token,
        or without one loopback clients in dev mode only."""
        if not self.metrics_public:
            if self.admin_token:
                given = request.headers.get("Authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {self.admin_token}".encode()):
                    raise ApiError(401, "UNAUTHORIZED", "metrics need the admin token "
                                   "(Authorization: Bearer <DURABLE_ADMIN_TOKEN>) unless "
                                   "DURABLE_METRICS_PUBLIC=1")
            elif not self.dev:
                raise ApiError(403, "FORBIDDEN", "metrics are disabled: set DURABLE_ADMIN_TOKEN "
                               "(sent as a bearer token) or DURABLE_METRICS_PUBLIC=1")
            elif not _loopback(request):
                raise ApiError(403, "FORBIDDEN", "without an admin token only loopback "
                                                 "clients may read metrics")
        return web.Response(body=render(self.registry), headers={"Content-Type": CONTENT_TYPE})


def _loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def app_id_of(request: web.Request) -> str:
    """The {id} of an /api/apps/{id} path; one Postgres text cannot hold is no app."""
    app_id = request.match_info["id"]
    if "\x00" in app_id:
        raise ApiError(404, "NOT_FOUND", "no such app")
    return app_id


def authorize_admin(admin_token: str | None, dev: bool, authorization: str, remote: str
                    ) -> None:
    """[ADMIN-1]: the configured token, or without one (dev mode) a loopback client."""
    if admin_token:
        expected = f"Bearer {admin_token}"
        if not hmac.compare_digest(authorization.encode(), expected.encode()):
            raise ApiError(401, "UNAUTHORIZED", "admin token required (Authorization: "
                                                "Bearer <DURABLE_ADMIN_TOKEN>)")
        return
    if not dev:
        raise ApiError(403, "FORBIDDEN", "the admin API is disabled: set DURABLE_ADMIN_TOKEN")
    try:
        loopback = ipaddress.ip_address(remote).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ApiError(403, "FORBIDDEN", "without an admin token only loopback clients "
                                         "may use the admin API")
