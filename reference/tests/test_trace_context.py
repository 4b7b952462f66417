"""Trace context end to end ([TRACE-1..5]) with apps on our SDK: the event's traceparent is
carried on the run, sent on every invocation (member and header), continued by a child and
by the events a run sends; a run whose event had none gets a new one."""

from __future__ import annotations

import re
import uuid
from typing import Any

from durable import DurableFunction, Step

TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
VALID = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-01$")


def test_the_trace_follows_the_run_its_child_and_its_events(make_app: Any) -> None:
    name = uuid.uuid4().hex[:6]
    seen: dict[str, str | None] = {}

    def parent(event: dict[str, Any], step: Step) -> Any:
        seen["parent"] = step.traceparent
        step.invoke("call", "child", {})
        step.send_event("tell", {"name": f"{name}.told"})
        return "ok"

    def child(event: dict[str, Any], step: Step) -> Any:
        seen["child"] = step.traceparent
        return 1

    def told(event: dict[str, Any], step: Step) -> Any:
        seen["told"] = step.traceparent
        return 1

    app = make_app([
        DurableFunction(id="parent", trigger={"event": f"{name}.go"}, handler=parent),
        DurableFunction(id="child", trigger={"event": f"{name}.never"}, handler=child),
        DurableFunction(id="told", trigger={"event": f"{name}.told"}, handler=told),
    ])
    run_id = app.run_of(app.client.send(f"{name}.go", {}, traceparent=TRACE))
    assert app.wait_run(run_id)["status"] == "completed"
    assert app.client.get_run(run_id)["traceparent"] == TRACE  # [TRACE-5]
    told_runs = app.client.search_runs(function_id="told")["runs"]
    assert told_runs and app.wait_run(told_runs[0]["runId"])["status"] == "completed"
    assert seen == {"parent": TRACE, "child": TRACE, "told": TRACE}  # [TRACE-2..4]


def test_an_event_without_one_starts_a_new_trace(make_app: Any) -> None:
    name = uuid.uuid4().hex[:6]
    seen: list[str | None] = []
    app = make_app([DurableFunction(id="plain", trigger={"event": name},
                                    handler=lambda e, s: seen.append(s.traceparent))])
    first = app.wait_run(app.run_of(app.send(name)))
    second = app.wait_run(app.run_of(app.send(name)))
    assert VALID.match(first["traceparent"]) and VALID.match(second["traceparent"])
    assert first["traceparent"] != second["traceparent"]
    assert seen == [first["traceparent"], second["traceparent"]]


def test_an_invalid_traceparent_is_refused(make_app: Any) -> None:
    from durable import DurableError

    app = make_app([])
    try:
        app.client._post("/e", {"name": "x", "traceparent": "00-" + "0" * 32 + "-" + "1" * 16
                                + "-01"})
    except DurableError as error:
        assert (error.status, error.code, error.path) == (400, "INVALID_REQUEST",
                                                          "/traceparent")
    else:
        raise AssertionError("an all-zero trace id was accepted")


def test_a_batch_run_keeps_its_first_events_trace_and_a_debounce_its_last(
        make_app: Any) -> None:
    name = uuid.uuid4().hex[:6]
    first, last = (f"00-{c * 32}-{'2' * 16}-01" for c in ("a", "b"))
    app = make_app([
        DurableFunction(id="batched", trigger={"event": f"{name}.b"}, handler=lambda e, s: 1,
                        batch={"max_size": 2, "timeout": "5s"}),
        DurableFunction(id="debounced", trigger={"event": f"{name}.d"},
                        handler=lambda e, s: 1, debounce={"period": "300ms"}),
    ])
    for trace in (first, last):
        app.client.send(f"{name}.b", {}, traceparent=trace)
        app.client.send(f"{name}.d", {}, traceparent=trace)

    def run_of(function_id: str) -> dict[str, Any] | None:
        runs = app.client.search_runs(function_id=function_id)["runs"]
        return app.client.get_run(runs[0]["runId"]) if runs else None

    from conftest import wait_for

    batched = wait_for(lambda: run_of("batched"), timeout=10)
    debounced = wait_for(lambda: run_of("debounced"), timeout=10)
    assert batched["traceparent"] == first  # [TRACE-2]
    assert debounced["traceparent"] == last
