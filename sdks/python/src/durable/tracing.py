"""Trace context ([TRACE-4]): the run's W3C traceparent, parsed, and a hook that wraps each
invocation of a handler so that the app's tracing continues the engine's trace.

The SDK depends on no tracing library. `opentelemetry_hook()` uses the OpenTelemetry API
when the app has it installed (`opentelemetry-api`), imported only when the hook is made.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from .events import TRACEPARENT


@dataclass(frozen=True)
class TraceContext:
    """A W3C Trace Context version 00 traceparent, split into its fields."""

    trace_id: str  # 32 lowercase hex digits
    parent_id: str  # 16 lowercase hex digits: the engine's span for this invocation
    flags: int

    @property
    def sampled(self) -> bool:
        return bool(self.flags & 0x01)

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.parent_id}-{self.flags:02x}"

    @classmethod
    def parse(cls, value: object) -> TraceContext | None:
        """The context of a valid traceparent; None for anything else (never raises)."""
        if not isinstance(value, str) or not TRACEPARENT.match(value):
            return None
        _, trace_id, parent_id, flags = value.split("-")
        return cls(trace_id, parent_id, int(flags, 16))


@dataclass(frozen=True)
class TracedInvocation:
    """What a trace hook is told about the invocation it wraps."""

    trace: TraceContext
    function_id: str
    run_id: str
    attempt: int
    failure: bool  # the invocation runs the function's on_failure handler


#: A trace hook: called before each invocation that carries a traceparent; the handler runs
#: inside the context manager it returns (its __exit__ sees the handler's exception, if any).
TraceHook = Callable[[TracedInvocation], AbstractContextManager[Any]]


def opentelemetry_hook(tracer: Any = None, *, span_name: str = "durable {function_id}"
                       ) -> TraceHook:
    """A trace hook that opens one OpenTelemetry span per invocation, a child of the engine's
    span, current while the handler runs (so the app's own spans nest under it). `tracer`
    defaults to the global provider's tracer `durable`. Needs `opentelemetry-api`."""
    try:
        from opentelemetry import trace as otel_trace
        from opentelemetry.trace import (
            NonRecordingSpan,
            SpanContext,
            SpanKind,
            Status,
            StatusCode,
            TraceFlags,
        )
    except ImportError as error:
        raise RuntimeError("opentelemetry_hook needs the opentelemetry-api package") from error
    chosen = tracer if tracer is not None else otel_trace.get_tracer("durable")

    @contextlib.contextmanager
    def hook(invocation: TracedInvocation) -> Iterator[None]:
        trace = invocation.trace
        parent = SpanContext(int(trace.trace_id, 16), int(trace.parent_id, 16),
                             is_remote=True, trace_flags=TraceFlags(trace.flags))
        context = otel_trace.set_span_in_context(NonRecordingSpan(parent))
        attributes: dict[str, str | int | bool] = {
            "durable.run_id": invocation.run_id, "durable.function_id": invocation.function_id,
            "durable.attempt": invocation.attempt, "durable.failure_handler": invocation.failure}
        # A step that ends the invocation is not an error: only the handler's own exceptions
        # (Exception, not the BaseException a step raises to answer) mark the span.
        with chosen.start_as_current_span(
                span_name.format(function_id=invocation.function_id), context=context,
                kind=SpanKind.SERVER, attributes=attributes, record_exception=False,
                set_status_on_exception=False) as span:
            try:
                yield
            except Exception as error:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
                raise

    return hook
