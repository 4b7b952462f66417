"""Protocol 1.1 app side: trace context continued ([TRACE-4]) and step.invoke refused when
the app turned step-invoke off ([INVOKE-1])."""

from __future__ import annotations

import json
from typing import Any

from durable import DurableFunction, handle_request
from durable_testkit import KEY, encode, invoke_headers

TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
OWN = f"00-{'1' * 32}-{'2' * 16}-01"


def sender(event: dict[str, Any], step: Any) -> Any:
    step.send_event("out", [{"name": "a"}, {"name": "b", "traceparent": OWN}])
    return step.traceparent


def caller(event: dict[str, Any], step: Any) -> Any:
    return step.invoke("call", "child", {"n": 1})


FUNCTIONS = [DurableFunction(id="sender", trigger={"event": "go"}, handler=sender),
             DurableFunction(id="caller", trigger={"event": "go"}, handler=caller)]


def answer(request: dict[str, Any], **options: Any) -> dict[str, Any]:
    body = encode({"runId": "r", "event": {"name": "go", "data": {}}, "steps": {}, **request})
    reply = handle_request("POST", invoke_headers(body), body, FUNCTIONS, signing_key=KEY,
                           **options)
    return json.loads(reply.body)  # type: ignore[no-any-return]


def test_sent_events_continue_the_invocations_trace() -> None:
    op = answer({"functionId": "sender", "traceparent": TRACE})
    assert op["events"] == [{"name": "a", "traceparent": TRACE},
                            {"name": "b", "traceparent": OWN}]


def test_no_trace_without_one_or_with_trace_context_off() -> None:
    plain = [{"name": "a"}, {"name": "b", "traceparent": OWN}]
    assert answer({"functionId": "sender"})["events"] == plain
    assert answer({"functionId": "sender", "traceparent": "00-bad"})["events"] == plain
    off = answer({"functionId": "sender", "traceparent": TRACE},
                 capabilities=["strict-replay"])
    assert off["events"] == plain


def test_the_handler_sees_the_traceparent() -> None:
    steps = {"out": {"type": "sendEvent", "data": []}}
    op = answer({"functionId": "sender", "traceparent": TRACE, "steps": steps})
    assert op == {"op": "done", "data": TRACE}


def test_step_invoke_is_refused_with_the_capability_off() -> None:
    op = answer({"functionId": "caller"}, capabilities=["strict-replay"])
    assert (op["op"], op["code"], op["retryable"]) == ("error", "CAPABILITY_OFF", False)
    assert answer({"functionId": "caller"})["op"] == "invoke"
