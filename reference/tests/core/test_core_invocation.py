"""The invocation codec: request body, signature headers and answers read into typed ops."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from durable_engine import signing
from durable_engine.core.context import RunContext
from durable_engine.core.invocation import (
    MAX_ANSWER_BYTES,
    MAX_STEPS,
    DoneOp,
    ErrorOp,
    SendEventOp,
    SleepOp,
    StepOp,
    WaitOp,
    decode_op,
    dumps,
    memo_refusal,
    read_answer,
    refusal,
    request_body,
    request_headers,
    signs_v2,
)
from durable_engine.validation import Invalid

KEY = "k" * 32


def ctx(**more: Any) -> RunContext:
    base: dict[str, Any] = {"run_id": "r1", "workspace_id": "ws", "function_id": "f",
                            "event": {"name": "e", "data": {}}, "definition": {"id": "f"},
                            "app_url": "http://app", "keys": [KEY]}
    return RunContext(**{**base, **more})


def test_decode_every_op() -> None:
    assert decode_op({"op": "step", "id": "a", "data": [1]}) == StepOp("a", [1])
    assert decode_op({"op": "step", "id": "a"}) == StepOp("a", None)
    events = [{"name": "x"}]
    assert decode_op({"op": "sendEvent", "id": "s", "events": events}) == \
        SendEventOp("s", events)
    sleep = decode_op({"op": "sleep", "id": "z", "until": "2026-01-01T00:00:01.5Z"})
    assert sleep == SleepOp("z", datetime(2026, 1, 1, 0, 0, 1, 500000, tzinfo=UTC))
    wait = decode_op({"op": "wait", "id": "w", "event": "ev", "until": "2026-01-01T00:00:00Z",
                      "match": {"data.a": 1}})
    assert isinstance(wait, WaitOp) and wait.event == "ev" and wait.match == {"data.a": 1}
    assert decode_op({"op": "done"}) == DoneOp(None)
    error = decode_op({"op": "error", "id": None, "message": "m", "retryable": False,
                       "details": None})
    assert isinstance(error, ErrorOp) and not error.retryable
    assert error.error() == {"message": "m", "name": "Error", "details": None}


@pytest.mark.parametrize("value", [
    [], {"op": "nope"}, {"op": "step"}, {"op": "step", "id": "a", "extra": 1},
    {"op": "sleep", "id": "a", "until": "tomorrow"},
    {"op": "error", "id": None, "message": "m", "retryable": "yes"},
])
def test_decode_refuses_what_is_not_an_op(value: Any) -> None:
    with pytest.raises(Invalid):
        decode_op(value)


def test_error_object_keeps_the_apps_fields_and_the_step() -> None:
    op = ErrorOp("boom", "s1", True, "TypeError", "E1", {"x": 1})
    assert op.error() == {"message": "boom", "name": "TypeError", "code": "E1",
                          "details": {"x": 1}, "stepId": "s1"}


def test_request_body() -> None:
    c = ctx(steps={"a": {"type": "run", "data": 1}})
    assert request_body(c, "r1", "main", 2) == {
        "functionId": "f", "runId": "r1", "event": {"name": "e", "data": {}},
        "steps": {"a": {"type": "run", "data": 1}}, "attempt": 2}
    batch = request_body(ctx(events=[{"name": "e"}]), "r1", "main", 0)
    assert batch["events"] == [{"name": "e"}]
    failure = request_body(ctx(error={"message": "x", "name": "E"}), "r1", "failure", 0)
    assert failure["failure"] == {"message": "x", "name": "E"}
    assert request_body(ctx(), "r1", "failure", 0)["failure"]["message"] == "run failed"


def test_headers_v1_and_v2() -> None:
    body = dumps({"a": 1})
    v1 = request_headers([KEY], body, False, "123")
    assert v1["X-Durable-Signature"] == signing.sign(KEY, body)
    assert "X-Durable-Signature-V2" not in v1
    v2 = request_headers([KEY], body, True, "123")
    assert v2["X-Durable-Signature-V2"] == signing.sign_v2(KEY, "123", body)
    assert v2["X-Durable-Timestamp"] == "123"
    assert signs_v2(["timestamped-signatures"]) and not signs_v2([])


def _signed(op: Any, v2: bool = False, ts: str = "9") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(op).encode()
    headers = {"X-Durable-Signature": signing.sign(KEY, body)}
    if v2:
        headers["X-Durable-Signature-V2"] = signing.sign_v2(KEY, ts, body)
    return body, headers


def test_read_answer() -> None:
    body, headers = _signed({"op": "done", "data": 1})
    assert read_answer(200, body, headers, [KEY], False, "9").op == DoneOp(1)
    refused = read_answer(500, b"oops", headers, [KEY], False, "9")
    assert refused.op is None and refused.code == "DELIVERY_FAILED"
    assert "HTTP 500: oops" in (refused.error or "")
    bad = read_answer(200, body, {"X-Durable-Signature": "0" * 64}, [KEY], False, "9")
    assert bad.code == "INVALID_RESPONSE" and "X-Durable-Signature" in (bad.error or "")
    missing_v2 = read_answer(200, body, headers, [KEY], True, "9")
    assert missing_v2.op is None and "V2" in (missing_v2.error or "")
    body2, headers2 = _signed({"op": "done"}, v2=True)
    assert read_answer(200, body2, headers2, [KEY], True, "9").op == DoneOp(None)
    big = b"x" * (MAX_ANSWER_BYTES + 1)
    assert "exceeds" in (read_answer(200, big, {}, [KEY], False, "9").error or "")
    junk, junk_headers = b"{", {"X-Durable-Signature": signing.sign(KEY, b"{")}
    assert read_answer(200, junk, junk_headers, [KEY], False, "9").error == \
        "app answer is not JSON"
    body3, headers3 = _signed({"op": "sleep", "id": "a"})
    assert "not a valid op" in (read_answer(200, body3, headers3, [KEY], False, "9").error
                                or "")


def test_refusals() -> None:
    unknown = refusal(ctx(definition=None), 10)
    assert unknown is not None and unknown.code == "UNKNOWN_FUNCTION"
    assert not unknown.retryable
    big = refusal(ctx(max_request_bytes=65_536), 70_000)
    assert big is not None and big.code == "REQUEST_TOO_LARGE"
    assert refusal(ctx(), 10) is None


def test_memo_refusal() -> None:
    assert memo_refusal(StepOp("a"), {}) is None
    again = memo_refusal(StepOp("a"), {"a": {}})
    assert again is not None and again.error()["code"] == "NON_DETERMINISTIC"
    assert again.error()["stepId"] == "a"
    full = {str(i): {} for i in range(MAX_STEPS)}
    too_many = memo_refusal(StepOp("new"), full)
    assert too_many is not None and too_many.error()["code"] == "TOO_MANY_STEPS"
    assert memo_refusal(DoneOp(), {"a": {}}) is None  # only memoizing ops
