"""The sans-IO protocol core: bytes in, `Response` out. No sockets, no framework.

`DurableApp.handle(method, headers, body)` verifies, replays and signs; adapters (WSGI,
ASGI, aiohttp) only move bytes. The work is split in three pure phases so sync and
async adapters share everything but the call of the handler:

    prepare(method, headers, body) -> Response | Invocation   (verify, parse)
    Invocation.run() / await Invocation.run_async() -> op      (replay the handler)
    answer(op, invocation) -> Response                         (serialize, sign)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from ._protocol import (
    CAP_STEP_INVOKE,
    CAP_STEP_OCCURRENCES,
    CAP_STRICT_REPLAY,
    CAP_TIMESTAMPED_SIGNATURES,
    CAP_TRACE_CONTEXT,
    CAPABILITIES,
    CODE_MISSING_FAILURE_HANDLER,
    HEADER_DISCOVERY,
    HEADER_SIGNATURE,
    HEADER_SIGNATURE_V2,
    HEADER_TIMESTAMP,
    MAX_BODY_BYTES,
    MAX_RESPONSE_BYTES,
    MIN_MAX_REQUEST_BYTES,
    OP_DONE,
    OP_ERROR,
)
from ._version import SDK_VERSION
from .errors import FailureError, InvokeError
from .events import TRACEPARENT
from .function import DurableFunction
from .signing import fresh, sign, sign_v2, v2_message, verify
from .step import AsyncStep, Step, StepInterrupt, error_op
from .tracing import TraceContext, TracedInvocation, TraceHook

DEFAULT_CAPABILITIES: frozenset[str] = frozenset(CAPABILITIES)

log = logging.getLogger("durable")
_TEXT = (("content-type", "text/plain; charset=utf-8"),)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def _plain(status: int, message: str, *extra: tuple[str, str]) -> Response:
    return Response(status, message.encode(), _TEXT + extra)


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def is_async_callable(target: Any) -> bool:
    if inspect.iscoroutinefunction(target):
        return True
    call = getattr(target, "__call__", None)  # noqa: B004 - callable objects with async __call__
    return inspect.iscoroutinefunction(call)


@dataclass(slots=True)
class Invocation:
    """A verified, parsed invoke request, ready to replay."""

    function: DurableFunction
    event: dict[str, Any]
    run_id: str
    steps: dict[str, Any]
    attempt: int
    events: list[dict[str, Any]]
    failure: dict[str, Any] | None
    occurrences: bool
    strict: bool = True
    request_timestamp: str | None = None
    clock: Callable[[], float] = field(default=lambda: time.time() * 1000)
    invoke: bool = True  # step-invoke advertised
    traceparent: str | None = None  # the engine's, when trace-context is advertised
    trace_hook: TraceHook | None = None

    @property
    def is_async(self) -> bool:
        target = self.function.handler if self.failure is None else self.function.on_failure
        return is_async_callable(target)

    def _step_options(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "function_id": self.function.runtime_id,
            "attempt": self.attempt,
            "events": self.events,
            "occurrences": self.occurrences,
            "strict": self.strict,
            "clock": self.clock,
            "invoke": self.invoke,
            "traceparent": self.traceparent,
        }

    def _failure_error(self) -> FailureError:
        failure = self.failure or {}
        return FailureError(
            str(failure.get("message", "unknown failure")),
            name=str(failure.get("name", "Error")),
            code=failure.get("code"),
            step_id=failure.get("stepId"),
            details=failure.get("details"),
        )

    def _missing_failure_handler(self) -> dict[str, Any] | None:
        if self.failure is not None and self.function.on_failure is None:
            return {
                "op": OP_ERROR,
                "id": None,
                "message": "onFailure handler not found",
                "name": "MissingFailureHandlerError",
                "code": CODE_MISSING_FAILURE_HANDLER,
                "retryable": False,
            }
        return None

    def _traced(self) -> contextlib.AbstractContextManager[Any]:
        """The app's trace hook around the handler, when the engine sent a trace ([TRACE-4])."""
        trace = TraceContext.parse(self.traceparent)
        if self.trace_hook is None or trace is None:
            return contextlib.nullcontext()
        return self.trace_hook(TracedInvocation(trace, self.function.runtime_id, self.run_id,
                                                self.attempt, self.failure is not None))

    def _call(self, step: Step | AsyncStep) -> Any:
        """The handler's (or failure handler's) return value: an awaitable for async ones."""
        if self.failure is not None:
            on_failure: Callable[..., Any] | None = self.function.on_failure
            assert on_failure is not None
            return on_failure(self.event, step, self._failure_error(), self.run_id)
        handler: Callable[..., Any] = self.function.handler
        return handler(self.event, step)

    def _logged(self, operation: dict[str, Any], cause: BaseException | None) -> dict[str, Any]:
        """An `error` op answered for an exception of the user's code is logged with its
        stack on the `durable` logger: ids, attempt, error name and message, never the
        event's data or a step's result."""
        if operation.get("op") == OP_ERROR:
            step = operation.get("id")
            log.error(
                "%s %s raised %s: %s (run %s, attempt %d%s; %s)",
                "onFailure handler of" if self.failure is not None else "function",
                self.function.runtime_id, operation.get("name"), operation.get("message"),
                self.run_id, self.attempt, f", step {step}" if step else "",
                "the engine retries it" if operation.get("retryable") else "not retried",
                exc_info=cause if isinstance(cause, Exception) else None,
            )
        return operation

    def run(self) -> dict[str, Any]:
        """Replay the handler in this thread; an async handler gets its own event loop."""
        if self.is_async:
            operation: dict[str, Any] = _run_async_blocking(self.run_async)
            return operation
        missing = self._missing_failure_handler()
        if missing is not None:
            return missing
        step = Step(self.steps, **self._step_options())
        try:
            with self._traced():
                data = self._call(step)
        except StepInterrupt as interrupt:
            return self._logged(interrupt.operation, interrupt.__cause__)
        except Exception as error:
            return self._logged(error_op(_uncaught_step(error), error), error)
        return {"op": OP_DONE, "data": data}

    async def run_async(self) -> dict[str, Any]:
        """Replay an async handler on the running loop; a sync one runs in a thread."""
        if not self.is_async:
            return await asyncio.to_thread(self.run)
        missing = self._missing_failure_handler()
        if missing is not None:
            return missing
        step = AsyncStep(self.steps, **self._step_options())
        try:
            with self._traced():
                data = await self._call(step)
        except StepInterrupt as interrupt:
            return self._logged(interrupt.operation, interrupt.__cause__)
        except Exception as error:
            return self._logged(error_op(_uncaught_step(error), error), error)
        return {"op": OP_DONE, "data": data}


