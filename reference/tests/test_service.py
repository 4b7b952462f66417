"""The service layer: its read models (functions overview, run detail with per-step times,
workspaces) and the ChangeFeed, which sees the run state changes of every engine process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import App, EngineHandle, free_port, query
from durable import DurableFunction, Step
from durable_engine.service import RESYNC, ChangeFeed, RunChange, Service, ServiceError
from durable_engine.service.history import FailuresRetry, FailuresSearch, Ok
from durable_engine.service.rerun import RunsRerun


def call(handle: EngineHandle, coro: Any) -> Any:
    """Run a service call on the engine's own loop (its pool lives there)."""
    return asyncio.run_coroutine_threadsafe(coro, handle.loop).result(30)


def service_of(handle: EngineHandle) -> Service:
    assert handle.server is not None
    return Service(handle.server.engine)


def test_run_detail_has_each_steps_times_and_every_attempt(make_app: Any,
                                                           engine: EngineHandle) -> None:
    tries = {"n": 0}

    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("one", lambda: 1)
        tries["n"] += 1
        if tries["n"] == 1:
            raise RuntimeError("first try fails")
        return step.run("two", lambda: 2)

    name = f"detail.{uuid.uuid4().hex[:6]}"
    app = make_app([DurableFunction(id="detailed", trigger={"event": name}, handler=handler)])
    run_id = app.run_of(app.send(name))
    app.wait_run(run_id)
    service = service_of(engine)
    detail = call(engine, service.run_detail(app.id, run_id)).to_json()
    assert detail["status"] == "completed" and detail["output"] == 2
    assert detail["startedAt"] and detail["endedAt"] >= detail["startedAt"]
    steps = {s["id"]: s for s in detail["timeline"]}
    assert set(steps) == {"one", "two"}
    for step in steps.values():
        assert step["namespace"] == "main" and step["endedAt"] is not None
        assert step["appMs"] is not None and step["appMs"] >= 0
    assert steps["one"]["position"] < steps["two"]["position"]
    # three HTTP attempts at least: step one, the failed try, then step two and the end
    assert len(detail["attempts"]) >= 3
    assert any(a["error"] for a in detail["attempts"])
    with pytest.raises(ServiceError) as raised:
        call(engine, service.run_detail(app.id, "no-such-run"))
    assert (raised.value.code, raised.value.status, raised.value.path) == \
        ("NOT_FOUND", 404, "/runId")


def test_functions_overview_shows_rules_versions_and_next_cron_fire(make_app: Any,
                                                                   engine: EngineHandle) -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        return None

    name = f"ov.{uuid.uuid4().hex[:6]}"
    app = make_app([
        DurableFunction(id="limited", trigger={"event": name}, handler=handler,
                        concurrency={"limit": 2}, throttle={"limit": 5, "period": "1m"}),
        DurableFunction(id="nightly", trigger={"cron": "0 3 * * *"}, handler=handler)])
    service = service_of(engine)
    listed = call(engine, service.functions_overview(app.id)).to_json()["functions"]
    overview = {f["functionId"]: f for f in listed}
    assert set(overview) == {"limited", "nightly"}
    limited = overview["limited"]["versions"][0]
    assert limited["flow"] == {"concurrency": {"limit": 2}, "priority": 0,
                               "throttle": {"limit": 5, "periodMs": 60000}}
    assert limited["trigger"] == {"event": name} and limited["active"]
    assert limited["nextCronFire"] is None
    nightly = overview["nightly"]["versions"][0]
    assert nightly["nextCronFire"] is not None and nightly["nextCronFire"].endswith(
        "T03:00:00.000Z")
    workspaces = call(engine, service.workspaces_list())
    assert app.id in {w.id for w in workspaces.apps}
    assert call(engine, service.functions_overview("app_unknown")).functions == ()


# ---- the change feed across two engine processes -----------------------------------------

