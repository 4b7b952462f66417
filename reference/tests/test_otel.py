"""OpenTelemetry export ([TRACE-6], with [TRACE-3]): an engine with OTEL_EXPORTER_OTLP_ENDPOINT
set exports, over real OTLP/HTTP to a receiver on loopback, one span per run and one per
invocation attempt, in the event's trace; the app receives each attempt's span as its parent.
Off by default."""

from __future__ import annotations

import gzip
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import EngineHandle, wait_for
from durable import DurableFunction, Step
from durable_engine.features.otel import Spans, run_span_id
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SENDER_SPAN = "00f067aa0ba902b7"
TRACE = f"00-{TRACE_ID}-{SENDER_SPAN}-01"


class Receiver:
    """An OTLP/HTTP trace receiver: decodes each export request and keeps its spans."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                receiver.paths.append(self.path)
                for resource in request.resource_spans:
                    service = {a.key: a.value.string_value
                               for a in resource.resource.attributes}.get("service.name")
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            receiver.spans.append(receiver.decode(span, service))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @staticmethod
    def decode(span: Any, service: str | None) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        for item in span.attributes:
            kind = item.value.WhichOneof("value")
            attributes[item.key] = getattr(item.value, kind)
        return {"name": span.name, "trace": span.trace_id.hex(), "id": span.span_id.hex(),
                "parent": span.parent_span_id.hex(), "start": span.start_time_unix_nano,
                "end": span.end_time_unix_nano, "attributes": attributes,
                "service": service, "error": span.status.code == 2}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(scope="module")
def engine(database_url: str, receiver: Receiver) -> Iterator[EngineHandle]:
    """The engine with export on: the endpoint set while it starts, a short batch delay."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "50"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv("DURABLE_OTEL", raising=False)
        handle = EngineHandle(database_url).start()
    yield handle
    handle.stop()


def test_one_span_per_run_and_per_attempt_in_the_events_trace(make_app: Any,
                                                               receiver: Receiver) -> None:
    name = uuid.uuid4().hex[:6]
    seen: list[str | None] = []
    tries = {"n": 0}

    def flaky() -> str:
        tries["n"] += 1
        if tries["n"] == 1:
            raise RuntimeError("first try fails")
        return "ok"

    def handler(event: dict[str, Any], step: Step) -> Any:
        seen.append(step.traceparent)
        return step.run("work", flaky)

    app = make_app([DurableFunction(id="traced", trigger={"event": name}, handler=handler,
                                    retries=2)])
    run_id = app.run_of(app.client.send(name, {}, traceparent=TRACE))
    assert app.wait_run(run_id)["status"] == "completed"

    def spans_of_run() -> list[dict[str, Any]] | None:
        mine = [s for s in receiver.spans if s["attributes"].get("durable.run_id") == run_id]
        return mine if any(s["name"].startswith("run ") for s in mine) else None

    spans = wait_for(spans_of_run, timeout=15)
    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}
    runs = [s for s in spans if s["name"] == "run traced"]
    attempts = [s for s in spans if s["name"] == "invoke traced"]
    assert len(runs) == 1 and len(spans) == len(runs) + len(attempts)
    run = runs[0]
    assert {s["trace"] for s in spans} == {TRACE_ID}  # all in the event's trace
    assert run["parent"] == SENDER_SPAN  # the run's span continues the sender's span
    assert run["id"] == f"{run_span_id(run_id):016x}"
    assert run["service"] == "durable-engine"
    assert run["attributes"]["durable.function_id"] == "traced"
    assert run["attributes"]["durable.status"] == "completed" and not run["error"]

    # The step failed once, then passed, then the run completed: three invocations.
    assert len(seen) == len(attempts) == 3
    assert all(s["parent"] == run["id"] for s in attempts)
    assert len({s["id"] for s in attempts}) == 3  # a new span per attempt
    # [TRACE-3]: each invocation carried the run's trace id and its own attempt's span id.
    assert {tp.split("-")[2] for tp in seen if tp} == {s["id"] for s in attempts}
    assert all(tp is not None and tp.split("-")[1] == TRACE_ID for tp in seen)
    for span in attempts:
        attrs = span["attributes"]
        assert attrs["durable.function_id"] == "traced"
        assert attrs["durable.app_ms"] > 0 and attrs["durable.engine_ms"] >= 0
        assert attrs["http.response.status_code"] == 200
        assert run["start"] <= span["start"] <= span["end"] <= run["end"]
    assert sorted(s["attributes"]["durable.attempt"] for s in attempts) == [0, 0, 1]


