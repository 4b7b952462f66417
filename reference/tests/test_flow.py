"""Concurrency limits ([FLOW-1]): exact per key across engine processes; sleeping runs hold
no slot; other keys are not blocked."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from conftest import EngineHandle
from durable import DurableFunction, Step


def test_concurrency_limit_per_key_across_two_engines(make_app: Any,
                                                     database_url: str) -> None:
    lock = threading.Lock()
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}
    finished: dict[str, float] = {}

    def handler(event: dict[str, Any], step: Step) -> Any:
        tenant = event["data"]["tenantId"]

        def work() -> str:
            with lock:
                in_flight[tenant] = in_flight.get(tenant, 0) + 1
                peak[tenant] = max(peak.get(tenant, 0), in_flight[tenant])
            time.sleep(0.3)
            with lock:
                in_flight[tenant] -= 1
            return tenant

        result = step.run("work", work)
        finished[event["id"]] = time.monotonic()
        return result

    name = f"flow.{uuid.uuid4().hex[:6]}"
    second = EngineHandle(database_url, api=False).start()
    try:
        app = make_app([DurableFunction(id="limited", trigger={"event": name},
                                        handler=handler,
                                        concurrency={"limit": 2, "key": "tenantId"})])
        busy = [app.run_of(app.send(name, {"tenantId": "a"}, event_id=f"a{i}-{name}"))
                for i in range(8)]
        started = time.monotonic()
        other = app.run_of(app.send(name, {"tenantId": "b"}, event_id=f"b-{name}"))
        for run_id in [*busy, other]:
            assert app.wait_run(run_id, timeout=20)["status"] == "completed"
    finally:
        second.stop()
    assert peak["a"] == 2  # the limit is reached, never passed, by two engines together
    assert peak["b"] == 1
    # b has its own bucket: it did not queue behind a's eight runs (>= 1.2 s of work)
    assert finished[f"b-{name}"] - started < 0.9


def test_a_sleeping_run_holds_no_slot(make_app: Any) -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("first", lambda: 1)
        step.sleep("long", "1h")
        return "never"

    name = f"sleepslot.{uuid.uuid4().hex[:6]}"
    app = make_app([DurableFunction(id="one-at-a-time", trigger={"event": name},
                                    handler=handler, concurrency={"limit": 1})])
    runs = [app.run_of(app.send(name)) for _ in range(3)]
    for run_id in runs:  # all three reach their sleep: the limit counts invocations only
        app.wait_run(run_id, ("sleeping",), timeout=10)
    for run_id in runs:
        app.client.cancel_run(run_id)


def test_rules_without_key_share_one_bucket_per_function(make_app: Any) -> None:
    name = f"nokey.{uuid.uuid4().hex[:6]}"
    fn = DurableFunction(id="nokey", trigger={"event": name}, handler=lambda e, s: "x",
                         concurrency=[{"limit": 3}, {"limit": 1, "key": "user"}])
    app = make_app([fn])
    run_id = app.run_of(app.send(name, {"user": 7}))
    assert app.wait_run(run_id)["output"] == "x"
    from durable_engine.engine import flow_buckets

    keys, limits = flow_buckets("w", fn.definition(), {"data": {"user": 7}})
    assert keys == ["w|nokey|0|", "w|nokey|1|7"] and limits == [3, 1]
    keys, _ = flow_buckets("w", fn.definition(), {"data": {}})
    assert keys[1] == "w|nokey|1|null"  # a missing key path is the null bucket


def test_rate_limit_creates_visible_skipped_runs(make_app: Any) -> None:
    name = f"rate.{uuid.uuid4().hex[:6]}"
    app = make_app([DurableFunction(id="rated", trigger={"event": name},
                                    handler=lambda e, s: "ran",
                                    rate_limit={"limit": 2, "period": "1h", "key": "user"})])
    first = [app.run_of(app.send(name, {"user": "u1"})) for _ in range(4)]
    other = app.run_of(app.send(name, {"user": "u2"}))  # its own bucket
    statuses = [app.wait_run(r, ("completed", "skipped"))["status"] for r in first]
    assert statuses == ["completed", "completed", "skipped", "skipped"]
    skipped = app.client.get_run(first[3])
    assert skipped["skipReason"] == "rate_limited" and skipped["steps"] == []
    assert app.wait_run(other)["status"] == "completed"
