"""Trace context for handlers ([TRACE-4]): `step.trace` is the engine's traceparent parsed, a
`trace_hook` wraps each invocation that carries one, and `opentelemetry_hook()` continues the
engine's trace in OpenTelemetry (the SDK itself depends on no tracing library)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from durable import (
    DurableFunction,
    Step,
    TraceContext,
    TracedInvocation,
    handle_request,
    opentelemetry_hook,
)
from durable_testkit import KEY, encode, invoke_headers
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
ENGINE_SPAN = "00f067aa0ba902b7"
TRACE = f"00-{TRACE_ID}-{ENGINE_SPAN}-01"


def answer(functions: list[DurableFunction], request: dict[str, Any],
           **options: Any) -> dict[str, Any]:
    body = encode({"runId": "r1", "event": {"name": "go", "data": {}}, "steps": {}, **request})
    reply = handle_request("POST", invoke_headers(body), body, functions, signing_key=KEY,
                           **options)
    return json.loads(reply.body)  # type: ignore[no-any-return]


def test_trace_context_parses_only_valid_traceparents() -> None:
    trace = TraceContext.parse(TRACE)
    assert trace == TraceContext(TRACE_ID, ENGINE_SPAN, 1)
    assert trace is not None and trace.sampled and trace.traceparent == TRACE
    assert not TraceContext(TRACE_ID, ENGINE_SPAN, 0).sampled
    for bad in (None, 7, "", "00-bad", TRACE.upper(), f"01-{TRACE_ID}-{ENGINE_SPAN}-01",
                f"00-{'0' * 32}-{ENGINE_SPAN}-01", f"00-{TRACE_ID}-{'0' * 16}-01"):
        assert TraceContext.parse(bad) is None


def test_step_trace_is_the_invocations_traceparent() -> None:
    def show(event: dict[str, Any], step: Step) -> Any:
        trace = step.trace
        return None if trace is None else [trace.trace_id, trace.parent_id, trace.sampled]

    functions = [DurableFunction(id="show", trigger={"event": "go"}, handler=show)]
    assert answer(functions, {"functionId": "show", "traceparent": TRACE})["data"] == [
        TRACE_ID, ENGINE_SPAN, True]
    assert answer(functions, {"functionId": "show"})["data"] is None
    assert answer(functions, {"functionId": "show", "traceparent": "00-x"})["data"] is None
    off = answer(functions, {"functionId": "show", "traceparent": TRACE},
                 capabilities=["strict-replay"])
    assert off["data"] is None  # trace-context not advertised: nothing exposed


def test_the_trace_hook_wraps_each_traced_invocation() -> None:
    calls: list[tuple[str, Any]] = []

    @contextlib.contextmanager
    def hook(invocation: TracedInvocation) -> Iterator[None]:
        calls.append(("enter", invocation))
        try:
            yield
        except Exception as error:
            calls.append(("error", str(error)))
            raise
        finally:
            calls.append(("exit", None))

    def work(event: dict[str, Any], step: Step) -> Any:
        calls.append(("handler", step.trace))
        if event["data"].get("fail"):
            raise ValueError("boom")
        return step.run("a", lambda: 1)

    functions = [DurableFunction(id="work", trigger={"event": "go"}, handler=work)]
    op = answer(functions, {"functionId": "work", "traceparent": TRACE, "attempt": 2},
                trace_hook=hook)
    assert op["op"] == "step" and op["id"] == "a"  # a step answered: no error seen
    assert [c[0] for c in calls] == ["enter", "handler", "exit"]
    invocation = calls[0][1]
    assert invocation == TracedInvocation(TraceContext(TRACE_ID, ENGINE_SPAN, 1), "work",
                                          "r1", 2, False)
    calls.clear()
    failing = {"functionId": "work", "traceparent": TRACE,
               "event": {"name": "go", "data": {"fail": True}}}
    assert answer(functions, failing, trace_hook=hook)["op"] == "error"
    assert [c[0] for c in calls] == ["enter", "handler", "error", "exit"]
    calls.clear()
    assert answer(functions, {"functionId": "work"}, trace_hook=hook)["op"] == "step"
    assert [c[0] for c in calls] == ["handler"]  # no traceparent: the hook is not called
    with pytest.raises(ValueError, match="trace_hook"):
        answer(functions, {"functionId": "work"}, trace_hook="not callable")


@pytest.fixture
def otel() -> Iterator[tuple[Any, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


def test_opentelemetry_hook_continues_the_engines_trace(
        otel: tuple[Any, InMemorySpanExporter]) -> None:
    tracer, exporter = otel

    def work(event: dict[str, Any], step: Step) -> Any:
        with tracer.start_as_current_span("inside"):
            pass
        if event["data"].get("fail"):
            raise ValueError("boom")
        return step.run("a", lambda: 1)

    async def work_async(event: dict[str, Any], step: Any) -> Any:
        await asyncio.sleep(0)
        with tracer.start_as_current_span("inside async"):
            return 2

    functions = [DurableFunction(id="work", trigger={"event": "go"}, handler=work),
                 DurableFunction(id="later", trigger={"event": "go"}, handler=work_async)]
    hook = opentelemetry_hook(tracer)
    assert answer(functions, {"functionId": "work", "traceparent": TRACE},
                  trace_hook=hook)["op"] == "step"
    inside, outer = exporter.get_finished_spans()
    assert outer.name == "durable work"
    assert f"{outer.context.trace_id:032x}" == TRACE_ID
    assert f"{outer.parent.span_id:016x}" == ENGINE_SPAN and outer.parent.is_remote
    assert outer.attributes["durable.run_id"] == "r1"
    assert outer.status.status_code is StatusCode.UNSET  # a step is not an error
    assert inside.parent.span_id == outer.context.span_id  # the app's spans nest under it
    assert inside.context.trace_id == outer.context.trace_id

    exporter.clear()
    failing = {"functionId": "work", "traceparent": TRACE,
               "event": {"name": "go", "data": {"fail": True}}}
    assert answer(functions, failing, trace_hook=hook)["op"] == "error"
    outer = exporter.get_finished_spans()[-1]
    assert outer.status.status_code is StatusCode.ERROR
    assert outer.events[0].name == "exception"

    exporter.clear()
    assert answer(functions, {"functionId": "later", "traceparent": TRACE},
                  trace_hook=hook) == {"op": "done", "data": 2}
    inside, outer = exporter.get_finished_spans()
    assert (outer.name, inside.parent.span_id) == ("durable later", outer.context.span_id)
    assert f"{outer.parent.span_id:016x}" == ENGINE_SPAN