def test_an_unsampled_trace_exports_nothing(make_app: Any, receiver: Receiver) -> None:
    name = uuid.uuid4().hex[:6]
    seen: list[str | None] = []
    app = make_app([DurableFunction(id="quiet", trigger={"event": name},
                                    handler=lambda e, s: seen.append(s.traceparent))])
    unsampled = TRACE[:-2] + "00"
    run_id = app.run_of(app.client.send(name, {}, traceparent=unsampled))
    assert app.wait_run(run_id)["status"] == "completed"
    assert seen == [unsampled]  # no span recorded: the stored traceparent is sent
    marker = uuid.uuid4().hex[:6]  # a sampled run after it: once exported, the first was too
    other = make_app([DurableFunction(id="loud", trigger={"event": marker},
                                      handler=lambda e, s: 1)])
    other_id = other.run_of(other.client.send(marker, {}, traceparent=TRACE))
    assert other.wait_run(other_id)["status"] == "completed"
    wait_for(lambda: any(s["attributes"].get("durable.run_id") == other_id
                         and s["name"].startswith("run ") for s in receiver.spans), timeout=15)
    assert not [s for s in receiver.spans if s["attributes"].get("durable.run_id") == run_id]


def test_export_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("DURABLE_OTEL", "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(key, raising=False)
    spans = Spans.from_env()
    assert not spans.enabled and spans.attempt(TRACE, "r") is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setenv("DURABLE_OTEL", "0")
    assert not Spans.from_env().enabled
    monkeypatch.setenv("DURABLE_OTEL", "1")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    on = Spans.from_env()
    try:
        assert on.enabled
        attempt = on.attempt(TRACE, "r")
        assert attempt is not None and attempt.traceparent.startswith(f"00-{TRACE_ID}-")
        assert attempt.traceparent != TRACE and on.attempt("00-bad", "r") is None
    finally:
        on.shutdown()


def test_a_run_cancelled_through_the_api_ends_its_span(make_app: Any,
                                                       receiver: Receiver) -> None:
    name = uuid.uuid4().hex[:6]
    app = make_app([DurableFunction(id="napper", trigger={"event": name},
                                    handler=lambda e, s: s.sleep("nap", "1h"))])
    run_id = app.run_of(app.client.send(name, {}, traceparent=TRACE))
    wait_for(lambda: app.client.get_run(run_id)["status"] == "sleeping", timeout=15)
    app.client.cancel_run(run_id)
    spans = wait_for(lambda: [s for s in receiver.spans if s["name"] == "run napper"
                              and s["attributes"]["durable.run_id"] == run_id], timeout=15)
    (run,) = spans
    assert run["attributes"]["durable.status"] == "cancelled" and run["error"]
    assert (run["trace"], run["parent"], run["id"]) == (TRACE_ID, SENDER_SPAN,
                                                        f"{run_span_id(run_id):016x}")
    (attempt,) = [s for s in receiver.spans if s["name"] == "invoke napper"
                  and s["attributes"]["durable.run_id"] == run_id]
    assert attempt["parent"] == run["id"]


def test_a_trace_the_engine_starts_has_the_runs_span_as_its_root(
        make_app: Any, receiver: Receiver, database_url: str) -> None:
    from conftest import query
    from durable_engine.features.trace import new_traceparent, root_parent_id

    name = uuid.uuid4().hex[:6]
    app = make_app([DurableFunction(id="rooted", trigger={"event": name},
                                    handler=lambda e, s: 1)])
    run_id = app.run_of(app.send(name))  # no traceparent: the engine makes one
    stored = app.wait_run(run_id)["traceparent"]
    _, trace_id, parent_id, _ = stored.split("-")
    assert parent_id == root_parent_id(trace_id)
    spans = wait_for(lambda: [s for s in receiver.spans
                              if s["attributes"].get("durable.run_id") == run_id]
                     if any(s["name"] == "run rooted" and s["attributes"]["durable.run_id"]
                            == run_id for s in receiver.spans) else None, timeout=15)
    (run,) = [s for s in spans if s["name"] == "run rooted"]
    (attempt,) = [s for s in spans if s["name"] == "invoke rooted"]
    assert run["trace"] == trace_id and run["parent"] == ""  # the trace's root
    assert attempt["parent"] == run["id"]
    # the SQL function (cron, debounce, batch, reruns) derives the parent id the same way
    made = query(database_url, "SELECT durable_new_traceparent() AS t")[0]["t"]
    assert made.split("-")[2] == root_parent_id(made.split("-")[1])
    mine = new_traceparent()
    assert mine.split("-")[2] == root_parent_id(mine.split("-")[1])
