"""Our Python SDK's client against the real engine, over HTTP and gRPC: the function list
([API-21]), run history ([API-19]), bulk cancel and rerun by filter ([API-16..18]) and
the API's error codes on its typed errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import App, EngineHandle, wait_for
from durable import Client, DurableError, DurableFunction, RunActionError, Step
from test_grpc import grpc_engine, target

CALLS: dict[str, int] = {}


def flaky(event: dict[str, Any], step: Step) -> Any:
    def once() -> str:
        key = event["data"]["key"]
        CALLS[key] = CALLS.get(key, 0) + 1
        if CALLS[key] == 1:
            raise RuntimeError("first attempt fails")
        return "ok"

    return step.run("work", once)


def park(event: dict[str, Any], step: Step) -> Any:
    return step.wait_for_event("approve", event="never.sent", timeout="1h")


FUNCTIONS = [
    DurableFunction(id="flaky", trigger={"event": "ops.flaky"}, handler=flaky),
    DurableFunction(id="park", trigger={"event": "ops.park"}, handler=park),
]


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[EngineHandle]:
    handle = grpc_engine(database_url)
    yield handle
    handle.stop()


@pytest.fixture(params=["http", "grpc"])
def setup(request: pytest.FixtureRequest, engine: EngineHandle,
          make_app: Any) -> Iterator[tuple[App, Client]]:
    app: App = make_app(FUNCTIONS)
    url = engine.url if request.param == "http" else f"grpc://{target(engine)}"
    client = Client(url, app.id, app.key, timeout=10)
    yield app, client
    client.close()


def test_function_list_and_run_history(setup: tuple[App, Client]) -> None:
    app, client = setup
    listed = {f["runtimeId"]: f for f in client.list_functions()}
    assert set(listed) == {"flaky", "park"}
    assert listed["park"]["trigger"] == {"event": "ops.park"} and listed["park"]["active"]

    run_id = app.run_of(client.send("ops.flaky", {"key": uuid.uuid4().hex}))
    assert app.wait_run(run_id)["status"] == "completed"
    history = client.run_history(run_id)
    ops = [attempt["op"] for attempt in history["attempts"]]
    assert ops[0] == "error" and ops[-1] == "done" and len(ops) >= 3, history
    assert history["attempts"][0]["attempt"] == 0 and history["attempts"][1]["attempt"] == 1
    first = client.run_history(run_id, limit=1)
    assert len(first["attempts"]) == 1 and first["nextCursor"] is not None
    rest = client.run_history(run_id, cursor=first["nextCursor"])
    assert first["attempts"] + rest["attempts"] == history["attempts"]
    with pytest.raises(DurableError) as missing:
        client.run_history("no-such-run")
    assert (missing.value.status, missing.value.code) == (404, "NOT_FOUND")


def test_bulk_cancel_then_bulk_rerun_by_filter(setup: tuple[App, Client]) -> None:
    app, client = setup
    runs = [app.run_of(client.send("ops.park", {"n": n})) for n in range(3)]
    for run_id in runs:
        app.wait_run(run_id, ("waiting",))
    cancelled: list[str] = []
    cursor = None
    while True:
        page = client.bulk_cancel(function_id="park", status="waiting", cursor=cursor, limit=2)
        assert len(page["cancelled"]) <= 2
        cancelled += page["cancelled"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(cancelled) == sorted(runs)
    assert all(client.get_run(r)["status"] == "cancelled" for r in runs)

    key = f"bulk-{uuid.uuid4().hex}"
    first = client.bulk_rerun(function_id="park", status="cancelled", idempotency_key=key)
    assert sorted(r["rerunOf"] for r in first["reruns"]) == sorted(runs)
    assert not any(r["duplicate"] for r in first["reruns"])
    again = client.bulk_rerun(function_id="park", status="cancelled", idempotency_key=key)
    assert {r["runId"] for r in again["reruns"]} == {r["runId"] for r in first["reruns"]}
    assert all(r["duplicate"] for r in again["reruns"])
    wait_for(lambda: all(client.get_run(r["runId"])["status"] == "waiting"
                         for r in first["reruns"]), 15)
    client.bulk_cancel(function_id="park", status="waiting")

    with pytest.raises(ValueError, match="filter"):
        client.bulk_cancel()
    with pytest.raises(RunActionError) as refused:
        client.bulk_rerun(status="no-such-status", idempotency_key="k")
    assert (refused.value.code, refused.value.idempotency_key) == ("INVALID_REQUEST", "k")
