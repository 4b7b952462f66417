"""Client of the engine API (app -> engine), stdlib only.

Every call is a signed JSON POST. Besides the v1 `X-Durable-Signature` over the body,
the client sends `X-Durable-Timestamp` + `X-Durable-Signature-V2` (decision 0001), which
an engine that knows v2 verifies instead (with a replay window); pass
`timestamped_signatures=False` to send v1 only.

A `grpc://host:port` base URL (or `transport="grpc"`) makes the same calls over the
engine's gRPC surface instead (spec §18; needs `pip install durable[grpc]`), and adds the
streams `watch_run`, `watch_runs` and `ingest`.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, cast

from ._protocol import CAPABILITIES, MAX_BODY_BYTES, MAX_EVENTS_PER_SEND
from ._version import SDK_VERSION
from .core import DurableApp
from .errors import BulkEventSendError, DurableError, EventSendError, RunActionError
from .events import event_problem
from .function import DurableFunction
from .results import (
    BulkCancelPage,
    BulkRerunPage,
    FunctionSummary,
    RunHistory,
    bulk_filter,
)
from .signing import sign, sign_v2

__all__ = ["Client", "provision_app"]


# Everything a broken connection can raise from urllib / http.client.
_NETWORK_ERRORS = (OSError, http.client.HTTPException)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _read(response: Any, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        response.close()
        raise DurableError(f"durable response exceeds {max_bytes} bytes")
    body: bytes = response.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise DurableError(f"durable response exceeds {max_bytes} bytes")
    return body


def _post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, max_response_bytes: int
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status), _read(response, max_response_bytes)
    except urllib.error.HTTPError as error:
        try:
            return error.code, _read(error, max_response_bytes)
        finally:
            error.close()


def _status_error(path: str, status: int, answer: bytes) -> DurableError:
    error = DurableError(f"durable {path} failed: {status} {answer.decode(errors='replace')}")
    error.status = status
    try:
        body = json.loads(answer)
    except (ValueError, RecursionError):
        return error
    detail = body.get("error") if isinstance(body, dict) else None
    if isinstance(detail, dict):
        code, pointer = detail.get("code"), detail.get("path")
        error.code = code if isinstance(code, str) else None
        error.path = pointer if isinstance(pointer, str) else None
    return error


def _chain(wrapper: DurableError, cause: DurableError) -> DurableError:
    wrapper.status, wrapper.code, wrapper.path = cause.status, cause.code, cause.path
    return wrapper


def provision_app(
    *,
    base_url: str,
    name: str,
    app_url: str,
    environment: str = "dev",
    admin_token: str | None = None,
    timeout: float = 30,
    max_request_bytes: int = 1_048_576,
    max_response_bytes: int = 1_048_576,
) -> dict[str, Any]:
    """Create a workspace (`POST /api/apps`, or Admin.CreateApp for a `grpc://` URL);
    returns it with its `id` and `key`."""
    if base_url.startswith("grpc://"):
        from ._grpc import provision

        return provision(base_url, name, app_url, environment, admin_token, timeout)
    body = _json({"name": name, "environment": environment, "appUrl": app_url})
    if len(body) > max_request_bytes:
        raise DurableError(f"provision request exceeds {max_request_bytes} bytes")
    headers = {"Content-Type": "application/json"}
    if admin_token:
        headers["Authorization"] = f"Bearer {admin_token}"
    try:
        status, answer = _post(
            f"{base_url.rstrip('/')}/api/apps", body, headers, timeout, max_response_bytes
        )
    except _NETWORK_ERRORS as error:
        raise DurableError(f"provision request failed: {error}") from error
    if status != 200:
        raise _status_error("/api/apps", status, answer)
    try:
        result = json.loads(answer)
    except (ValueError, RecursionError) as error:
        raise DurableError("provision returned invalid JSON") from error
    if not isinstance(result, dict):
        raise DurableError("provision returned invalid JSON")
    return result


class Client:
    """Signed calls to the engine API of one workspace."""

    def __init__(
        self,
        base_url: str,
        app_id: str,
        signing_key: str,
        *,
        timeout: float = 30,
        max_request_bytes: int = 1_048_576,
        max_response_bytes: int = 1_048_576,
        timestamped_signatures: bool = True,
        transport: str | None = None,
    ) -> None:
        """`transport`: "http" or "grpc"; by default the scheme of `base_url` decides
        (`grpc://host:port` is gRPC)."""
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.signing_key = signing_key.encode()
        self.timeout = timeout
        self.max_request_bytes = max_request_bytes
        self.max_response_bytes = max_response_bytes
        self.timestamped_signatures = timestamped_signatures
        kind = transport or ("grpc" if base_url.startswith("grpc://") else "http")
        if kind not in ("http", "grpc"):
            raise ValueError(f"transport must be 'http' or 'grpc', not {transport!r}")
        self._grpc: Any = None
        if kind == "grpc":
            from ._grpc import GrpcTransport  # grpcio: only with the grpc extra

            self._grpc = GrpcTransport(
                base_url, app_id, self.signing_key, timeout=timeout,
                max_request_bytes=max_request_bytes, max_response_bytes=max_response_bytes)

    def close(self) -> None:
        """Close the gRPC channel (HTTP calls hold no connection between calls)."""
        if self._grpc is not None:
            self._grpc.close()

    def _streams(self, what: str) -> Any:
        if self._grpc is None:
            raise DurableError(f"{what} needs the gRPC transport (a grpc:// base URL)")
        return self._grpc

    def watch_run(self, run_id: str) -> Iterator[dict[str, Any]]:
        """The run's status changes until it ends (gRPC WatchRun); the last change carries
        the ended run as `run`."""
        return cast(Iterator[dict[str, Any]], self._streams("watch_run").watch_run(run_id))

    def watch_runs(self, function_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Every run status change of the workspace (gRPC WatchRuns), until closed."""
        return cast(Iterator[dict[str, Any]],
                    self._streams("watch_runs").watch_runs(function_id))

    def ingest(self, events: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Stream events (gRPC IngestEvents); yields `{"index", "receipt"}` or
        `{"index", "error"}` for each, in order. One bad event does not stop the others."""
        return cast(Iterator[dict[str, Any]], self._streams("ingest").ingest(events))

    def signed_headers(self, body: bytes, now_ms: int | None = None) -> dict[str, str]:
        """The headers of one API call (recomputed per attempt so the timestamp is fresh)."""
        headers = {
            "Content-Type": "application/json",
            "X-Durable-App": self.app_id,
            "X-Durable-Signature": sign(self.signing_key, body),
        }
        if self.timestamped_signatures:
            timestamp = str(int(time.time() * 1000) if now_ms is None else now_ms)
            headers["X-Durable-Timestamp"] = timestamp
            headers["X-Durable-Signature-V2"] = sign_v2(self.signing_key, timestamp, body)
        return headers

    def _post(self, path: str, payload: Any, retries: int = 0) -> dict[str, Any]:
        if self._grpc is not None:
            return cast(dict[str, Any], self._grpc.call(path, payload, retries))
        body = _json(payload)
        if len(body) > self.max_request_bytes:
            raise DurableError(f"durable {path} request exceeds {self.max_request_bytes} bytes")
        for attempt in range(retries + 1):
            last = attempt == retries
            try:
                status, answer = _post(
                    self.base_url + path,
                    body,
                    self.signed_headers(body),
                    self.timeout,
                    self.max_response_bytes,
                )
            except _NETWORK_ERRORS as error:
                if last:
                    raise DurableError(f"durable {path} request failed: {error}") from error
            else:
                if status == 200:
                    try:
                        result = json.loads(answer)
                    except (ValueError, RecursionError) as error:
                        if last:
                            raise DurableError(f"durable {path} returned invalid JSON") from error
                    else:
                        if isinstance(result, dict):
                            return result
                        if last:
                            raise DurableError(f"durable {path} returned invalid JSON")
                else:
                    retryable = status in (408, 429) or status >= 500
                    if not retryable or last:
                        raise _status_error(path, status, answer)
            time.sleep(min(2.0, 0.1 * (2**attempt)))
        raise AssertionError("unreachable")

    def sync(
        self,
        functions: Iterable[DurableFunction] | DurableApp,
        *,
        capabilities: Iterable[str] | None = None,
        max_request_bytes: int | None = None,
    ) -> dict[str, Any]:
        """Register the functions with the engine (it deactivates the ones left out).

        The engine also learns the app's capabilities and `maxRequestBytes` from a sync
        ([MAN-5]), so they must match how the app is served: pass the served `DurableApp`
        itself, or the same `capabilities` / `max_request_bytes` options. A plain list
        syncs the SDK defaults (every capability, 1 MiB), which is what `wsgi(...)`,
        `asgi(...)` and `DurableApp(...)` serve by default.
        """
        if isinstance(functions, DurableApp):
            app = functions
            definitions = [function.definition() for function in app.functions]
            advertised = list(app.capabilities if capabilities is None else capabilities)
            limit = app.max_body_bytes if max_request_bytes is None else max_request_bytes
        else:
            definitions = [function.definition() for function in functions]
            advertised = list(CAPABILITIES if capabilities is None else capabilities)
            limit = MAX_BODY_BYTES if max_request_bytes is None else max_request_bytes
        payload: dict[str, Any] = {"sdkVersion": SDK_VERSION, "functions": definitions}
        if advertised:
            payload["capabilities"] = advertised
        payload["maxRequestBytes"] = limit
        return self._post("/fn/sync", payload)

    def send(
        self,
        name: str,
        data: Any = None,
        *,
        event_id: str | None = None,
        retries: int = 2,
        traceparent: str | None = None,
    ) -> dict[str, Any]:
        """Send one event; the id (generated when absent) makes a resend idempotent.
        `traceparent` (W3C) puts the runs it starts in the caller's trace (protocol 1.1)."""
        event_id = event_id or str(uuid.uuid4())
        event = {"id": event_id, "name": name, "data": {} if data is None else data}
        if traceparent is not None:
            event["traceparent"] = traceparent
        try:
            return self._post("/e", event, retries)
        except DurableError as error:
            raise _chain(EventSendError(event_id, str(error)), error) from error

    def send_many(self, events: list[dict[str, Any]], *, retries: int = 2) -> list[dict[str, Any]]:
        """Send 1-100 events in one call; returns their receipts in order."""
        if not 1 <= len(events) <= MAX_EVENTS_PER_SEND:
            raise ValueError(f"send_many requires 1-{MAX_EVENTS_PER_SEND} events")
        normalized = []
        for index, event in enumerate(events):
            problem = event_problem(event)
            if problem is not None:
                raise ValueError(f"send_many: event {index}: {problem}")
            item = {
                "id": event.get("id") or str(uuid.uuid4()),
                "name": event["name"],
                "data": event.get("data", {}),
            }
            if "traceparent" in event:
                item["traceparent"] = event["traceparent"]
            if "ts" in event:
                item["ts"] = event["ts"]
            normalized.append(item)
        try:
            receipts = self._post("/e/bulk", {"events": normalized}, retries)["events"]
        except DurableError as error:
            wrapper = BulkEventSendError([event["id"] for event in normalized], str(error))
            raise _chain(wrapper, error) from error
        except KeyError as error:
            raise BulkEventSendError(
                [event["id"] for event in normalized], "durable /e/bulk returned no receipts"
            ) from error
        if not isinstance(receipts, list):
            raise BulkEventSendError(
                [event["id"] for event in normalized], "durable /e/bulk returned no receipts"
            )
        return receipts

    def search_runs(
        self,
        *,
        function_id: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        filters = {"functionId": function_id, "status": status, "cursor": cursor, "limit": limit}
        return self._post(
            "/runs/search", {key: value for key, value in filters.items() if value is not None}
        )

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self._post("/runs/get", {"runId": run_id})

    def cancel_run(self, run_id: str) -> bool:
        return bool(self._post("/runs/cancel", {"runId": run_id}).get("ok"))

    def rerun(self, run_id: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
        key = idempotency_key or str(uuid.uuid4())
        try:
            return self._post("/runs/rerun", {"runId": run_id, "idempotencyKey": key}, 2)
        except DurableError as error:
            raise _chain(RunActionError(key, str(error)), error) from error

    def rerun_from_step(
        self, run_id: str, step_id: str, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        key = idempotency_key or str(uuid.uuid4())
        try:
            return self._post(
                "/runs/rerun", {"runId": run_id, "stepId": step_id, "idempotencyKey": key}, 2
            )
        except DurableError as error:
            raise _chain(RunActionError(key, str(error)), error) from error

    def list_failures(self, limit: int = 50) -> list[dict[str, Any]]:
        failures = self._post("/failures/search", {"limit": limit}).get("failures")
        if not isinstance(failures, list):
            raise DurableError("durable /failures/search returned no failures list")
        return failures

    def retry_failure(self, delivery_id: str) -> bool:
        return bool(self._post("/failures/retry", {"deliveryId": delivery_id}).get("ok"))

    def get_version_status(self, function_id: str) -> dict[str, Any]:
        return self._post("/versions/status", {"functionId": function_id})

    def run_history(
        self, run_id: str, *, cursor: str | None = None, limit: int | None = None
    ) -> RunHistory:
        """Every invocation the engine sent for the run, oldest first, one page per call
        ([API-19]); pass `nextCursor` back as `cursor` for the next page."""
        payload: dict[str, Any] = {"runId": run_id}
        if cursor is not None:
            payload["cursor"] = cursor
        if limit is not None:
            payload["limit"] = limit
        answer = self._post("/runs/history", payload)
        _require_list("/runs/history", answer, "attempts")
        return cast(RunHistory, answer)

    def bulk_cancel(
        self,
        *,
        function_id: str | None = None,
        status: str | None = None,
        created_from: str | datetime | None = None,
        created_to: str | datetime | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> BulkCancelPage:
        """Cancel the non-terminal runs matching the filter (at least one member), one page
        of up to `limit` runs per call ([API-16], [API-17]); repeat with `nextCursor`."""
        payload: dict[str, Any] = bulk_filter(function_id, status, created_from, created_to)
        if cursor is not None:
            payload["cursor"] = cursor
        if limit is not None:
            payload["limit"] = limit
        answer = self._post("/runs/bulk-cancel", payload)
        _require_list("/runs/bulk-cancel", answer, "cancelled")
        return cast(BulkCancelPage, answer)

    def bulk_rerun(
        self,
        *,
        function_id: str | None = None,
        status: str | None = None,
        created_from: str | datetime | None = None,
        created_to: str | datetime | None = None,
        idempotency_key: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> BulkRerunPage:
        """Rerun the runs matching the filter, one page per call ([API-18]). Pass the same
        `idempotency_key` for every page and on a retry: each source run is rerun once.
        A failure is a RunActionError carrying the key."""
        key = idempotency_key or str(uuid.uuid4())
        payload: dict[str, Any] = bulk_filter(function_id, status, created_from, created_to)
        payload["idempotencyKey"] = key
        if cursor is not None:
            payload["cursor"] = cursor
        if limit is not None:
            payload["limit"] = limit
        try:
            answer = self._post("/runs/bulk-rerun", payload, 2)
            _require_list("/runs/bulk-rerun", answer, "reruns")
        except DurableError as error:
            raise _chain(RunActionError(key, str(error)), error) from error
        return cast(BulkRerunPage, answer)

    def list_functions(self) -> list[FunctionSummary]:
        """Every live runtime id of the workspace with its run counts ([API-21])."""
        answer = self._post("/functions/list", {})
        _require_list("/functions/list", answer, "functions")
        return cast(list[FunctionSummary], answer["functions"])


def _require_list(path: str, answer: dict[str, Any], member: str) -> None:
    if not isinstance(answer.get(member), list):
        error = DurableError(f"durable {path} answered without a {member} list")
        error.status = 200
        raise error
