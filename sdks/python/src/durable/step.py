"""Steps: the replay engine inside one invocation.

The handler runs from the top on every invoke. A step whose (occurrence-suffixed) id is
memoized returns its memo at once; the first step that is not memoized ends the
invocation by raising `StepInterrupt` carrying the one op to answer. `StepInterrupt`
derives from BaseException so a workflow's `except Exception:` cannot swallow it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._protocol import (
    CODE_CAPABILITY_OFF,
    CODE_INVALID_DURATION,
    CODE_INVALID_EVENTS,
    CODE_INVALID_PARALLEL,
    CODE_INVOKE,
    CODE_NON_DETERMINISTIC,
    MAX_ERROR_DETAILS_BYTES,
    MAX_EVENTS_PER_SEND,
    MAX_PARALLEL_TASKS,
    MEMO_INVOKE,
    MEMO_RUN,
    MEMO_SEND_EVENT,
    MEMO_SLEEP,
    MEMO_WAIT,
    OP_ERROR,
    OP_INVOKE,
    OP_SEND_EVENT,
    OP_SLEEP,
    OP_STEP,
    OP_WAIT,
)
from .duration import iso_utc, parse_duration
from .errors import FailureError, InvokeError, NonRetriableError
from .events import event_problem
from .tracing import TraceContext

# Importable from here too, as in dicabrio-durable-sdk 0.1.0.
__all__ = [
    "AsyncStep",
    "FailureError",
    "NonRetriableError",
    "Step",
    "StepInterrupt",
    "error_fields",
    "parse_duration",
]

Event = dict[str, Any]


class StepInterrupt(BaseException):
    """Ends the handler: the invocation answers `operation`."""

    def __init__(self, operation: dict[str, Any]) -> None:
        super().__init__("durable:step-interrupt")
        self.operation = operation


def error_fields(error: BaseException) -> dict[str, Any]:
    """`message`, `name`, and for NonRetriableError `code` / `details` of an error op."""
    fields: dict[str, Any] = {"message": str(error), "name": type(error).__name__}
    if isinstance(error, NonRetriableError):
        fields["name"] = error.name
        if error.code:
            fields["code"] = error.code
        if error.details is not None:
            try:
                encoded = json.dumps(
                    error.details, separators=(",", ":"), ensure_ascii=False, allow_nan=False
                ).encode()
            except (TypeError, ValueError, RecursionError):
                fields["details"] = {
                    "serializationError": "error details are not JSON-serializable"
                }
            else:
                fields["details"] = (
                    json.loads(encoded)
                    if len(encoded) <= MAX_ERROR_DETAILS_BYTES
                    else {"truncated": True, "reason": "error details exceed 64 KiB"}
                )
    return fields


def error_op(step_id: str | None, error: BaseException) -> dict[str, Any]:
    return {
        "op": OP_ERROR,
        "id": step_id,
        **error_fields(error),
        "retryable": not isinstance(error, NonRetriableError),
    }


def _run_coroutine(value: Awaitable[Any]) -> Any:
    """Result of an awaitable returned to synchronous code, on a private event loop."""

    async def wait() -> Any:
        return await value

    return asyncio.run(wait())


class _Replay:
    """Memo lookup and step-id occurrence counting, shared by Step and AsyncStep."""

    def __init__(
        self,
        memoized: Mapping[str, Mapping[str, Any]],
        *,
        run_id: str = "",
        function_id: str = "",
        attempt: int = 0,
        events: list[Event] | None = None,
        occurrences: bool = True,
        strict: bool = True,
        clock: Callable[[], float] | None = None,
        invoke: bool = True,
        traceparent: str | None = None,
    ) -> None:
        self._memoized = memoized
        self._invoke = invoke
        self._occurrences = occurrences
        self._strict = strict
        self._seen: dict[str, int] = {}
        self._clock = clock or (lambda: time.time() * 1000)
        #: The run being executed (also passed to on_failure handlers).
        self.run_id = run_id
        #: The runtime function id (`id` or `id@version`).
        self.function_id = function_id
        #: 0-based attempt at the run's current position (resets when a memo commits).
        self.attempt = attempt
        #: Every event of a batch run in arrival order; `[event]` for other runs.
        self.events: list[Event] = events if events is not None else []
        #: The run's W3C traceparent when the engine sent one ([TRACE-4]), else None.
        self.traceparent = traceparent

    @property
    def trace(self) -> TraceContext | None:
        """The traceparent's fields (trace id, the engine's span id, flags), else None."""
        return TraceContext.parse(self.traceparent)

    def _claim(self, step_id: str, expected: str) -> tuple[str, bool, Any]:
        """(wire id, found, memo data) for the next use of `step_id`. On the replay hot
        path: keep it to a few dict operations."""
        if type(step_id) is not str or not step_id:
            raise TypeError("step id must be a non-empty string")
        wire_id = step_id
        if self._occurrences:
            count = self._seen.get(step_id, 0) + 1
            self._seen[step_id] = count
            if count > 1:
                wire_id = f"{step_id}#{count}"
        memo = self._memoized.get(wire_id)
        if memo is None:
            return wire_id, False, None
        kind = memo.get("type")
        if kind != expected:
            if not self._strict:
                # v1 behaviour: a plain (retryable) error of the handler.
                raise RuntimeError(f'step "{wire_id}" already used as a {kind}')
            raise StepInterrupt(
                {
                    "op": OP_ERROR,
                    "id": wire_id,
                    "message": f'step "{wire_id}" was memoized as {kind}, not {expected}',
                    "name": "NonDeterministicError",
                    "code": CODE_NON_DETERMINISTIC,
                    "retryable": False,
                }
            )
        return wire_id, True, memo.get("data")

    def _sleep_op(self, step_id: str, duration: str | int) -> None:
        milliseconds = _declared_ms(duration)  # refused even when memoized ([DUR-3])
        wire_id, found, _ = self._claim(step_id, MEMO_SLEEP)
        if not found:
            until = iso_utc(self._clock() + milliseconds)
            raise StepInterrupt({"op": OP_SLEEP, "id": wire_id, "until": until})

    def _wait_op(
        self, step_id: str, event: str, timeout: str | int, match: dict[str, Any] | None
    ) -> Event | None:
        milliseconds = _declared_ms(timeout)  # refused even when memoized ([DUR-3])
        wire_id, found, data = self._claim(step_id, MEMO_WAIT)
        if found:
            return data  # type: ignore[no-any-return]
        if not isinstance(event, str) or not event:
            raise TypeError("wait_for_event needs an event name")
        if match is not None and not isinstance(match, dict):
            raise TypeError("match must be a dict of key path -> expected value")
        raise StepInterrupt(
            {
                "op": OP_WAIT,
                "id": wire_id,
                "event": event,
                "match": match,
                "until": iso_utc(self._clock() + milliseconds),
            }
        )

    def _send_op(self, step_id: str, event: Event | list[Event]) -> list[Event]:
        wire_id, found, data = self._claim(step_id, MEMO_SEND_EVENT)
        if found:
            return data or []
        events = [event] if isinstance(event, dict) else event
        if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS_PER_SEND:
            raise NonRetriableError(
                f"step.send_event requires 1-{MAX_EVENTS_PER_SEND} events", code=CODE_INVALID_EVENTS
            )
        for index, item in enumerate(events):
            problem = event_problem(item)
            if problem is not None:
                # The engine would refuse the op ([OP-10]); fail clearly instead.
                raise NonRetriableError(
                    f"step.send_event: event {index}: {problem}", code=CODE_INVALID_EVENTS
                )
        if self.traceparent is not None:  # [TRACE-4]: the sent events continue the trace
            events = [e if "traceparent" in e else {**e, "traceparent": self.traceparent}
                      for e in events]
        raise StepInterrupt({"op": OP_SEND_EVENT, "id": wire_id, "events": events})

    def _invoke_op(
        self, step_id: str, function: str, data: Any, timeout: str | int | None, app: str | None
    ) -> Any:
        # [INVOKE-9]: the timeout is a duration, refused even when memoized
        milliseconds = None if timeout is None else parse_duration(timeout)
        wire_id, found, memo = self._claim(step_id, MEMO_INVOKE)
        if found:
            return _invoke_result(wire_id, memo)
        if not self._invoke:
            raise NonRetriableError(
                "step.invoke needs the step-invoke capability, which this app turned off",
                code=CODE_CAPABILITY_OFF,
            )
        if not isinstance(function, str) or not function:
            raise TypeError("step.invoke needs a function id")
        if app is not None and (not isinstance(app, str) or not app):
            raise TypeError("app must be an app id or None")
        until = None if milliseconds is None else iso_utc(self._clock() + milliseconds)
        raise StepInterrupt(
            {
                "op": OP_INVOKE,
                "id": wire_id,
                "function": function,
                "app": app,
                "data": {} if data is None else data,
                "until": until,
            }
        )


def _invoke_result(step_id: str, memo: Any) -> Any:
    """[INVOKE-8]: the child's output, or InvokeError for any other outcome."""
    result = memo if isinstance(memo, dict) else {}
    status = result.get("status")
    if status == "completed":
        return result.get("output")
    found = result.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    raise InvokeError(
        str(error.get("message", f"the invoked run ended {status}")),
        code=CODE_INVOKE.get(str(status), "INVOKE_FAILED"),
        details={"runId": result.get("runId"), "status": status, "error": result.get("error")},
        step_id=step_id,
    )


