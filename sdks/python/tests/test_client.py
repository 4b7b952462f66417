"""Client and provision_app against a loopback engine API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from durable import (
    BulkEventSendError,
    Client,
    DurableApp,
    DurableError,
    DurableFunction,
    EventSendError,
    RunActionError,
    provision_app,
)
from durable._protocol import CAPABILITIES as DEFAULT_ORDER
from durable.signing import sign, sign_v2
from durable_testkit import KEY, FakeEngine

FUNCTIONS = [DurableFunction(id="f", trigger={"event": "e"}, handler=lambda event, step: 1)]


@pytest.fixture
def engine() -> Any:
    with FakeEngine() as running:
        yield running


def test_every_call_round_trips_signed(engine: FakeEngine) -> None:
    client = Client(engine.url, "app_1", KEY)
    assert client.sync(FUNCTIONS)["functions"] == 1
    assert client.send("e", {"x": 1}, event_id="ev1")["id"] == "ev1"
    assert [r["id"] for r in client.send_many([{"id": "a", "name": "e"}, {"name": "e"}])][0] == "a"
    assert client.search_runs(function_id="f", limit=5) == {"runs": [], "cursor": None}
    assert client.get_run("r1")["status"] == "completed"
    assert client.cancel_run("r1") is True
    assert client.rerun("r1", idempotency_key="k1")["idempotencyKey"] == "k1"
    assert client.rerun_from_step("r1", "s", idempotency_key="k2")["idempotencyKey"] == "k2"
    assert client.list_failures(10) == [{"deliveryId": "d1"}]
    assert client.retry_failure("d1") is True
    assert client.get_version_status("f")["functionId"] == "f"

    paths = [call["path"] for call in engine.calls]
    assert paths == ["/fn/sync", "/e", "/e/bulk", "/runs/search", "/runs/get", "/runs/cancel",
                     "/runs/rerun", "/runs/rerun", "/failures/search", "/failures/retry",
                     "/versions/status"]
    for call in engine.calls:
        headers = call["headers"]
        assert headers["x-durable-signature"] == sign(KEY, call["body"])
        assert headers["x-durable-signature-v2"] == sign_v2(
            KEY, headers["x-durable-timestamp"], call["body"])
    sync = json.loads(engine.calls[0]["body"])
    assert sync["sdkVersion"].startswith("python/") and sync["functions"][0]["id"] == "f"
    assert sync["capabilities"] == list(DEFAULT_ORDER) and sync["maxRequestBytes"] == 1_048_576
    assert json.loads(engine.calls[3]["body"]) == {"functionId": "f", "limit": 5}
    rerun_from = json.loads(engine.calls[7]["body"])
    assert rerun_from == {"runId": "r1", "stepId": "s", "idempotencyKey": "k2"}


def test_sync_carries_the_served_apps_capabilities(engine: FakeEngine) -> None:
    client = Client(engine.url, "app_1", KEY)
    client.sync(DurableApp(FUNCTIONS, signing_key=KEY, capabilities=[],
                           max_body_bytes=200_000))
    client.sync(FUNCTIONS, capabilities=["key-rotation"])
    plain, chosen = (json.loads(call["body"]) for call in engine.calls)
    assert "capabilities" not in plain and plain["maxRequestBytes"] == 200_000
    assert chosen["capabilities"] == ["key-rotation"]


def test_error_bodies_are_parsed(engine: FakeEngine) -> None:
    engine.script["/runs/get"] = [
        (400, b'{"error": {"code": "INVALID_REQUEST", "message": "bad", "path": "/runId"}}')]
    with pytest.raises(DurableError) as raised:
        Client(engine.url, "app_1", KEY).get_run("r")
    assert (raised.value.status, raised.value.code, raised.value.path) == (
        400, "INVALID_REQUEST", "/runId")


def test_v1_only_client(engine: FakeEngine) -> None:
    Client(engine.url, "app_1", KEY, timestamped_signatures=False).send("e", event_id="x")
    assert "x-durable-signature-v2" not in engine.calls[0]["headers"]


def test_retries_5xx_with_a_fresh_signature_then_succeeds(engine: FakeEngine) -> None:
    engine.script["/e"] = [(503, b"busy"), (429, b"slow down")]
    receipt = Client(engine.url, "app_1", KEY).send("e", event_id="ev-retry")
    assert receipt["id"] == "ev-retry"
    assert len(engine.calls) == 3
    assert {json.loads(c["body"])["id"] for c in engine.calls} == {"ev-retry"}


def test_failures_carry_the_ids_for_idempotent_retries(engine: FakeEngine) -> None:
    bad = Client(engine.url, "app_1", "wrong-key")
    with pytest.raises(EventSendError) as sent:
        bad.send("e", event_id="keep-me")
    assert sent.value.event_id == "keep-me" and "401" in str(sent.value)
    assert (sent.value.status, sent.value.code) == (401, "INVALID_SIGNATURE")
    with pytest.raises(BulkEventSendError) as bulk:
        bad.send_many([{"id": "b1", "name": "e"}, {"id": "b2", "name": "e"}])
    assert bulk.value.event_ids == ["b1", "b2"]
    with pytest.raises(RunActionError) as rerun:
        bad.rerun("r1", idempotency_key="idem")
    assert rerun.value.idempotency_key == "idem"
    # 401 is not retried.
    assert sum(1 for c in engine.calls if c["path"] == "/e") == 1


def test_errors_and_limits(engine: FakeEngine) -> None:
    client = Client(engine.url, "app_1", KEY, max_request_bytes=100)
    with pytest.raises(DurableError, match="exceeds"):
        client.get_run("r" * 200)
    engine.script["/runs/get"] = [(200, b"[1]")]
    with pytest.raises(DurableError, match="invalid JSON"):
        Client(engine.url, "app_1", KEY).get_run("r")
    engine.script["/runs/get"] = [(200, b"x" * 300)]
    with pytest.raises(DurableError, match="exceeds"):
        Client(engine.url, "app_1", KEY, max_response_bytes=200).get_run("r")
    with pytest.raises(ValueError):
        Client(engine.url, "app_1", KEY).send_many([])
    with pytest.raises(ValueError, match="event 1"):
        Client(engine.url, "app_1", KEY).send_many([{"name": "ok"}, {"name": "e", "nme": 1}])
    with pytest.raises(DurableError):
        Client("http://127.0.0.1:9", "app_1", KEY, timeout=2).get_run("r")


def test_provision_app(engine: FakeEngine) -> None:
    created = provision_app(base_url=engine.url, name="n", app_url="http://a/api/durable",
                            environment="prod", admin_token="admin")
    assert (created["id"], created["key"], created["environment"]) == ("app_1", KEY, "prod")
    with pytest.raises(DurableError, match="401"):
        provision_app(base_url=engine.url, name="n", app_url="u", admin_token="nope")


def test_history_bulk_and_functions_send_the_api_requests(engine: FakeEngine) -> None:
    client = Client(engine.url, "app_1", KEY)
    history = client.run_history("r1", cursor="c1", limit=10)
    assert history["attempts"][0]["httpStatus"] == 500 and history["nextCursor"] is None
    page = client.bulk_cancel(function_id="f", status="queued",
                              created_from=datetime(2026, 1, 1, tzinfo=UTC), limit=2)
    assert page == {"cancelled": ["r1", "r2"], "nextCursor": "c2"}
    client.bulk_cancel(created_to="2026-02-01T00:00:00Z", cursor="c2")
    reruns = client.bulk_rerun(status="failed", idempotency_key="bulk-1", limit=5)
    assert reruns["reruns"] == [{"runId": "r9", "rerunOf": "r1", "duplicate": False}]
    generated = client.bulk_rerun(function_id="f")
    functions = client.list_functions()
    assert functions[0]["runtimeId"] == "f" and functions[0]["runs"] == {"completed": 3}

    bodies = [(call["path"], json.loads(call["body"])) for call in engine.calls]
    assert bodies[:5] == [
        ("/runs/history", {"runId": "r1", "cursor": "c1", "limit": 10}),
        ("/runs/bulk-cancel", {"functionId": "f", "status": "queued",
                               "createdFrom": "2026-01-01T00:00:00+00:00", "limit": 2}),
        ("/runs/bulk-cancel", {"createdTo": "2026-02-01T00:00:00Z", "cursor": "c2"}),
        ("/runs/bulk-rerun", {"status": "failed", "idempotencyKey": "bulk-1", "limit": 5}),
        ("/runs/bulk-rerun", {"functionId": "f",
                              "idempotencyKey": bodies[4][1]["idempotencyKey"]}),
    ]
    assert len(bodies[4][1]["idempotencyKey"]) >= 32 and generated["nextCursor"] is None
    assert bodies[5] == ("/functions/list", {})


def test_bulk_calls_need_a_filter(engine: FakeEngine) -> None:
    client = Client(engine.url, "app_1", KEY)
    with pytest.raises(ValueError, match="filter"):
        client.bulk_cancel(limit=5)
    with pytest.raises(ValueError, match="filter"):
        client.bulk_rerun(idempotency_key="k")
    assert engine.calls == []


def test_errors_carry_the_api_code_and_the_cause(engine: FakeEngine) -> None:
    client = Client(engine.url, "app_1", KEY)
    engine.script["/runs/history"] = [
        (404, b'{"error": {"code": "NOT_FOUND", "message": "no such run"}}')]
    with pytest.raises(DurableError) as missing:
        client.run_history("nope")
    assert (missing.value.status, missing.value.code) == (404, "NOT_FOUND")
    assert "no such run" in str(missing.value)
    engine.script["/runs/bulk-rerun"] = [
        (409, b'{"error": {"code": "CONFLICT", "message": "key reused", "path": "/status"}}')]
    with pytest.raises(RunActionError) as conflict:
        client.bulk_rerun(status="failed", idempotency_key="again")
    assert (conflict.value.idempotency_key, conflict.value.code, conflict.value.path) == (
        "again", "CONFLICT", "/status")
    assert isinstance(conflict.value.__cause__, DurableError)
    engine.script["/functions/list"] = [(200, b"{not json")]
    with pytest.raises(DurableError) as unreadable:
        client.list_functions()
    assert isinstance(unreadable.value.__cause__, json.JSONDecodeError)
    engine.script["/runs/bulk-cancel"] = [(200, b'{"cancelled": "r1"}')]
    with pytest.raises(DurableError, match="cancelled list") as shapeless:
        client.bulk_cancel(status="queued")
    assert shapeless.value.status == 200
    with pytest.raises(DurableError) as unreachable:
        Client("http://127.0.0.1:9", "app_1", KEY, timeout=2).list_functions()
    assert isinstance(unreachable.value.__cause__, OSError) and unreachable.value.status is None
