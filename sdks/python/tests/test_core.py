"""The sans-IO core through handle_request: verification, replay, ops, signing."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import durable
import pytest
from durable import (
    AsyncStep,
    DurableApp,
    DurableFunction,
    FailureError,
    NonRetriableError,
    Response,
    Step,
    handle_request,
    handle_request_async,
)
from durable.signing import sign, sign_v2
from durable_testkit import KEY, encode, invoke_headers, manifest_headers, now_ms


def serial(event: dict[str, Any], step: Step) -> Any:
    a = step.run("a", lambda: {"n": 1})
    b = step.run("b", lambda: {"n": a["n"] + 1})
    return {"a": a, "b": b}


def looping(event: dict[str, Any], step: Step) -> Any:
    return [step.run("item", lambda i=i: i * 10) for i in range(3)]


async def async_serial(event: dict[str, Any], step: AsyncStep) -> Any:
    async def first() -> int:
        await asyncio.sleep(0)
        return 1

    a = await step.run("a", first)
    b = await step.run("b", lambda: a + 1)
    await step.sleep("nap", "1s")
    return [a, b]


def context(event: dict[str, Any], step: Step) -> Any:
    return {
        "runId": step.run_id,
        "attempt": step.attempt,
        "functionId": step.function_id,
        "events": step.events,
    }


def failing_step(event: dict[str, Any], step: Step) -> Any:
    step.run("explode", lambda: 1 / 0)


def cleanup(event: dict[str, Any], step: Step, error: FailureError, run_id: str) -> Any:
    note = step.run("cleanup", lambda: "cleaned")
    return {"note": note, "message": str(error), "code": error.code, "step": error.step_id,
            "runId": run_id}


def catches_everything(event: dict[str, Any], step: Step) -> Any:
    try:
        step.run("a", lambda: 1)
    except Exception:  # noqa: BLE001 - the interrupt must not be swallowed
        return "swallowed"
    return "after"


FUNCTIONS = [
    DurableFunction(id="serial", trigger={"event": "t.serial"}, handler=serial),
    DurableFunction(id="loop", trigger={"event": "t.loop"}, handler=looping),
    DurableFunction(id="async", trigger={"event": "t.async"}, handler=async_serial),
    DurableFunction(id="context", trigger={"event": "t.ctx"}, handler=context, version="3"),
    DurableFunction(
        id="failing", trigger={"event": "t.fail"}, handler=failing_step, on_failure=cleanup
    ),
    DurableFunction(id="catches", trigger={"event": "t.catch"}, handler=catches_everything),
]


def post(request: Any, *, headers: dict[str, str] | None = None, **options: Any) -> Response:
    body = request if isinstance(request, bytes) else encode(request)
    options.setdefault("signing_key", KEY)
    return handle_request(
        "POST", invoke_headers(body) if headers is None else headers, body, FUNCTIONS, **options
    )


def op(response: Response) -> dict[str, Any]:
    assert response.status == 200, response.body
    return json.loads(response.body)  # type: ignore[no-any-return]


def invoke(function_id: str, steps: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"functionId": function_id, "runId": "run-1", "event": {"name": "x", "data": {}},
            "steps": steps or {}, **extra}


def memo(data: Any, kind: str = "run") -> dict[str, Any]:
    return {"type": kind, "data": data}


# -- replay ---------------------------------------------------------------------------


def test_first_step_runs_and_ends_the_invocation() -> None:
    assert op(post(invoke("serial"))) == {"op": "step", "id": "a", "data": {"n": 1}}


def test_memoized_steps_replay_and_the_handler_finishes() -> None:
    first = op(post(invoke("serial", {"a": memo({"n": 1})})))
    assert first == {"op": "step", "id": "b", "data": {"n": 2}}
    done = op(post(invoke("serial", {"a": memo({"n": 5}), "b": memo({"n": 6})})))
    assert done == {"op": "done", "data": {"a": {"n": 5}, "b": {"n": 6}}}


def test_reused_step_ids_get_occurrence_suffixes() -> None:
    assert op(post(invoke("loop", {"item": memo(0)}))) == {"op": "step", "id": "item#2", "data": 10}
    steps = {"item": memo(0), "item#2": memo(10), "item#3": memo(20)}
    assert op(post(invoke("loop", steps))) == {"op": "done", "data": [0, 10, 20]}


def test_without_the_capability_a_reused_id_returns_the_first_memo() -> None:
    result = op(post(invoke("loop", {"item": memo(7)}), capabilities=[]))
    assert result == {"op": "done", "data": [7, 7, 7]}


def test_memo_of_another_type_is_non_deterministic() -> None:
    result = op(post(invoke("serial", {"a": memo(None, "sleep")})))
    assert result["op"] == "error"
    assert result["id"] == "a"
    assert result["code"] == "NON_DETERMINISTIC"
    assert result["retryable"] is False


def test_strict_replay_off_gives_the_v1_retryable_handler_error() -> None:
    result = op(post(invoke("serial", {"a": memo(None, "sleep")}), capabilities=[]))
    assert result["op"] == "error"
    assert result["id"] is None
    assert result["retryable"] is True
    assert "code" not in result


def test_async_handler_with_async_step_callable() -> None:
    assert op(post(invoke("async"))) == {"op": "step", "id": "a", "data": 1}
    assert op(post(invoke("async", {"a": memo(1)}))) == {"op": "step", "id": "b", "data": 2}
    slept = op(post(invoke("async", {"a": memo(1), "b": memo(2)})))
    assert slept["op"] == "sleep" and slept["id"] == "nap"
    until = datetime.fromisoformat(slept["until"].replace("Z", "+00:00"))
    assert slept["until"].endswith("Z") and len(slept["until"]) == 24
    assert abs((until - datetime.now(UTC)).total_seconds() - 1) < 5
    steps = {"a": memo(1), "b": memo(2), "nap": memo(None, "sleep")}
    assert op(post(invoke("async", steps))) == {"op": "done", "data": [1, 2]}


def test_async_handler_through_the_async_entry_point() -> None:
    body = encode(invoke("async", {"a": memo(1)}))
    response = asyncio.run(
        handle_request_async("POST", invoke_headers(body), body, FUNCTIONS, signing_key=KEY)
    )
    assert op(response) == {"op": "step", "id": "b", "data": 2}


def test_sync_handle_works_inside_a_running_event_loop() -> None:
    async def main() -> Response:
        return post(invoke("async"))

    assert op(asyncio.run(main())) == {"op": "step", "id": "a", "data": 1}


def test_attempt_events_run_and_function_ids_reach_the_handler() -> None:
    events = [{"name": "a", "data": 1}, {"name": "a", "data": 2}]
    result = op(post(invoke("context@3", attempt=2, events=events)))
    assert result == {
        "op": "done",
        "data": {"runId": "run-1", "attempt": 2, "functionId": "context@3", "events": events},
    }
    single = op(post(invoke("context@3")))
    assert single["data"]["events"] == [{"name": "x", "data": {}}]
    assert single["data"]["attempt"] == 0


def test_step_error_is_retryable_and_carries_the_step_id() -> None:
    result = op(post(invoke("failing")))
    assert result == {"op": "error", "id": "explode", "message": "division by zero",
                      "name": "ZeroDivisionError", "retryable": True}


def test_failure_handler_runs_with_the_failure() -> None:
    failure = {"message": "exploded", "name": "Error", "code": "E1", "stepId": "explode"}
    assert op(post(invoke("failing", failure=failure))) == {
        "op": "step", "id": "cleanup", "data": "cleaned"}
    done = op(post(invoke("failing", {"cleanup": memo("cleaned")}, failure=failure)))
    assert done == {"op": "done", "data": {"note": "cleaned", "message": "exploded",
                                           "code": "E1", "step": "explode", "runId": "run-1"}}


def test_failure_without_handler_is_missing_failure_handler() -> None:
    result = op(post(invoke("serial", failure={"message": "x"})))
    assert result["code"] == "MISSING_FAILURE_HANDLER" and result["retryable"] is False


def test_interrupt_is_not_swallowed_by_except_exception() -> None:
    assert op(post(invoke("catches"))) == {"op": "step", "id": "a", "data": 1}


def test_unknown_function_is_not_retryable() -> None:
    result = op(post(invoke("nope")))
    assert result["op"] == "error" and result["retryable"] is False and result["id"] is None


def test_non_retriable_error_fields() -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        def fail() -> None:
            raise NonRetriableError("no", code="C" * 150, details={"big": "x" * 70_000})

        step.run("s", fail)

    function = DurableFunction(id="f", trigger={"event": "e"}, handler=handler)
    body = encode(invoke("f"))
    result = op(handle_request("POST", invoke_headers(body), body, [function], signing_key=KEY))
    assert result["name"] == "NonRetriableError" and result["retryable"] is False
    assert result["code"] == "C" * 100
    assert result["details"]["truncated"] is True


def test_unserializable_result_becomes_a_non_retryable_error() -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        return step.run("s", lambda: object())

    function = DurableFunction(id="f", trigger={"event": "e"}, handler=handler)
    body = encode(invoke("f"))
    result = op(handle_request("POST", invoke_headers(body), body, [function], signing_key=KEY))
    assert result["op"] == "error" and result["retryable"] is False


def test_too_deep_a_result_becomes_a_non_retryable_error() -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        deep: list[Any] = []
        for _ in range(100_000):
            deep = [deep]
        return deep

    function = DurableFunction(id="f", trigger={"event": "e"}, handler=handler)
    body = encode(invoke("f"))
    result = op(handle_request("POST", invoke_headers(body), body, [function], signing_key=KEY))
    assert result["op"] == "error" and result["retryable"] is False


def test_oversized_answer_becomes_a_non_retryable_error() -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        return step.run("s", lambda: "x" * 2000)

    function = DurableFunction(id="f", trigger={"event": "e"}, handler=handler)
    body = encode(invoke("f"))
    response = handle_request(
        "POST", invoke_headers(body), body, [function], signing_key=KEY, max_response_bytes=1000
    )
    result = op(response)
    assert result == {"op": "error", "id": None, "retryable": False, "message":
                      "workflow response is not serializable or exceeds the response limit"}
    assert len(response.body) <= 1000
    tiny = handle_request(
        "POST", invoke_headers(body), body, [function], signing_key=KEY, max_response_bytes=50
    )
    assert tiny.status == 413


def test_send_event_and_wait_ops() -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        receipts = step.send_event("emit", {"name": "child", "data": {}})
        got = step.wait_for_event("w", event="approved", match={"userId": 1}, timeout="1h")
        return {"receipts": receipts, "got": got}

    function = DurableFunction(id="f", trigger={"event": "e"}, handler=handler)

    def run(steps: dict[str, Any]) -> dict[str, Any]:
        body = encode(invoke("f", steps))
        return op(handle_request("POST", invoke_headers(body), body, [function], signing_key=KEY))

    assert run({}) == {"op": "sendEvent", "id": "emit", "events": [{"name": "child", "data": {}}]}
    waiting = run({"emit": memo([{"id": "e1"}], "sendEvent")})
    assert waiting["op"] == "wait" and waiting["event"] == "approved"
    assert waiting["match"] == {"userId": 1}
    done = run({"emit": memo([{"id": "e1"}], "sendEvent"), "w": memo(None, "wait")})
    assert done == {"op": "done", "data": {"receipts": [{"id": "e1"}], "got": None}}


def test_parallel_runs_all_tasks_in_one_step() -> None:
    async def async_handler(event: dict[str, Any], step: AsyncStep) -> Any:
        async def one() -> int:
            return 1

        return await step.parallel("fan", {"a": one, "b": lambda: 2})

    def sync_handler(event: dict[str, Any], step: Step) -> Any:
        return step.parallel("fan", {"a": lambda: 1, "b": lambda: 2})

    def empty(event: dict[str, Any], step: Step) -> Any:
        return step.parallel("fan", {})

    functions = [
        DurableFunction(id="a", trigger={"event": "e"}, handler=async_handler),
        DurableFunction(id="s", trigger={"event": "e"}, handler=sync_handler),
        DurableFunction(id="empty", trigger={"event": "e"}, handler=empty),
    ]
    for function_id in ("a", "s"):
        body = encode(invoke(function_id))
        response = handle_request("POST", invoke_headers(body), body, functions, signing_key=KEY)
        assert op(response) == {"op": "step", "id": "fan", "data": {"a": 1, "b": 2}}
    body = encode(invoke("empty"))
    bad = op(handle_request("POST", invoke_headers(body), body, functions, signing_key=KEY))
    assert bad["code"] == "INVALID_PARALLEL" and bad["retryable"] is False


# -- signatures -----------------------------------------------------------------------


def test_answer_is_signed_v1_and_v2_bound_to_the_request_timestamp() -> None:
    body = encode(invoke("serial"))
    headers = invoke_headers(body)
    response = post(body, headers=headers)
    answer = dict(response.headers)
    assert answer["x-durable-signature"] == sign(KEY, response.body)
    assert answer["x-durable-signature-v2"] == sign_v2(
        KEY, headers["X-Durable-Timestamp"], response.body
    )


def test_v2_is_required_when_advertised() -> None:
    body = encode(invoke("serial"))
    v1_only = {"X-Durable-Signature": sign(KEY, body)}
    assert post(body, headers=v1_only).status == 401
    assert post(body, headers=v1_only, capabilities=[]).status == 200


def test_stale_or_malformed_timestamps_are_refused() -> None:
    body = encode(invoke("serial"))
    assert post(body, headers=invoke_headers(body, timestamp=now_ms() - 300_500)).status == 401
    assert post(body, headers=invoke_headers(body, timestamp=now_ms() + 299_000)).status == 200
    headers = invoke_headers(body)
    headers["X-Durable-Timestamp"] = "1e12"
    assert post(body, headers=headers).status == 401


def test_tampered_body_and_wrong_key_are_refused() -> None:
    body = encode(invoke("serial"))
    headers = invoke_headers(body)
    response = post(body.replace(b"run-1", b"run-2"), headers=headers)
    assert (response.status, response.body) == (401, b"invalid signature")
    assert post(body, headers=invoke_headers(body, "other-key")).status == 401


def test_fallback_key_is_accepted_but_answers_use_the_primary() -> None:
    body = encode(invoke("serial"))
    response = post(body, headers=invoke_headers(body, "old-key"),
                    signing_key="new-key", signing_key_fallback="old-key")
    assert response.status == 200
    assert dict(response.headers)["x-durable-signature"] == sign("new-key", response.body)
    assert post(body, headers=invoke_headers(body, "old-key"), signing_key="new-key").status == 401


def test_manifest_requires_a_fresh_signed_timestamp() -> None:
    app = DurableApp(FUNCTIONS, signing_key=KEY, max_body_bytes=131_072)
    assert app.handle("GET", {}, b"").status == 401
    stale = manifest_headers(timestamp=now_ms() - 301_000)
    assert app.handle("GET", stale, b"").status == 401
    response = app.handle("GET", manifest_headers(), b"")
    assert response.status == 200
    manifest = json.loads(response.body)
    assert manifest["sdkVersion"] == f"python/{durable.__version__}"
    assert manifest["maxRequestBytes"] == 131_072
    assert "timestamped-signatures" in manifest["capabilities"]
    assert [f["id"] for f in manifest["functions"]] == [f.id for f in FUNCTIONS]
    assert dict(response.headers)["x-durable-signature"] == sign(KEY, response.body)


def test_plain_v1_manifest_has_no_capabilities() -> None:
    app = DurableApp(FUNCTIONS, signing_key=KEY, capabilities=[])
    manifest = json.loads(app.handle("GET", manifest_headers(), b"").body)
    assert "capabilities" not in manifest


def test_discovery_only_in_dev() -> None:
    headers = {"X-Durable-Discovery": "true"}
    dev = DurableApp(FUNCTIONS, signing_key=KEY, dev=True, app_id="a1", app_name="n")
    discovery = json.loads(dev.handle("GET", headers, b"").body)
    assert (discovery["signingKey"], discovery["appId"], discovery["appName"]) == (KEY, "a1", "n")
    assert DurableApp(FUNCTIONS, signing_key=KEY).handle("GET", headers, b"").status == 401


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"', b"[" * 100_000, b"{}" * 3]
)
def test_non_json_or_non_object_bodies_get_400(body: bytes) -> None:
    response = post(body)
    assert response.status == 400
    assert response.body in (b"invalid JSON", b"invalid request")
    assert "x-durable-signature" not in dict(response.headers)


@pytest.mark.parametrize(
    "request_body",
    [
        {"functionId": "serial", "steps": []},
        {"functionId": "serial", "steps": {"a": 1}},
        {"functionId": "serial", "attempt": -1},
        {"functionId": "serial", "attempt": True},
        {"functionId": "serial", "event": "x"},
        {"functionId": "serial", "failure": "x"},
        {"functionId": "serial", "runId": 5},
    ],
)
def test_malformed_members_get_a_non_retryable_error_op(request_body: dict[str, Any]) -> None:
    result = op(post(request_body))
    assert result["op"] == "error" and result["id"] is None and result["retryable"] is False
    assert result["message"].startswith("invalid request: ")


def test_unknown_members_are_ignored() -> None:
    result = op(post(invoke("serial", future={"x": 1})))
    assert result == {"op": "step", "id": "a", "data": {"n": 1}}


def test_oversized_body_and_wrong_method() -> None:
    body = encode(invoke("serial", event={"data": "x" * 70_000}))
    assert post(body, max_body_bytes=65_536).status == 413
    app = DurableApp(FUNCTIONS, signing_key=KEY)
    response = app.handle("PUT", {}, b"")
    assert response.status == 405 and ("allow", "GET, POST") in response.headers


def test_configuration_errors_are_raised_early() -> None:
    with pytest.raises(ValueError):
        DurableApp(FUNCTIONS, signing_key="")
    with pytest.raises(ValueError):
        DurableApp(FUNCTIONS, signing_key=KEY, capabilities=["telepathy"])
    with pytest.raises(ValueError):
        DurableApp([*FUNCTIONS, FUNCTIONS[0]], signing_key=KEY)
    with pytest.raises(ValueError, match="65536"):
        DurableApp(FUNCTIONS, signing_key=KEY, max_body_bytes=65_535)


@pytest.mark.parametrize(
    "events",
    [
        [],
        [{"name": "e"}] * 101,
        {"name": ""},
        {"name": "e", "extra": 1},
        {"name": "e", "ts": -1},
        {"name": "e", "data": "x" * 270_000},
        ["not an object"],
    ],
)
def test_send_event_refuses_what_the_engine_would(events: Any) -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        return step.send_event("emit", events)

    function = DurableFunction(id="f", trigger={"event": "e"}, handler=handler)
    body = encode(invoke("f"))
    result = op(handle_request("POST", invoke_headers(body), body, [function], signing_key=KEY))
    assert result["op"] == "error" and result["code"] == "INVALID_EVENTS"
    assert result["retryable"] is False


def test_async_wait_send_and_failure_handler() -> None:
    async def handler(event: dict[str, Any], step: AsyncStep) -> Any:
        receipts = await step.send_event("emit", [{"name": "a"}, {"name": "b"}])
        got = await step.wait_for_event("w", event="go", timeout=60_000)
        return {"receipts": receipts, "got": got, "attempt": step.attempt}

    async def on_failure(
        event: dict[str, Any], step: AsyncStep, error: FailureError, run_id: str
    ) -> Any:
        return await step.run("notify", lambda: f"{run_id}: {error} [{error.name}]")

    function = DurableFunction(
        id="f", trigger={"event": "e"}, handler=handler, on_failure=on_failure
    )

    def run(steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
        body = encode(invoke("f", steps, **extra))
        return op(handle_request("POST", invoke_headers(body), body, [function], signing_key=KEY))

    assert run({}) == {"op": "sendEvent", "id": "emit", "events": [{"name": "a"}, {"name": "b"}]}
    sent = {"emit": memo([{"id": "1"}, {"id": "2"}], "sendEvent")}
    waiting = run(sent)
    assert waiting["op"] == "wait" and waiting["match"] is None
    steps = {**sent, "w": memo({"name": "go", "data": {}}, "wait")}
    assert run(steps, attempt=1) == {"op": "done", "data": {
        "receipts": [{"id": "1"}, {"id": "2"}], "got": {"name": "go", "data": {}}, "attempt": 1}}
    failure = {"message": "boom", "name": "ValueError"}
    assert run({}, failure=failure) == {
        "op": "step", "id": "notify", "data": "run-1: boom [ValueError]"}


def test_async_handler_errors_become_error_ops() -> None:
    async def handler(event: dict[str, Any], step: AsyncStep) -> Any:
        async def fail() -> None:
            raise NonRetriableError("nope", code="E")

        if event["data"].get("outside"):
            raise KeyError("outside")
        await step.run("s", fail)

    function = DurableFunction(id="f", trigger={"event": "e"}, handler=handler)

    def run(data: dict[str, Any]) -> dict[str, Any]:
        body = encode({"functionId": "f", "runId": "r", "event": {"data": data}, "steps": {}})
        return op(handle_request("POST", invoke_headers(body), body, [function], signing_key=KEY))

    assert run({}) == {"op": "error", "id": "s", "message": "nope", "name": "NonRetriableError",
                       "code": "E", "retryable": False}
    outside = run({"outside": True})
    assert (outside["id"], outside["name"], outside["retryable"]) == (None, "KeyError", True)


def test_invalid_durations_are_refused_even_when_memoized() -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        step.sleep("nap", "2 s")

    function = DurableFunction(id="f", trigger={"event": "e"}, handler=handler)
    body = encode(invoke("f", {"nap": memo(None, "sleep")}))
    result = op(handle_request("POST", invoke_headers(body), body, [function], signing_key=KEY))
    assert result["op"] == "error" and result["id"] is None
    assert "invalid duration" in result["message"]


# -- logging --------------------------------------------------------------------------


def test_a_user_exception_is_logged_with_its_stack_never_the_payload(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(token: str) -> None:
        raise ValueError("card declined")

    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("charge", lambda: explode(event["data"]["token"]))

    function = DurableFunction(id="billing", trigger={"event": "e"}, handler=handler)
    body = encode({"functionId": "billing", "runId": "run-7", "attempt": 2,
                   "event": {"name": "e", "data": {"token": "secret-card-token"}}, "steps": {}})
    with caplog.at_level(logging.ERROR, logger="durable"):
        result = op(handle_request("POST", invoke_headers(body), body, [function],
                                   signing_key=KEY))
    assert result["name"] == "ValueError" and result["retryable"] is True
    [record] = caplog.records
    assert record.name == "durable" and record.levelno == logging.ERROR
    message = record.getMessage()
    for part in ("billing", "ValueError: card declined", "run-7", "attempt 2", "step charge",
                 "the engine retries it"):
        assert part in message, (part, message)
    assert record.exc_info is not None and record.exc_info[0] is ValueError
    assert "in explode" in caplog.text  # the stack down to the raising frame
    assert "secret-card-token" not in caplog.text


def test_handler_and_async_exceptions_are_logged_once_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(event: dict[str, Any], step: AsyncStep) -> Any:
        raise NonRetriableError("bad input", code="BAD")

    function = DurableFunction(id="f", trigger={"event": "e"}, handler=handler)
    body = encode({"functionId": "f", "runId": "r", "event": {"data": {}}, "steps": {}})
    with caplog.at_level(logging.ERROR, logger="durable"):
        op(handle_request("POST", invoke_headers(body), body, [function], signing_key=KEY))
        op(post(invoke("serial")))  # a run that only steps logs nothing
    [record] = caplog.records
    assert "NonRetriableError: bad input" in record.getMessage()
    assert "not retried" in record.getMessage() and record.exc_info is not None