def _declared_ms(value: str | int) -> int:
    """A step's duration; an invalid one is a non-retriable error of the handler ([ERR-8])."""
    try:
        return parse_duration(value)
    except (TypeError, ValueError) as error:
        raise NonRetriableError(str(error), code=CODE_INVALID_DURATION) from error


def _check_tasks(tasks: Mapping[str, Any]) -> None:
    if not 1 <= len(tasks) <= MAX_PARALLEL_TASKS:
        raise NonRetriableError(
            f"step.parallel requires 1-{MAX_PARALLEL_TASKS} tasks", code=CODE_INVALID_PARALLEL
        )


class Step(_Replay):
    """Steps for a synchronous handler `handler(event, step)`."""

    def run(self, step_id: str, callback: Callable[[], Any]) -> Any:
        """Run `callback` once per run and memoize its JSON result."""
        wire_id, found, data = self._claim(step_id, MEMO_RUN)
        if found:
            return data
        try:
            result = callback()
            if inspect.isawaitable(result):
                result = _run_coroutine(result)
        except StepInterrupt:
            raise
        except Exception as error:
            raise StepInterrupt(error_op(wire_id, error)) from error
        raise StepInterrupt({"op": OP_STEP, "id": wire_id, "data": result})

    def parallel(self, step_id: str, tasks: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
        """Run 1-20 callables in threads inside one `run` step; memoize `{name: result}`."""
        _check_tasks(tasks)

        def execute() -> dict[str, Any]:
            def call(task: Callable[[], Any]) -> Any:
                result = task()
                return _run_coroutine(result) if inspect.isawaitable(result) else result

            with ThreadPoolExecutor(max_workers=len(tasks)) as executor:
                futures = {name: executor.submit(call, task) for name, task in tasks.items()}
                return {name: future.result() for name, future in futures.items()}

        return self.run(step_id, execute)  # type: ignore[no-any-return]

    def sleep(self, step_id: str, duration: str | int) -> None:
        self._sleep_op(step_id, duration)

    def wait_for_event(
        self,
        step_id: str,
        *,
        event: str,
        timeout: str | int,
        match: dict[str, Any] | None = None,
    ) -> Event | None:
        """The matching event, or None when `timeout` passed first."""
        return self._wait_op(step_id, event, timeout, match)

    def send_event(self, step_id: str, event: Event | list[Event]) -> list[Event]:
        """Send 1-100 events transactionally with the step; returns their receipts."""
        return self._send_op(step_id, event)

    def invoke(
        self,
        step_id: str,
        function: str,
        data: Any = None,
        *,
        timeout: str | int | None = None,
        app: str | None = None,
    ) -> Any:
        """Run `function` (of this app, or of `app`) as a child run and return its output;
        raise InvokeError when it failed, was cancelled or outlived `timeout`."""
        return self._invoke_op(step_id, function, data, timeout, app)


class AsyncStep(_Replay):
    """Steps for an `async def handler(event, step)`: every method is awaited."""

    async def run(self, step_id: str, callback: Callable[[], Any]) -> Any:
        """Run `callback` (sync, or async returning an awaitable) once per run."""
        wire_id, found, data = self._claim(step_id, MEMO_RUN)
        if found:
            return data
        try:
            result = callback()
            if inspect.isawaitable(result):
                result = await result
        except StepInterrupt:
            raise
        except Exception as error:
            raise StepInterrupt(error_op(wire_id, error)) from error
        raise StepInterrupt({"op": OP_STEP, "id": wire_id, "data": result})

    async def parallel(
        self, step_id: str, tasks: Mapping[str, Callable[[], Any]]
    ) -> dict[str, Any]:
        """Run 1-20 callables concurrently (async ones on the loop, sync ones in threads)."""
        _check_tasks(tasks)

        async def call(task: Callable[[], Any]) -> Any:
            if inspect.iscoroutinefunction(task):
                return await task()
            result = await asyncio.to_thread(task)
            return await result if inspect.isawaitable(result) else result

        async def execute() -> dict[str, Any]:
            results = await asyncio.gather(*(call(task) for task in tasks.values()))
            return dict(zip(tasks.keys(), results, strict=True))

        return await self.run(step_id, execute)  # type: ignore[no-any-return]

    async def sleep(self, step_id: str, duration: str | int) -> None:
        self._sleep_op(step_id, duration)

    async def wait_for_event(
        self,
        step_id: str,
        *,
        event: str,
        timeout: str | int,
        match: dict[str, Any] | None = None,
    ) -> Event | None:
        return self._wait_op(step_id, event, timeout, match)

    async def send_event(self, step_id: str, event: Event | list[Event]) -> list[Event]:
        return self._send_op(step_id, event)

    async def invoke(
        self,
        step_id: str,
        function: str,
        data: Any = None,
        *,
        timeout: str | int | None = None,
        app: str | None = None,
    ) -> Any:
        return self._invoke_op(step_id, function, data, timeout, app)
