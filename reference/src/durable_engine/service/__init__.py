"""The engine's service layer: every operation the HTTP API, the dashboard, the gRPC server
and the CLI perform, as async methods. Transports authenticate, parse and validate
(spec/schemas) and then call one method. A typed operation takes a request dataclass made by
its `from_json(body)` and answers a dataclass whose `to_json()` is the spec's response
schema (service/operation.py: the convention, and Operation, which transports call); the
others take the body and answer JSON-ready dicts. Failures raise ServiceError(code, message,
path) whose code is the API's machine-readable code (spec/registry.json errorCodes; `.status`
is its HTTP status); a request the hand checks refuse raises validation.Invalid
(INVALID_REQUEST with a path).

    service = Service(engine)                     # engine: durable_engine.engine.Engine

Engine API (workspace_id is the calling app's id; body is the validated request JSON):
    sync(workspace_id, Sync)              -> Synced                   POST /fn/sync
    send(workspace_id, SendEvent)         -> EventReceipt             POST /e
    send_bulk(workspace_id, SendEvents)   -> EventReceipts            POST /e/bulk
    runs_search(workspace_id, RunsSearch)         -> RunsPage      POST /runs/search
    runs_get(workspace_id, RunId)                 -> Run           POST /runs/get
    runs_cancel(workspace_id, RunId)              -> Cancelled     POST /runs/cancel
    runs_rerun(workspace_id, RunsRerun)           -> Rerun         POST /runs/rerun
    runs_bulk_cancel(workspace_id, RunsBulkCancel) -> BulkCancelled POST /runs/bulk-cancel
    runs_bulk_rerun(workspace_id, RunsBulkRerun)  -> BulkReruns    POST /runs/bulk-rerun
    runs_history(workspace_id, RunsHistory)       -> History       POST /runs/history
    failures_search(workspace_id, FailuresSearch) -> Failures      POST /failures/search
    failures_retry(workspace_id, FailuresRetry)   -> Ok            POST /failures/retry
    (service/runs.py, rerun.py, history.py)
    versions_status(workspace_id, VersionsStatus) -> Versions      POST /versions/status
    functions_list(workspace_id, FunctionsList)   -> Functions     POST /functions/list
    (service/functions.py; send and send_bulk answer the receipts' dicts)

Read models (dashboard, CLI):
    workspaces_list()                     -> Apps
    functions_overview(workspace_id)      -> FunctionsOverview: {"functions": [{"functionId",
        "versions": [{runtimeId, version, trigger, enabled, removed, active, flow,
        nextCronFire, runs, syncedAt, definition}]}]}
    metrics_series(workspace_id, MetricsQuery(window=hour|day|week, function=)) ->
        MetricsSeries: timestamps and one array per figure (runs started/completed/failed/
        cancelled, app and durable step time p50/p90/p99, backlog by state), window totals,
        backlog now (service/metrics.py)
    run_detail(workspace_id, run_id)      -> RunDetail: Run + startedAt, endedAt, failureOutput,
        timeline (every step of every namespace: queuedAt, startedAt, appMs, endedAt, ...),
        attempts (every HTTP attempt, as runs_history)
    runs_browse(workspace_id, RunsBrowse.of(status=, function_id=, event_name=,
        created_from=, created_to=, run_id=, cursor=, limit=))  -> BrowsePage (runs with
        eventName, startedAt, endedAt; nextCursor)
    workspace_get(workspace_id)           -> app view
    workspace_signer(workspace_id)        -> Signer(keys, environment) | None: what verifies
        the workspace's signed requests (the transports' authentication)
    run_waits(workspace_id, run_id)       -> (Wait(namespace, stepId, event, until, since),) parked
    run_watch(run_id, watcher, seconds) / run_unwatch(run_id, watcher): while watched, every
        recorded attempt of the run is published on the ChangeFeed (kind "attempt")

Dashboard sessions (only a hash of the id is stored):
    session_create(lifetime) -> (session_id, csrf); session_get(session_id) -> csrf | None;
    session_end(session_id)

Admin (authorization is the transport's job; service/apps.py):
    apps_list()                           -> Apps
    apps_create(AppsCreate)               -> AppCreated (the app and its first key)
    apps_rotate_key(app_id)               -> KeyRotated
    apps_retire_key(app_id)               -> KeyRetired
    apps_update(app_id, AppsUpdate)       -> App
    apps_delete(app_id)                   -> AppDeleted

Webhooks ([HOOK-1..7], service/webhooks.py; admin authorization is the transport's job):
    webhooks_create(app_id, WebhookCreate) -> Webhook (its secret shown if set)
    webhooks_list(app_id) -> Webhooks; webhooks_delete(app_id, name) -> WebhookDeleted
    webhooks_update(app_id, name, WebhookUpdate) -> Webhook (secret shown if this set one)
    webhooks_test(app_id, name, WebhookTest) -> WebhookTested (the event, or why none)
    webhooks_deliveries(app_id, name) -> Deliveries: the last ones, refusals with why
    webhook_ingest(token, raw_body, headers, query) -> receipt (POST /w/{token}, as /e)

Live changes: ChangeFeed(database_url).subscribe(workspace_id=..., run_id=...) yields
RunChange(run_id, workspace_id, function_id, status, at) of every engine process, or RESYNC
(see service/changes.py).
"""

from __future__ import annotations

from ..engine import Engine
from .apps import AppOps
from .browse import BrowseOps
from .changes import RESYNC, ChangeFeed, Resync, RunChange, Subscription
from .errors import ServiceError
from .functions import FunctionOps
from .history import HistoryOps
from .metrics import MetricsOps
from .rerun import RerunOps
from .runs import RunOps
from .webhooks import WebhookOps

__all__ = ["RESYNC", "ChangeFeed", "Resync", "RunChange", "Service", "ServiceError",
           "Subscription"]


class Service(FunctionOps, RunOps, RerunOps, HistoryOps, AppOps, BrowseOps, MetricsOps,
              WebhookOps):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
