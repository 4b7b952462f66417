"""The worker's claim loop: a concurrency slot that frees is taken at once even behind older
blocked runs of full buckets ([FLOW-1], fair across keys), and an idle worker asks the database
nothing while it still wakes on time for a due sleep and at once for new work (NOTIFY).

The API engine here runs no workers, so every run reaches the worker through its claim loop."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import App, EngineHandle, query, wait_for
from durable import DurableFunction, Step


@pytest.fixture
def api_engine(database_url: str) -> Iterator[EngineHandle]:
    handle = EngineHandle(database_url, workers=False, lease_s=20.0).start()
    yield handle
    handle.stop()


def counting(calls: list[float], method: Callable[..., Any]) -> Callable[..., Any]:
    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(time.monotonic())
        return await method(*args, **kwargs)

    return counted


def test_a_freed_slot_is_taken_at_once_behind_older_blocked_runs(
        database_url: str, api_engine: EngineHandle) -> None:
    # 8 keys whose runs each hold their key's only slot for 4 s, 3 runs each, queued first;
    # then 6 quick runs of one more key. 9 slots: the quick key always has a slot, but its
    # next run is younger than every blocked run of the 8 full keys.
    name = f"claim.{uuid.uuid4().hex[:6]}"

    def handler(event: dict[str, Any], step: Step) -> Any:
        def work() -> str:
            if event["data"]["k"] != "quick":
                time.sleep(4)
            return "ok"

        return step.run("work", work)

    fn = DurableFunction(id="keyed", trigger={"event": name}, handler=handler, timeout="60s",
                         concurrency={"limit": 1, "key": "k"})
    app = App(api_engine, [fn])
    worker: EngineHandle | None = None
    try:
        for i in range(3):
            for k in range(8):
                app.send(name, {"k": f"slow-{k}", "i": i})
        quick = [app.run_of(app.send(name, {"k": "quick", "i": i})) for i in range(6)]
        worker = EngineHandle(database_url, api=False, worker_slots=9, lease_s=20.0).start()
        for run_id in quick:
            app.wait_run(run_id, timeout=30)
        rows = query(database_url, "SELECT started_at, ended_at FROM runs WHERE id = ANY(%s)"
                     " ORDER BY started_at", quick)
        gaps = [(b["started_at"] - a["ended_at"]).total_seconds()
                for a, b in zip(rows, rows[1:], strict=False)]
        print(f"\nquick key: slot free -> next run started after {max(gaps) * 1000:.0f} ms"
              f" at most ({len(gaps)} hand-overs)")
        # Before its slow neighbours end (4 s), every quick run has ended.
        slow_ended = query(database_url, "SELECT min(ended_at) AS t FROM runs"
                           " WHERE workspace_id = %s AND event->'data'->>'k' <> 'quick'",
                           app.id)[0]["t"]
        assert slow_ended is None or rows[-1]["ended_at"] < slow_ended
        assert max(gaps) < 1.0
    finally:
        if worker is not None:
            worker.stop()
        app.close()


def test_an_idle_worker_asks_nothing_yet_wakes_on_time_and_for_new_work(
        database_url: str, api_engine: EngineHandle) -> None:
    name = f"idle.{uuid.uuid4().hex[:6]}"
    times: dict[str, float] = {}

    def handler(event: dict[str, Any], step: Step) -> Any:
        tag = event["data"]["tag"]
        step.run("before", lambda: times.setdefault(f"{tag}-before", time.monotonic()))
        step.sleep("nap", "1500ms")
        step.run("after", lambda: times.setdefault(f"{tag}-after", time.monotonic()))
        return tag

    fn = DurableFunction(id="napper", trigger={"event": name}, handler=handler, timeout="30s")
    app = App(api_engine, [fn])
    worker = EngineHandle(database_url, api=False, lease_s=20.0).start()
    try:
        engine = worker.server.engine  # type: ignore[union-attr]
        claims: list[float] = []
        looks: list[float] = []
        engine._claim = counting(claims, engine._claim)
        engine._idle_delay = counting(looks, engine._idle_delay)

        first = app.run_of(app.send(name, {"tag": "one"}))
        app.wait_run(first, timeout=20)
        # The sleep is due 1.5 s after its step: the worker slept until then, and no longer.
        late = times["one-after"] - times["one-before"] - 1.5
        print(f"\nsleep resumed {late * 1000:.0f} ms after it was due")
        assert -0.05 < late < 0.6

        time.sleep(1.0)
        claims.clear()
        looks.clear()
        time.sleep(4.0)  # idle: nothing due, nothing queued, well within half a lease
        print(f"idle 4 s: {len(claims)} claim rounds, {len(looks)} look-aheads")
        assert claims == [] and looks == []

        sent = time.monotonic()
        second = app.run_of(app.send(name, {"tag": "two"}))
        wait_for(lambda: "two-before" in times, 10)
        woke = times["two-before"] - sent
        print(f"new work started {woke * 1000:.0f} ms after it was sent (NOTIFY)")
        assert woke < 1.0
        app.wait_run(second, timeout=20)
    finally:
        worker.stop()
        app.close()
