"""Cron triggers (decision 0005): each tick fires once across engines, one catch-up tick."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import EngineHandle, query, wait_for
from durable import DurableFunction, Step
from durable_engine.cron import latest_fire, next_fire


def test_latest_fire_is_the_single_catch_up_tick() -> None:
    now = datetime(2026, 3, 1, 12, 0, 7, 500_000, tzinfo=UTC)
    assert latest_fire("* * * * * *", now, now - timedelta(days=3)) == now.replace(microsecond=0)
    assert latest_fire("0 3 * * *", now, now - timedelta(days=3)) == datetime(
        2026, 3, 1, 3, tzinfo=UTC)
    assert latest_fire("0 3 * * *", now, now - timedelta(hours=2)) is None
    assert next_fire("0 3 * * *", now) == datetime(2026, 3, 2, 3, tzinfo=UTC)


def test_every_second_cron_fires_each_tick_once_with_two_engines(
        make_app: Any, database_url: str) -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        return {"tick": event["data"]["scheduledAt"]}

    runtime_id = f"tick-{uuid.uuid4().hex[:6]}"
    second = EngineHandle(database_url, api=False).start()  # a second engine process
    try:
        app = make_app([DurableFunction(id=runtime_id, trigger={"cron": "* * * * * *"},
                                        handler=handler)])

        def completed() -> list[dict[str, Any]] | None:
            found = query(database_url, "SELECT id, event, status, output FROM runs WHERE"
                          " workspace_id = %s AND function_id = %s AND status = 'completed'",
                          app.id, runtime_id)
            return found if len(found) >= 3 else None

        rows = wait_for(completed, 10)
    finally:
        second.stop()
    events = [r["event"] for r in rows]
    ticks = [e["ts"] for e in events]
    assert len(ticks) == len(set(ticks))  # no tick twice, although two engines raced for it
    for event, row in zip(events, rows, strict=True):
        assert event["name"] == "durable/cron" and event["ts"] % 1000 == 0
        assert event["id"] == f"cron:{runtime_id}:{event['ts']}"
        assert event["data"] == {"cron": "* * * * * *", "scheduledAt": row["output"]["tick"]}
    all_ticks = query(database_url, "SELECT count(*) AS n, count(DISTINCT tick_at) AS d FROM"
                      " cron_ticks WHERE workspace_id = %s", app.id)[0]
    assert all_ticks["n"] == all_ticks["d"]


def test_after_downtime_only_the_most_recent_missed_tick_fires(
        make_app: Any, database_url: str) -> None:
    runtime_id = f"late-{uuid.uuid4().hex[:6]}"
    long_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    fn = DurableFunction(id=runtime_id, trigger={"cron": "* * * * * *"},
                         handler=lambda e, s: "ok")
    app = make_app([fn], sync=False)
    # As if the engine was down for an hour after firing this tick: 3,600 ticks were missed.
    query(database_url, "INSERT INTO cron_ticks (workspace_id, runtime_id, tick_at) VALUES"
          " (%s, %s, %s) RETURNING tick_at", app.id, runtime_id, long_ago)
    started = datetime.now(UTC)
    app.client.sync([fn])
    time.sleep(1.6)
    ticks = [r["tick_at"] for r in query(
        database_url, "SELECT tick_at FROM cron_ticks WHERE workspace_id = %s AND"
        " runtime_id = %s AND tick_at > %s ORDER BY tick_at", app.id, runtime_id, long_ago)]
    assert 1 <= len(ticks) <= 4  # one catch-up, then the schedule: no storm of 3,600
    assert ticks[0] >= started - timedelta(seconds=2)


def test_a_disabled_cron_function_gets_no_ticks(make_app: Any, database_url: str) -> None:
    """[FLOW-9]: ticks are ignored for a function synced with enabled: false; its enabled
    sibling in the same sync shows the scheduler was running meanwhile."""
    def handler(event: dict[str, Any], step: Step) -> Any:
        return event["data"]["scheduledAt"]

    off, on = f"off-{uuid.uuid4().hex[:6]}", f"on-{uuid.uuid4().hex[:6]}"
    app = make_app([DurableFunction(id=off, trigger={"cron": "* * * * * *"}, handler=handler,
                                    enabled=False),
                    DurableFunction(id=on, trigger={"cron": "* * * * * *"}, handler=handler)])

    def runs_of(runtime_id: str) -> int:
        return int(query(database_url, "SELECT count(*) AS n FROM runs WHERE workspace_id = %s"
                         " AND function_id = %s", app.id, runtime_id)[0]["n"])

    wait_for(lambda: runs_of(on) >= 3, 10)
    assert runs_of(off) == 0