@pytest.fixture
def worker_process(database_url: str) -> Iterator[subprocess.Popen[str]]:
    """A second engine process: workers only, on the same database."""
    env = {**os.environ, "DATABASE_URL": database_url, "DURABLE_LOG": "warning"}
    process = subprocess.Popen(
        [sys.executable, "-m", "durable_engine.cli", "worker", "--prod",
         "--port", str(free_port()), "--retention", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    yield process
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


async def _collect(sub: Any, until: str, run_ids: set[str], timeout: float
                   ) -> list[RunChange]:
    seen: list[RunChange] = []
    done: set[str] = set()
    while done != run_ids:
        item = await sub.get(timeout)
        assert isinstance(item, RunChange), item
        seen.append(item)
        if item.status == until:
            done.add(item.run_id)
    return seen


def test_change_feed_sees_every_process_and_a_slow_reader_gets_resync(
        database_url: str, worker_process: subprocess.Popen[str]) -> None:
    # Engine A takes events (API only): it creates runs; the worker process B runs them.
    api_only = EngineHandle(database_url, workers=False).start()
    try:
        def handler(event: dict[str, Any], step: Step) -> Any:
            return step.run("only", lambda: event["data"]["n"])

        name = f"feed.{uuid.uuid4().hex[:6]}"
        app = App(api_only, [DurableFunction(id="fed", trigger={"event": name},
                                             handler=handler)])
        def napper(event: dict[str, Any], step: Step) -> Any:
            step.sleep("nap", "1h")

        other = App(api_only, [DurableFunction(id="napper", trigger={"event": name},
                                               handler=napper)])

        async def scenario() -> None:
            feed = ChangeFeed(database_url)
            try:
                async with feed.subscribe(workspace_id=app.id) as mine, \
                        feed.subscribe(workspace_id=other.id) as theirs, \
                        feed.subscribe(workspace_id=app.id, queue_size=2) as slow:
                    receipts = [await asyncio.to_thread(app.send, name, {"n": n})
                                for n in range(3)]
                    run_ids = {app.run_of(r) for r in receipts}
                    seen = await _collect(mine, "completed", run_ids, 60)
                    by_run: dict[str, list[str]] = {}
                    for change in seen:
                        assert change.workspace_id == app.id and change.function_id == "fed"
                        by_run.setdefault(change.run_id, []).append(change.status)
                    for statuses in by_run.values():
                        # queued: written by A's API; running, completed: by worker B
                        assert statuses[0] == "queued" and statuses[-1] == "completed"
                        assert "running" in statuses
                    assert theirs.queue.empty()  # another workspace's subscriber saw nothing
                    # the slow reader (2 slots) lost its backlog and is told to re-read
                    assert await slow.get(1) is RESYNC
                    assert slow.dropped > 0
                    # a run id subscription sees that run only, from where it starts
                    run_id = other.run_of(await asyncio.to_thread(other.send, name, {}))
                    await asyncio.to_thread(other.wait_run, run_id, ("sleeping",))
                    async with feed.subscribe(run_id=run_id) as one:
                        assert await asyncio.to_thread(other.client.cancel_run, run_id)
                        change = await one.get(10)
                        assert isinstance(change, RunChange)
                        assert (change.run_id, change.status) == (run_id, "cancelled")
                        assert change.to_json()["at"].endswith("Z")
                    assert (await theirs.get(1)).status == "queued"  # type: ignore[union-attr]
            finally:
                await feed.close()

        asyncio.run(scenario())
        assert worker_process.poll() is None, worker_process.stdout
    finally:
        api_only.stop()


def test_a_rerun_and_a_failures_retry_wait_for_the_throttle(make_app: Any,
                                                           engine: EngineHandle) -> None:
    """[FLOW-3] applies to every run start: a rerun and a failed run started again join the
    throttle bucket like a run of an event (limit 1 per 2 s here)."""
    def handler(event: dict[str, Any], step: Step) -> Any:
        if event["data"].get("fail"):
            raise RuntimeError("fails")
        return step.run("ok", lambda: 1)

    name = f"thr.{uuid.uuid4().hex[:6]}"
    app = make_app([DurableFunction(id="throttled", trigger={"event": name}, handler=handler,
                                    retries=0, throttle={"limit": 1, "period": "2s"})])
    failed = app.run_of(app.send(name, {"fail": True}))
    assert app.wait_run(failed)["status"] == "failed"
    done = app.run_of(app.send(name, {"n": 1}))
    assert app.wait_run(done)["status"] == "completed"
    service = service_of(engine)
    delivery = next(f.delivery_id for f in call(engine, service.failures_search(
        app.id, FailuresSearch())).failures if f.run_id == failed)
    rerun = call(engine, service.runs_rerun(app.id, RunsRerun(done, uuid.uuid4().hex)))
    assert call(engine, service.failures_retry(app.id, FailuresRetry(delivery))) == Ok(True)
    app.wait_run(rerun.run_id, ("completed",), timeout=20)
    app.wait_run(failed, ("failed",), timeout=20)
    starts = sorted(r["started_at"] for r in query(
        engine.config.database_url, "SELECT started_at FROM runs WHERE id = ANY(%s)",
        [done, rerun.run_id, failed]))
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)]
    assert all(gap >= 2.0 for gap in gaps), gaps
