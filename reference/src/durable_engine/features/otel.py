"""OpenTelemetry span export ([TRACE-6]), off by default.

On when `DURABLE_OTEL=1`, or when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (and `DURABLE_OTEL` is
not `0`); it needs the `otel` extra (opentelemetry-sdk and the OTLP/HTTP exporter), which reads
the standard `OTEL_EXPORTER_OTLP_*` and `OTEL_SERVICE_NAME` variables.

Spans are in the run's trace (its stored traceparent, [TRACE-2]):
- the run's span: its id derived from the run id (so every engine process that invokes the
  run agrees on it without storing it), parented to the stored traceparent's parent id (a
  root when the engine made that traceparent, see features/trace.py), from the run's
  creation to its end; exported by the process that ends the run;
- one span per invocation attempt, a child of the run's span, with a new random id that is
  the parent id of the traceparent sent to the app ([TRACE-3]), so the app's spans nest
  under the attempt that called it.
Spans are built whole once they ended and handed to a batch processor (a background thread
exports them), so the engine's loop never waits on the collector.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .trace import root_parent_id

log = logging.getLogger("durable.engine")

SERVICE = "durable-engine"


def _ns(value: datetime) -> int:
    return int(value.timestamp() * 1_000_000_000)


def run_span_id(run_id: str) -> int:
    """The run's span id: the first 8 bytes of SHA-256 of its id, never zero."""
    value = int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:8], "big")
    return value or 1


@dataclass(frozen=True)
class Attempt:
    """The span of one invocation attempt, chosen before the request is sent."""

    trace_id: int
    span_id: int
    parent_id: int  # the run's span
    flags: int

    @property
    def traceparent(self) -> str:
        """What the app receives ([TRACE-3]): the run's trace, this attempt's span."""
        return f"00-{self.trace_id:032x}-{self.span_id:016x}-{self.flags:02x}"


def parse(traceparent: str | None) -> tuple[int, int, int] | None:
    """(trace id, parent id, flags) of a valid version 00 traceparent, else None."""
    if traceparent is None:
        return None
    parts = traceparent.split("-")
    if len(parts) != 4 or parts[0] != "00" or len(parts[1]) != 32 or len(parts[2]) != 16 \
            or len(parts[3]) != 2:
        return None
    try:
        trace_id, parent_id, flags = (int(parts[1], 16), int(parts[2], 16), int(parts[3], 16))
    except ValueError:
        return None
    if trace_id == 0 or parent_id == 0:
        return None
    return trace_id, parent_id, flags


class Spans:
    """Records the spans of [TRACE-6]; when disabled every method does nothing and
    `attempt()` returns None (the stored traceparent is sent unchanged)."""

    def __init__(self, processor: Any = None) -> None:
        self._processor = processor  # an opentelemetry SpanProcessor, None: disabled
        self._resource: Any = None
        self._scope: Any = None
        if processor is not None:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.util.instrumentation import InstrumentationScope

            self._resource = Resource.create({"service.name": SERVICE}
                                             if not os.environ.get("OTEL_SERVICE_NAME")
                                             else {})
            self._scope = InstrumentationScope("durable_engine")

    @property
    def enabled(self) -> bool:
        return self._processor is not None

    @classmethod
    def from_env(cls) -> Spans:
        flag = os.environ.get("DURABLE_OTEL", "").strip().lower()
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or \
            os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        if flag in ("0", "false", "no", "off") or (flag not in ("1", "true", "yes", "on")
                                                    and not endpoint):
            return cls()
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter,
            )
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as error:
            if flag:
                raise RuntimeError(
                    "DURABLE_OTEL=1 needs the otel extra: pip install 'durable-engine[otel]'"
                ) from error
            log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the otel extra is not "
                        "installed (pip install 'durable-engine[otel]'): no spans exported")
            return cls()
        return cls(BatchSpanProcessor(OTLPSpanExporter()))

    def attempt(self, traceparent: str | None, run_id: str) -> Attempt | None:
        """A new span for the next invocation attempt of the run, in its trace; None when
        export is off or the trace is not sampled (no span is recorded: the stored
        traceparent is sent, [TRACE-3])."""
        parsed = parse(traceparent) if self.enabled else None
        if parsed is None or not parsed[2] & 0x01:
            return None
        trace_id, _, flags = parsed
        span_id = 0
        while span_id == 0:
            span_id = secrets.randbits(64)
        return Attempt(trace_id, span_id, run_span_id(run_id), flags)

    def attempt_ended(self, attempt: Attempt | None, *, function_id: str, run_id: str,
                      number: int, namespace: str, start: datetime, end: datetime,
                      app_ms: float, engine_ms: float, http_status: int | None,
                      op: str | None, error: str | None) -> None:
        if attempt is None or self._processor is None:
            return
        attributes: dict[str, Any] = {
            "durable.run_id": run_id, "durable.function_id": function_id,
            "durable.attempt": number, "durable.namespace": namespace,
            "durable.app_ms": float(app_ms), "durable.engine_ms": float(engine_ms)}
        if http_status is not None:
            attributes["http.response.status_code"] = http_status
        if op is not None:
            attributes["durable.op"] = op
        self._emit(f"invoke {function_id}", attempt.trace_id, attempt.span_id,
                   attempt.parent_id, attempt.flags, start, end, attributes, error,
                   client=True)

    def run_ended(self, traceparent: str | None, *, run_id: str, function_id: str,
                  status: str, created: datetime | None, end: datetime) -> None:
        parsed = parse(traceparent) if self.enabled else None
        if parsed is None:
            return
        trace_id, parent_id, flags = parsed
        attributes = {"durable.run_id": run_id, "durable.function_id": function_id,
                      "durable.status": status}
        if f"{parent_id:016x}" == root_parent_id(f"{trace_id:032x}"):
            parent_id = 0  # the engine started this trace: the run's span is its root
        self._emit(f"run {function_id}", trace_id, run_span_id(run_id), parent_id, flags,
                   created or end, end, attributes,
                   None if status == "completed" else f"run {status}", client=False)

    def _emit(self, name: str, trace_id: int, span_id: int, parent_id: int, flags: int,
              start: datetime, end: datetime, attributes: dict[str, Any], error: str | None,
              *, client: bool) -> None:
        if not flags & 0x01:  # not sampled upstream: recorded by nobody ([TRACE-6])
            return
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

        flags_ = TraceFlags(flags & 0xFF)
        span = ReadableSpan(
            name=name,
            context=SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags_),
            parent=SpanContext(trace_id, parent_id, is_remote=True, trace_flags=flags_)
            if parent_id else None,
            resource=self._resource, attributes=attributes,
            kind=SpanKind.CLIENT if client else SpanKind.INTERNAL,
            status=Status(StatusCode.ERROR, error) if error else Status(StatusCode.UNSET),
            start_time=_ns(start), end_time=max(_ns(end), _ns(start)),
            instrumentation_scope=self._scope)
        try:
            self._processor.on_end(span)
        except Exception as problem:  # noqa: BLE001 - tracing never breaks a run
            log.warning("span export: %s", problem)

    def shutdown(self) -> None:
        """Export what is buffered and stop the exporter (blocking: run it off the loop)."""
        if self._processor is not None:
            self._processor.shutdown()
            self._processor = None
