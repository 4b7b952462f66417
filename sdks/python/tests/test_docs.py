"""The README quick start and the example app work as written."""

from __future__ import annotations

import importlib.util
import json
import re
from typing import Any

import pytest
from durable import handle_request
from durable_testkit import KEY, SDK, encode, invoke_headers, manifest_headers
from test_adapters import request


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (SDK / "README.md").read_text(), re.S)


def test_quick_start_serves_and_runs(serve_wsgi: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DURABLE_SIGNING_KEY", KEY)
    namespace: dict[str, Any] = {"__name__": "quickstart"}
    exec(compile(readme_python_blocks()[0], "<README quick start>", "exec"), namespace)
    base = serve_wsgi(namespace["application"])
    assert request(base + "/api/durable")[0] == 401
    assert request(base + "/elsewhere")[0] == 404
    assert request(base + "/api/durable", headers=manifest_headers())[0] == 200
    body = encode({"functionId": "onboarding", "runId": "r", "steps": {},
                   "event": {"name": "user.created", "data": {"userId": "u1"}}})
    status, _, answer = request(base + "/api/durable", "POST", body, invoke_headers(body))
    assert (status, json.loads(answer)) == (
        200, {"op": "step", "id": "load-user", "data": {"id": "u1", "plan": "free"}})


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("durable_example", SDK / "examples" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_async_workflow_replays_to_the_end() -> None:
    functions = load_example().functions
    steps: dict[str, Any] = {}
    event = {"name": "user.welcomed", "data": {"userId": "u9"}}
    ops = []
    for _ in range(10):
        body = encode({"functionId": "enrich", "runId": "r", "event": event, "steps": steps})
        answer = json.loads(
            handle_request("POST", invoke_headers(body), body, functions, signing_key=KEY).body
        )
        ops.append(answer)
        if answer["op"] != "step":
            break
        steps[answer["id"]] = {"type": "run", "data": answer["data"]}
    assert [o.get("id") for o in ops[:-1]] == ["lookups", "score", "score#2", "score#3"]
    assert ops[-1] == {"op": "done", "data": {
        "profiles": {"crm": {"source": "crm", "userId": "u9"},
                     "billing": {"source": "billing", "userId": "u9"}},
        "scores": [0, 10, 20]}}


def test_protocol_1_1_options_example_gives_the_wire_members() -> None:
    block = next(b for b in readme_python_blocks() if "cancel_on=" in b)
    namespace: dict[str, Any] = {"__name__": "protocol_1_1"}
    exec(compile(block, "<README protocol 1.1 options>", "exec"), namespace)
    definition = namespace["fulfil_order"].definition()
    assert definition["cancelOn"] == [{"event": "order.refunded",
                                       "match": {"orderId": "order.id"},
                                       "timeoutMs": 7 * 86_400_000}]
    assert definition["idempotency"] == {"key": "order.id", "periodMs": 86_400_000}
    assert "singleton" not in definition  # [MINOR-2]: only what was set
    assert namespace["nightly_report"].definition()["singleton"] == {
        "key": "tenantId", "mode": "skip"}


def test_step_invoke_example_invokes_and_handles_a_timeout() -> None:
    block = next(b for b in readme_python_blocks() if "step.invoke(" in b)
    namespace: dict[str, Any] = {"__name__": "step_invoke"}
    exec(compile(block, "<README step.invoke>", "exec"), namespace)
    functions = [namespace["checkout"]]

    def answer(steps: dict[str, Any]) -> dict[str, Any]:
        body = encode({"functionId": "checkout", "runId": "r", "steps": steps,
                       "event": {"name": "cart.checkout", "data": {"cartId": "k1"}}})
        reply = handle_request("POST", invoke_headers(body), body, functions, signing_key=KEY)
        return json.loads(reply.body)  # type: ignore[no-any-return]

    op = answer({})
    assert (op["op"], op["id"], op["function"], op["data"]) == (
        "invoke", "charge", "charge-card", {"cartId": "k1"})
    assert op["app"] is None and op["until"].endswith("Z")
    done = {"type": "invoke", "data": {"runId": "c", "status": "completed",
                                       "output": {"amount": 12}}}
    assert answer({"charge": done}) == {"op": "done", "data": {"charged": 12}}
    late = {"type": "invoke", "data": {"runId": "c", "status": "timedOut", "error": {
        "name": "DurableError", "code": "INVOKE_TIMEOUT", "message": "too slow"}}}
    assert answer({"charge": late}) == {"op": "done", "data": {"charged": 0,
                                                               "retry_later": True}}


def test_trace_hook_example_continues_the_trace(serve_wsgi: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())  # the app's global provider, once
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setenv("DURABLE_SIGNING_KEY", KEY)
    block = next(b for b in readme_python_blocks() if "opentelemetry_hook()" in b)
    namespace: dict[str, Any] = {"__name__": "trace_hook"}
    exec(compile(block, "<README trace hook>", "exec"), namespace)
    base = serve_wsgi(namespace["app"])
    trace_id, engine_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    body = encode({"functionId": "ship", "runId": "r", "attempt": 0,
                   "traceparent": f"00-{trace_id}-{engine_span}-01",
                   "steps": {"label": {"type": "run", "data": {"order": "o1"}}},
                   "event": {"name": "order.paid", "data": {"orderId": "o1"}}})
    status, _, answer = request(base + "/api/durable", "POST", body, invoke_headers(body))
    assert (status, json.loads(answer)) == (
        200, {"op": "done", "data": {"order": "o1", "trace": trace_id}})
    (span,) = exporter.get_finished_spans()
    assert span.name == "durable ship" and span.parent is not None
    assert f"{span.context.trace_id:032x}" == trace_id
    assert f"{span.parent.span_id:016x}" == engine_span
    exporter.shutdown()
