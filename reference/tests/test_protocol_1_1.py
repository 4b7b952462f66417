"""Protocol 1.1 definition members end to end, with apps on our SDK and a real Postgres:
cancelOn ([CANCEL-2..4]), idempotency ([IDEM-2], [IDEM-3]) and singleton ([SINGLE-2..4]),
the races across two engine processes."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conftest import EngineHandle, query
from durable import Client, DurableFunction, Step

LIVE = ("queued", "running", "sleeping", "waiting")


def parked(event: dict[str, Any], step: Step) -> Any:
    step.sleep("park", "1h")
    return "never"


def test_cancel_on_cancels_a_sleeping_run_of_the_same_order(make_app: Any,
                                                           database_url: str) -> None:
    name = f"order.{uuid.uuid4().hex[:6]}"
    app = make_app([DurableFunction(
        id="fulfil", trigger={"event": f"{name}.created"}, handler=parked,
        cancel_on=[{"event": f"{name}.refunded", "match": {"orderId": "order.id"},
                    "timeout": "1h"}])])
    mine = app.run_of(app.send(f"{name}.created", {"order": {"id": "o-1"}}))
    other = app.run_of(app.send(f"{name}.created", {"order": {"id": "o-2"}}))
    for run_id in (mine, other):
        app.wait_run(run_id, ("sleeping",))
    refund = app.send(f"{name}.refunded", {"orderId": "o-1"})
    run = app.wait_run(mine, ("cancelled",), timeout=5)
    assert run["cancelledBy"] == {"eventId": refund["id"]}
    assert app.client.get_run(other)["status"] == "sleeping"
    # the rules of an ended run are gone; the live run keeps its own
    rules = query(database_url, "SELECT run_id FROM run_cancel_rules WHERE run_id IN"
                  " (%s, %s)", mine, other)
    assert [r["run_id"] for r in rules] == [other]


def test_idempotency_dedupes_across_two_engines(make_app: Any, database_url: str) -> None:
    name = f"charge.{uuid.uuid4().hex[:6]}"
    second = EngineHandle(database_url).start()
    try:
        app = make_app([DurableFunction(id="charge", trigger={"event": name}, handler=parked,
                                        idempotency={"key": "orderId", "period": "1h"})])
        other = Client(second.url, app.id, app.key, timeout=10)
        clients = [app.client, other] * 4
        with ThreadPoolExecutor(max_workers=8) as pool:
            receipts = list(pool.map(lambda c: c.send(name, {"orderId": 7}), clients))
    finally:
        second.stop()
    created = [r for receipt in receipts for r in receipt["runIds"]]
    assert len(created) == 1
    for receipt in receipts:
        if not receipt["runIds"]:
            assert receipt["deduplicated"] == [{"functionId": "charge", "runId": created[0]}]
    assert app.send(name, {"orderId": 8})["runIds"]  # another key: its own run


def test_singleton_skip_is_exact_across_two_engines(make_app: Any, database_url: str) -> None:
    name = f"report.{uuid.uuid4().hex[:6]}"
    second = EngineHandle(database_url).start()
    try:
        app = make_app([DurableFunction(id="report", trigger={"event": name}, handler=parked,
                                        singleton={"key": "user", "mode": "skip"})])
        other = Client(second.url, app.id, app.key, timeout=10)
        barrier = threading.Barrier(8)

        def send(client: Client) -> dict[str, Any]:
            barrier.wait()
            return client.send(name, {"user": "u1"})

        with ThreadPoolExecutor(max_workers=8) as pool:
            receipts = list(pool.map(send, [app.client, other] * 4))
    finally:
        second.stop()
    runs = [app.client.get_run(r) for receipt in receipts for r in receipt["runIds"]]
    assert len(runs) == 8
    assert sum(1 for r in runs if r["status"] in LIVE) == 1
    assert sorted(r.get("skipReason", "") for r in runs if r["status"] == "skipped") == \
        ["singleton"] * 7


def test_singleton_cancel_replaces_the_live_run(make_app: Any) -> None:
    name = f"sync.{uuid.uuid4().hex[:6]}"
    app = make_app([DurableFunction(id="sync", trigger={"event": name}, handler=parked,
                                    singleton={"mode": "cancel"})])
    first = app.run_of(app.send(name))
    app.wait_run(first, ("sleeping",))
    second = app.run_of(app.send(name))
    run = app.wait_run(first, ("cancelled",), timeout=5)
    assert run["cancelledBy"] == {"runId": second}
    assert app.wait_run(second, ("sleeping",))["status"] == "sleeping"