def _uncaught_step(error: Exception) -> str | None:
    """The step an uncaught error belongs to: an InvokeError's invoke step ([INVOKE-8])."""
    return error.step_id if isinstance(error, InvokeError) else None


def _run_async_blocking(factory: Callable[[], Any]) -> Any:
    """asyncio.run, or asyncio.run in a helper thread when this thread has a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = error

    thread = threading.Thread(target=target, name="durable-async-handler")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class DurableApp:
    """Serves a set of functions: verifies requests, replays handlers, signs answers."""

    def __init__(
        self,
        functions: Iterable[DurableFunction],
        *,
        signing_key: str,
        signing_key_fallback: str | None = None,
        app_id: str | None = None,
        app_name: str | None = None,
        dev: bool = False,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        capabilities: Iterable[str] | None = None,
        clock: Callable[[], float] | None = None,
        trace_hook: TraceHook | None = None,
    ) -> None:
        if not isinstance(signing_key, str) or not signing_key:
            raise ValueError("signing_key must be a non-empty string")
        if signing_key_fallback is not None and not isinstance(signing_key_fallback, str):
            raise ValueError("signing_key_fallback must be a string")
        self.functions = list(functions)
        self._by_id = {function.runtime_id: function for function in self.functions}
        if len(self._by_id) != len(self.functions):
            raise ValueError("function id/version combinations must be unique")
        chosen = DEFAULT_CAPABILITIES if capabilities is None else frozenset(capabilities)
        unknown = chosen - DEFAULT_CAPABILITIES
        if unknown:
            raise ValueError(f"unknown capabilities: {sorted(unknown)}")
        self.capabilities = tuple(name for name in CAPABILITIES if name in chosen)
        self.signing_key = signing_key
        self._keys = tuple(
            key.encode() for key in (signing_key, signing_key_fallback) if key
        )
        self.app_id = app_id
        self.app_name = app_name
        self.dev = dev
        self.max_body_bytes = int(max_body_bytes)
        if self.max_body_bytes < MIN_MAX_REQUEST_BYTES:
            # The manifest's maxRequestBytes has this floor ([MAN-1]).
            raise ValueError(f"max_body_bytes must be at least {MIN_MAX_REQUEST_BYTES}")
        self.max_response_bytes = int(max_response_bytes)
        self._clock = clock or (lambda: time.time() * 1000)
        self._timestamped = CAP_TIMESTAMPED_SIGNATURES in self.capabilities
        self._occurrences = CAP_STEP_OCCURRENCES in self.capabilities
        self._strict = CAP_STRICT_REPLAY in self.capabilities
        self._invoke = CAP_STEP_INVOKE in self.capabilities
        self._trace = CAP_TRACE_CONTEXT in self.capabilities
        if trace_hook is not None and not callable(trace_hook):
            raise ValueError("trace_hook must be callable")
        self._trace_hook = trace_hook

    # -- manifest -------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        manifest: dict[str, Any] = {
            "functions": [function.definition() for function in self.functions],
            "sdkVersion": SDK_VERSION,
        }
        if self.capabilities:
            manifest["capabilities"] = list(self.capabilities)
        manifest["maxRequestBytes"] = self.max_body_bytes
        return manifest

    # -- the three phases -----------------------------------------------------------

    def prepare(
        self, method: str, headers: Mapping[str, str], body: bytes
    ) -> Response | Invocation:
        """Verify and parse a request; a Response when it is answered without replay."""
        method = method.upper()
        normalized = {name.lower(): value for name, value in headers.items()}
        if method == "GET":
            return self._get(normalized)
        if method != "POST":
            return _plain(405, "method not allowed", ("allow", "GET, POST"))
        if len(body) > self.max_body_bytes:
            return _plain(413, f"request body exceeds {self.max_body_bytes} bytes")
        request_timestamp: str | None = None
        if self._timestamped:
            request_timestamp = normalized.get(HEADER_TIMESTAMP)
            # Both MACs are checked: the engine sends v1 alongside v2 (decision 0001).
            if (
                not fresh(request_timestamp, self._clock())
                or not verify(
                    self._keys,
                    v2_message(request_timestamp or "", body),
                    normalized.get(HEADER_SIGNATURE_V2),
                )
                or not verify(self._keys, body, normalized.get(HEADER_SIGNATURE))
            ):
                return _plain(401, "invalid signature")
        elif not verify(self._keys, body, normalized.get(HEADER_SIGNATURE)):
            return _plain(401, "invalid signature")
        try:
            request = json.loads(body)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return _plain(400, "invalid JSON")
        if not isinstance(request, dict):
            return _plain(400, "invalid request")
        return self._invocation(request, request_timestamp)

    def answer(self, operation: dict[str, Any], request_timestamp: str | None = None) -> Response:
        """Serialize and sign one op; an unserializable or oversized op becomes an error op."""
        try:
            body = _encode(operation)
            if len(body) > self.max_response_bytes:
                raise ValueError("response too large")
        except (TypeError, ValueError, RecursionError):
            body = _encode(
                {
                    "op": OP_ERROR,
                    "id": None,
                    "message": "workflow response is not serializable "
                    "or exceeds the response limit",
                    "retryable": False,
                }
            )
            if len(body) > self.max_response_bytes:
                return _plain(413, "response too large")
        return self._signed(body, request_timestamp)

    def handle(self, method: str, headers: Mapping[str, str], body: bytes) -> Response:
        prepared = self.prepare(method, headers, body)
        if isinstance(prepared, Response):
            return prepared
        return self.answer(prepared.run(), prepared.request_timestamp)

    async def handle_async(
        self, method: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        """Like handle; async handlers run on the caller's loop, sync ones in a thread."""
        prepared = self.prepare(method, headers, body)
        if isinstance(prepared, Response):
            return prepared
        return self.answer(await prepared.run_async(), prepared.request_timestamp)

    # -- internals ------------------------------------------------------------------

    def _signed(self, body: bytes, request_timestamp: str | None) -> Response:
        headers = [
            ("content-type", "application/json"),
            (HEADER_SIGNATURE, sign(self._keys[0], body)),
        ]
        if request_timestamp is not None:
            headers.append((HEADER_SIGNATURE_V2, sign_v2(self._keys[0], request_timestamp, body)))
        return Response(200, body, tuple(headers))

    def _get(self, headers: Mapping[str, str]) -> Response:
        if headers.get(HEADER_DISCOVERY) == "true" and self.dev:
            discovery = {**self.manifest(), "signingKey": self.signing_key}
            if self.app_id is not None:
                discovery["appId"] = self.app_id
            if self.app_name is not None:
                discovery["appName"] = self.app_name
            return self.answer(discovery)
        timestamp = headers.get(HEADER_TIMESTAMP)
        if not fresh(timestamp, self._clock()) or not verify(
            self._keys, (timestamp or "").encode(), headers.get(HEADER_SIGNATURE)
        ):
            return _plain(401, "invalid signature")
        return self.answer(self.manifest(), timestamp if self._timestamped else None)

    def _invocation(
        self, request: dict[str, Any], request_timestamp: str | None
    ) -> Invocation | Response:
        """An Invocation, or the answer when there is nothing to replay: an unknown
        function ([ERR-4]) or members of the wrong type (a signed JSON object is always
        answered 200 with one op, [INV-6]; retrying the same request cannot help)."""
        function_id = request.get("functionId")
        function = self._by_id.get(function_id) if isinstance(function_id, str) else None
        if function is None:
            shown = (
                "?" if function_id is None
                else function_id if isinstance(function_id, str)
                else _encode(function_id).decode()
            )
            unknown = {
                "op": OP_ERROR,
                "id": None,
                "message": f"unknown function {shown}",
                "retryable": False,
            }
            return self.answer(unknown, request_timestamp)
        # Members are optional here: v1 engines may omit `attempt`; unknown ones are ignored.
        event = request.get("event", {})
        steps = request.get("steps", {})
        attempt = request.get("attempt", 0)
        failure = request.get("failure")
        events = request.get("events")
        run_id = request.get("runId", "")
        traceparent = request.get("traceparent")
        if not isinstance(traceparent, str) or not TRACEPARENT.match(traceparent):
            traceparent = None  # [TRACE-4]: only a valid one is continued
        problem = None
        if not isinstance(event, dict):
            problem = "event must be an object"
        elif not isinstance(steps, dict) or not all(
            map(isinstance, steps.values(), repeat(dict))
        ):
            problem = "steps must be an object of memos"
        elif isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
            problem = "attempt must be a non-negative integer"
        elif failure is not None and not isinstance(failure, dict):
            problem = "failure must be an object"
        elif events is not None and not isinstance(events, list):
            problem = "events must be an array"
        elif not isinstance(run_id, str):
            problem = "runId must be a string"
        if problem is not None:
            invalid = {
                "op": OP_ERROR,
                "id": None,
                "message": f"invalid request: {problem}",
                "name": "InvalidRequestError",
                "retryable": False,
            }
            return self.answer(invalid, request_timestamp)
        return Invocation(
            function=function,
            event=event,
            run_id=run_id,
            steps=steps,
            attempt=attempt,
            events=events if events is not None else [event],
            failure=failure,
            occurrences=self._occurrences,
            strict=self._strict,
            request_timestamp=request_timestamp,
            clock=self._clock,
            invoke=self._invoke,
            traceparent=traceparent if self._trace else None,
            trace_hook=self._trace_hook,
        )


def handle_request(
    method: str,
    headers: Mapping[str, str],
    body: bytes,
    functions: Iterable[DurableFunction],
    *,
    signing_key: str,
    signing_key_fallback: str | None = None,
    app_id: str | None = None,
    app_name: str | None = None,
    dev: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
    capabilities: Iterable[str] | None = None,
    trace_hook: TraceHook | None = None,
) -> Response:
    """One request through a DurableApp built from `functions` and the options.

    Long-lived servers should build one `DurableApp` and call its `handle`.
    """
    return DurableApp(
        functions,
        signing_key=signing_key,
        signing_key_fallback=signing_key_fallback,
        app_id=app_id,
        app_name=app_name,
        dev=dev,
        max_body_bytes=max_body_bytes,
        max_response_bytes=max_response_bytes,
        capabilities=capabilities,
        trace_hook=trace_hook,
    ).handle(method, headers, body)


async def handle_request_async(
    method: str,
    headers: Mapping[str, str],
    body: bytes,
    functions: Iterable[DurableFunction],
    **options: Any,
) -> Response:
    """handle_request for async servers (same options)."""
    return await DurableApp(functions, **options).handle_async(method, headers, body)
