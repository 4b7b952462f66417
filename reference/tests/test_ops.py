"""Every op against the real engine and published-SDK apps on loopback."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from conftest import (
    App,
    CheckedClient,
    EngineHandle,
    provision_served,
    query,
    wait_for,
)
from durable import DurableFunction, NonRetriableError, Step
from durable_engine.core.invocation import StepOp
from durable_engine.engine import Claim, Outcome


def uid(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}"


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def test_step_runs_are_memoized_and_timed(make_app: Any, database_url: str) -> None:
    calls: dict[str, int] = {"a": 0, "b": 0}

    def handler(event: dict[str, Any], step: Step) -> Any:
        def a() -> dict[str, int]:
            calls["a"] += 1
            return {"n": 1}

        first = step.run("a", a)

        def b() -> dict[str, int]:
            calls["b"] += 1
            return {"n": first["n"] + 1}

        return {"a": first, "b": step.run("b", b)}

    name = uid("serial")
    app: App = make_app([DurableFunction(id="serial", trigger={"event": name},
                                         handler=handler)])
    receipt = app.send(name, {"x": 1})
    assert receipt["duplicate"] is False and len(receipt["runIds"]) == 1
    run = app.wait_run(app.run_of(receipt))
    assert run["status"] == "completed"
    assert run["output"] == {"a": {"n": 1}, "b": {"n": 2}}
    assert calls == {"a": 1, "b": 1}  # each step executed exactly once across 3 invocations
    assert [(s["id"], s["type"], s["data"]) for s in run["steps"]] == [
        ("a", "run", {"n": 1}), ("b", "run", {"n": 2})]
    timings = query(database_url, "SELECT queued_at, started_at, app_ms, ended_at FROM steps"
                    " WHERE run_id = %s ORDER BY position", run["runId"])
    for t in timings:  # stored per step for the dashboard: queue wait, app time, commit
        assert t["queued_at"] <= t["started_at"] <= t["ended_at"]
        assert t["app_ms"] is not None and t["app_ms"] >= 0
    deliveries = query(database_url, "SELECT op, status, error FROM deliveries WHERE run_id = %s"
                       " ORDER BY at", run["runId"])
    assert [d["op"] for d in deliveries] == ["step", "step", "done"]
    assert all(d["status"] == 200 and d["error"] is None for d in deliveries)


def test_sleep_parks_the_run_until_its_due_time(make_app: Any, database_url: str) -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("before", lambda: "x")
        step.sleep("nap", "300ms")
        return "slept"

    name = uid("sleeper")
    app = make_app([DurableFunction(id="sleeper", trigger={"event": name}, handler=handler)])
    started = time.monotonic()
    run_id = app.run_of(app.send(name))
    app.wait_run(run_id, ("sleeping",), timeout=5)
    run = app.wait_run(run_id)
    assert time.monotonic() - started >= 0.3
    assert run["status"] == "completed" and run["output"] == "slept"
    nap = next(s for s in run["steps"] if s["id"] == "nap")
    assert nap["type"] == "sleep" and nap["data"] is None
    row = query(database_url, "SELECT queued_at, ended_at, wake_at FROM steps WHERE run_id = %s"
                " AND step_id = 'nap'", run_id)[0]
    assert 250 <= (row["wake_at"] - row["queued_at"]).total_seconds() * 1000 < 2000
    assert row["ended_at"] < row["wake_at"]  # [API-22]: recorded before it ended


def _waiter(name: str, approved: str, timeout: str) -> DurableFunction:
    def handler(event: dict[str, Any], step: Step) -> Any:
        got = step.wait_for_event("approve", event=approved, timeout=timeout,
                                  match={"userId": event["data"]["userId"]})
        return {"approved": got is not None, "got": got}

    return DurableFunction(id="waiter", trigger={"event": name}, handler=handler)


def test_wait_resumes_on_the_first_matching_event(make_app: Any) -> None:
    name, approved = uid("waiter"), uid("approved")
    app = make_app([_waiter(name, approved, "1h")])
    run_id = app.run_of(app.send(name, {"userId": 7}))
    app.wait_run(run_id, ("waiting",), timeout=5)
    app.send(approved, {"userId": 8}, event_id="other-user")  # wrong value: no match
    app.send(uid("unrelated"), {"userId": 7})  # wrong name: no match
    time.sleep(0.3)
    assert app.client.get_run(run_id)["status"] == "waiting"
    app.send(approved, {"userId": 7.0, "note": "first"}, event_id="match-1")  # 7 == 7.0
    app.send(approved, {"userId": 7, "note": "second"}, event_id="match-2")
    run = app.wait_run(run_id)
    assert run["status"] == "completed"
    assert run["output"]["approved"] is True
    assert run["output"]["got"]["id"] == "match-1"
    assert run["output"]["got"]["data"] == {"userId": 7.0, "note": "first"}


def test_wait_times_out_with_null(make_app: Any) -> None:
    name, approved = uid("waiter"), uid("approved")
    app = make_app([_waiter(name, approved, "300ms")])
    run_id = app.run_of(app.send(name, {"userId": 1}))
    run = app.wait_run(run_id)
    assert run["output"] == {"approved": False, "got": None}
    app.send(approved, {"userId": 1})  # too late: changes nothing
    time.sleep(0.2)
    assert app.client.get_run(run_id)["output"] == {"approved": False, "got": None}


def test_send_event_stores_fans_out_and_memoizes_receipts(make_app: Any) -> None:
    name, child = uid("sender"), uid("child")

    def sender(event: dict[str, Any], step: Step) -> Any:
        n = event["data"]["n"]
        return {"receipts": step.send_event("emit", {"id": f"child-{n}-{name}", "name": child,
                                                     "data": {"n": n}})}

    def receiver(event: dict[str, Any], step: Step) -> Any:
        return {"got": event["data"]["n"]}

    app = make_app([DurableFunction(id="sender", trigger={"event": name}, handler=sender),
                    DurableFunction(id="receiver", trigger={"event": child}, handler=receiver)])
    run = app.wait_run(app.run_of(app.send(name, {"n": 5})))
    receipts = run["output"]["receipts"]
    assert len(receipts) == 1 and receipts[0]["id"] == f"child-5-{name}"
    assert receipts[0]["name"] == child and receipts[0]["duplicate"] is False
    child_run = app.wait_run(receipts[0]["runIds"][0])
    assert child_run["functionId"] == "receiver" and child_run["output"] == {"got": 5}
    assert run["steps"][0]["type"] == "sendEvent" and run["steps"][0]["data"] == receipts


def test_retryable_errors_retry_with_backoff_then_succeed(make_app: Any,
                                                         database_url: str) -> None:
    attempts: list[float] = []

    def handler(event: dict[str, Any], step: Step) -> Any:
        def flaky() -> str:
            attempts.append(time.monotonic())
            if len(attempts) <= 2:
                raise RuntimeError("boom")
            return "ok"

        return {"result": step.run("flaky", flaky)}

    name = uid("flaky")
    app = make_app([DurableFunction(id="flaky", trigger={"event": name}, handler=handler,
                                    retries=2)])
    run = app.wait_run(app.run_of(app.send(name)))
    assert run["status"] == "completed" and run["output"] == {"result": "ok"}
    assert len(attempts) == 3
    # backoff base is 50 ms in tests: retry 1 waits 25-50 ms, retry 2 waits 50-100 ms
    assert attempts[1] - attempts[0] >= 0.025 and attempts[2] - attempts[1] >= 0.05
    rows = query(database_url, "SELECT attempt, op FROM deliveries WHERE run_id = %s ORDER BY at",
                 run["runId"])
    assert [(r["attempt"], r["op"]) for r in rows] == [(0, "error"), (1, "error"), (2, "step"),
                                                      (0, "done")]


def test_retries_exhausted_fail_the_run(make_app: Any) -> None:
    count = {"n": 0}

    def handler(event: dict[str, Any], step: Step) -> Any:
        def always() -> None:
            count["n"] += 1
            raise ValueError("always broken")

        return step.run("breaks", always)

    name = uid("broken")
    app = make_app([DurableFunction(id="broken", trigger={"event": name}, handler=handler,
                                    retries=1)])
    run = app.wait_run(app.run_of(app.send(name)))
    assert run["status"] == "failed" and count["n"] == 2  # first attempt + 1 retry
    assert run["error"]["message"] == "always broken"
    assert run["error"]["name"] == "ValueError" and run["error"]["stepId"] == "breaks"
    failures = [f for f in app.client.list_failures(50) if f["runId"] == run["runId"]]
    assert len(failures) == 1  # one entry per failed run: its last failed invocation
    assert failures[0]["attempt"] == 1 and failures[0]["error"] == run["error"]


def test_non_retriable_error_fails_at_once(make_app: Any) -> None:
    count = {"n": 0}

    def handler(event: dict[str, Any], step: Step) -> Any:
        def fatal() -> None:
            count["n"] += 1
            raise NonRetriableError("no way", code="E_FATAL", details={"why": "test"})

        return step.run("fatal", fatal)

    name = uid("fatal")
    app = make_app([DurableFunction(id="fatal", trigger={"event": name}, handler=handler,
                                    retries=5)])
    run = app.wait_run(app.run_of(app.send(name)))
    assert run["status"] == "failed" and count["n"] == 1
    assert run["error"] == {"message": "no way", "name": "NonRetriableError", "code": "E_FATAL",
                            "details": {"why": "test"}, "stepId": "fatal"}


def test_failure_handler_runs_with_its_own_memos(make_app: Any, database_url: str) -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("explode", lambda: (_ for _ in ()).throw(RuntimeError("exploded")))

    def on_failure(event: dict[str, Any], step: Step, error: Exception, run_id: str) -> Any:
        cleaned = step.run("cleanup", lambda: "cleaned")
        return {"cleanup": cleaned, "message": str(error), "runId": run_id}

    name = uid("with-failure")
    app = make_app([DurableFunction(id="with-failure", trigger={"event": name},
                                    handler=handler, retries=0, on_failure=on_failure)])
    run_id = app.run_of(app.send(name))
    run = wait_for(lambda: (r := app.client.get_run(run_id)).get("failureHandler", {})
                   .get("status") == "completed" and r, 10)
    assert run["status"] == "failed" and run["error"]["message"] == "exploded"
    assert run["steps"] == []  # the handler's memos live in their own namespace
    rows = query(database_url, "SELECT namespace, step_id FROM steps WHERE run_id = %s", run_id)
    assert [(r["namespace"], r["step_id"]) for r in rows] == [("failure", "cleanup")]
    output = query(database_url, "SELECT failure_output FROM runs WHERE id = %s", run_id)
    assert output[0]["failure_output"] == {"cleanup": "cleaned", "message": "exploded",
                                           "runId": run_id}


def test_event_ids_are_idempotent(make_app: Any, database_url: str) -> None:
    name = uid("once")
    app = make_app([DurableFunction(id="once", trigger={"event": name},
                                    handler=lambda e, s: "ok")])
    event_id = uid("evt")
    first = app.send(name, {"a": 1}, event_id=event_id)
    second = app.send(name, {"a": 2}, event_id=event_id)
    assert first["duplicate"] is False and second["duplicate"] is True
    assert second["runIds"] == first["runIds"]
    runs = query(database_url, "SELECT id FROM runs WHERE event_id = %s", event_id)
    assert len(runs) == 1
    bulk = app.client.send_many([{"id": event_id, "name": name}, {"name": name, "data": {}}])
    assert [b["duplicate"] for b in bulk] == [True, False]


def test_every_enabled_function_and_version_is_triggered(make_app: Any) -> None:
    name = uid("fan")
    app = make_app([
        DurableFunction(id="one", trigger={"event": name}, handler=lambda e, s: 1),
        DurableFunction(id="two", trigger={"event": name}, handler=lambda e, s: 2, version="2"),
        DurableFunction(id="off", trigger={"event": name}, handler=lambda e, s: 3,
                        enabled=False),
    ])
    receipt = app.send(name)
    outputs = sorted(app.wait_run(r)["output"] for r in receipt["runIds"])
    assert outputs == [1, 2]
    assert [r["functionId"] for r in app.client.search_runs(function_id="two")["runs"]] == [
        "two@2"]  # an id without version finds every version
    assert app.client.search_runs(function_id="tw_")["runs"] == []  # no wildcards
    assert len(app.client.search_runs(function_id="two@2")["runs"]) == 1
    status = app.client.get_version_status("two")
    assert [v["runtimeId"] for v in status["versions"]] == ["two@2"]
    assert status["versions"][0]["runs"] == {"completed": 1}
    assert status["versions"][0]["active"] is True and status["versions"][0]["version"] == "2"


def test_cancel_stops_a_sleeping_run(make_app: Any) -> None:
    name = uid("long")

    def handler(event: dict[str, Any], step: Step) -> Any:
        step.sleep("long", "1h")
        return "never"

    app = make_app([DurableFunction(id="long", trigger={"event": name}, handler=handler)])
    run_id = app.run_of(app.send(name))
    app.wait_run(run_id, ("sleeping",))
    assert app.client.cancel_run(run_id) is True
    assert app.client.cancel_run(run_id) is True  # [API-10]: cancelled now or before
    assert app.client.get_run(run_id)["status"] == "cancelled"
    other = app.run_of(app.send(name))
    app.wait_run(other, ("sleeping",))
    assert app.client.cancel_run(other) is True


def test_failures_retry_requeues_a_failed_run(make_app: Any) -> None:
    broken = threading.Event()
    broken.set()

    def handler(event: dict[str, Any], step: Step) -> Any:
        def maybe() -> str:
            if broken.is_set():
                raise RuntimeError("downstream is down")
            return "recovered"

        return step.run("call", maybe)

    name = uid("recover")
    app = make_app([DurableFunction(id="recover", trigger={"event": name}, handler=handler,
                                    retries=0)])
    run_id = app.run_of(app.send(name))
    assert app.wait_run(run_id)["status"] == "failed"
    failure = next(f for f in app.client.list_failures(10) if f["runId"] == run_id)
    assert "downstream is down" in failure["error"]["message"]
    broken.clear()
    assert app.client.retry_failure(failure["deliveryId"]) is True
    run = app.wait_run(run_id, ("completed",))
    assert run["output"] == "recovered"


def test_runs_search_pages_and_filters(make_app: Any) -> None:
    name = uid("many")
    app = make_app([DurableFunction(id="many", trigger={"event": name},
                                    handler=lambda e, s: e["data"]["i"])])
    ids = [app.run_of(app.send(name, {"i": i})) for i in range(5)]
    for run_id in ids:
        app.wait_run(run_id)
    seen: list[str] = []
    cursor = None
    while True:
        page = app.client.search_runs(function_id="many", status="completed", limit=2,
                                      cursor=cursor)
        seen += [r["runId"] for r in page["runs"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    assert app.client.search_runs(function_id="many", status="failed")["runs"] == []


def test_request_too_large_fails_the_run_clearly(make_app: Any) -> None:
    name = uid("big")

    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("big", lambda: "x" * 70_000)  # the next invoke would carry this memo
        return "unreachable"

    # the app's manifest states the same 64 KiB limit as the sync below
    app = make_app([DurableFunction(id="big", trigger={"event": name}, handler=handler)],
                   sync=False, serve={"max_body_bytes": 65_536})
    definition = app.functions[0].definition()
    app.client._post("/fn/sync", {"sdkVersion": "python/0.1.0", "functions": [definition],
                                  "maxRequestBytes": 65_536})
    run = app.wait_run(app.run_of(app.send(name)))
    assert run["status"] == "failed"
    assert run["error"]["code"] == "REQUEST_TOO_LARGE" and run["error"]["name"] == "DurableError"
    assert [s["id"] for s in run["steps"]] == ["big"]


def test_sync_replaces_the_live_set(make_app: Any) -> None:
    name = uid("sync")
    one = DurableFunction(id="keep", trigger={"event": name}, handler=lambda e, s: 1)
    two = DurableFunction(id="drop", trigger={"event": name}, handler=lambda e, s: 2)
    app = make_app([one, two])
    answer = app.client._post("/fn/sync", {"sdkVersion": "python/0.1.0",
                                           "functions": [one.definition()]})
    assert answer == {"ok": True, "functions": ["keep"], "deactivated": ["drop"]}
    receipt = app.send(name)
    assert len(receipt["runIds"]) == 1
    assert app.wait_run(receipt["runIds"][0])["functionId"] == "keep"
    status = app.client.get_version_status("drop")
    assert status["versions"] == []  # inactive and no live runs


def test_a_stale_attempt_cannot_commit(engine: EngineHandle, database_url: str) -> None:
    name = f"stale.{uuid.uuid4().hex[:6]}"

    def handler(event: dict[str, Any], step: Step) -> Any:
        step.sleep("park", "1h")
        return "x"

    fn = DurableFunction(id="stale", trigger={"event": name}, handler=handler)
    created, server = provision_served(engine.url, database_url, name, [fn])
    try:
        client = CheckedClient(engine.url, created["id"], created["key"])
        client.sync([fn])
        run_id = client.send(name)["runIds"][0]
        wait_for(lambda: client.get_run(run_id)["status"] == "sleeping")
        assert engine.server is not None and engine.server.engine is not None
        core = engine.server.engine
        now = datetime.now(UTC)
        late = Claim(run_id, created["id"], "main", "invoke", 0, now, uuid.uuid4())
        op = StepOp("forged", "late answer")

        async def apply() -> Any:
            ctx = await core._context(run_id, "main")
            assert ctx is not None
            return await core._apply(late, ctx, Outcome(op, None, 200, now, 1.0))

        result = asyncio.run_coroutine_threadsafe(apply(), engine.loop).result(10)
        assert result is None
        steps = query(database_url, "SELECT step_id FROM steps WHERE run_id = %s", run_id)
        assert [s["step_id"] for s in steps] == ["park"]
        stale = query(database_url, "SELECT error FROM deliveries WHERE run_id = %s AND "
                      "error IS NOT NULL", run_id)
        assert [d["error"] for d in stale] == ["stale attempt"]
        assert client.get_run(run_id)["status"] == "sleeping"
    finally:
        server.close()


def test_rerun_and_rerun_from_a_step(make_app: Any, database_url: str) -> None:
    calls = {"a": 0, "b": 0}

    def handler(event: dict[str, Any], step: Step) -> Any:
        def a() -> int:
            calls["a"] += 1
            return calls["a"]

        def b() -> int:
            calls["b"] += 1
            return calls["b"]

        return [step.run("a", a), step.run("b", b)]

    name = uid("rerun")
    app = make_app([DurableFunction(id="rerun", trigger={"event": name}, handler=handler)])
    original = app.wait_run(app.run_of(app.send(name, {"k": 1})))
    assert original["output"] == [1, 1]
    again = app.client.rerun(original["runId"], idempotency_key="full-1")
    assert again["rerunOf"] == original["runId"] and again["duplicate"] is False
    assert app.wait_run(again["runId"])["output"] == [2, 2]  # everything ran again
    from_b = app.client.rerun_from_step(original["runId"], "b", idempotency_key="from-b")
    assert from_b["fromStepId"] == "b"
    rerun = app.wait_run(from_b["runId"])
    assert rerun["output"] == [1, 3]  # a's memo copied, b ran again
    assert rerun["event"] == original["event"]
    twin = app.client.rerun_from_step(original["runId"], "b", idempotency_key="from-b")
    assert twin == {**from_b, "duplicate": True}
    from durable import DurableError

    try:
        app.client.rerun(original["runId"], idempotency_key="from-b")
        raise AssertionError("a reused key with another request must conflict")
    except DurableError as error:
        assert "409" in str(error)
    try:
        app.client.rerun_from_step(original["runId"], "nope", idempotency_key="bad-step")
        raise AssertionError("an unknown step must be refused")
    except DurableError as error:
        assert "400" in str(error) and "/stepId" in str(error)
    assert calls == {"a": 2, "b": 3}
