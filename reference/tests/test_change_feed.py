"""The ChangeFeed beyond status changes: every recorded attempt of a watched run is published
(kind "attempt", so an open run page grows live) and none is lost, unwatched runs publish
none, a reader that names the last change it saw is handed what it missed, and one whose
place is gone gets RESYNC."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from conftest import App, EngineHandle, query
from durable import DurableFunction, Step
from durable_engine.service import RESYNC, ChangeFeed, RunChange, Service


def test_every_attempt_of_a_watched_run_is_published_and_none_is_lost(
        database_url: str, engine: EngineHandle) -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        step.wait_for_event("go", event="go." + event["name"], timeout="1h")
        for i in range(8):
            step.run(f"s{i}", lambda i=i: i)
        return "done"

    name = f"steps.{uuid.uuid4().hex[:6]}"
    app = App(engine, [DurableFunction(id="stepper", trigger={"event": name}, handler=handler)])
    service = Service(engine.server.engine)  # type: ignore[union-attr]

    async def scenario() -> None:
        feed = ChangeFeed(database_url)
        try:
            async with feed.subscribe(workspace_id=app.id, kinds=("status", "attempt")) as sub, \
                    feed.subscribe(workspace_id=app.id) as statuses_only:
                run_ids = [app.run_of(await asyncio.to_thread(app.send, name, {}))
                           for _ in range(4)]
                for run_id in run_ids:
                    await asyncio.to_thread(app.wait_run, run_id, ("waiting",))
                watched, unwatched = run_ids[:3], run_ids[3]
                for run_id in watched:
                    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                        service.run_watch(run_id, feed.epoch, 60), engine.loop))
                before = {r["id"] for r in query(database_url, "SELECT id FROM deliveries "
                                                 "WHERE run_id = ANY(%s)", run_ids)}
                await asyncio.to_thread(app.send, "go." + name, {})
                for run_id in run_ids:
                    await asyncio.to_thread(app.wait_run, run_id, ("completed",))
                await asyncio.sleep(0.5)  # notifications of the last commits arrive
                seen: list[RunChange] = []
                while not sub.queue.empty():
                    item = sub.queue.get_nowait()
                    assert isinstance(item, RunChange), item
                    seen.append(item)
                attempts = [c for c in seen if c.kind == "attempt"]
                rows = [r for r in query(database_url, "SELECT id, run_id FROM deliveries "
                                         "WHERE run_id = ANY(%s)", watched)
                        if r["id"] not in before]
                assert len(rows) >= 9 * 3  # one per step and one to finish, per run
                # pg_notify folds identical payloads of one transaction: each delivery row has
                # its own `at`, so every attempt of a watched run arrives
                assert sorted(c.run_id for c in attempts) == sorted(r["run_id"] for r in rows)
                # the run nobody watches sent its status changes only
                assert unwatched in {c.run_id for c in seen if c.kind == "status"}
                while not statuses_only.queue.empty():
                    item = statuses_only.queue.get_nowait()
                    assert isinstance(item, RunChange) and item.kind == "status"
        finally:
            await feed.close()

    asyncio.run(scenario())
    app.close()


def test_a_reader_resumes_after_the_last_change_it_saw(
        database_url: str, engine: EngineHandle) -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        return step.run("one", lambda: 1)

    name = f"resume.{uuid.uuid4().hex[:6]}"
    app = App(engine, [DurableFunction(id="resumed", trigger={"event": name}, handler=handler)])

    async def scenario() -> None:
        feed = ChangeFeed(database_url, history=50)
        try:
            async with feed.subscribe(workspace_id=app.id) as first:
                run_a = app.run_of(await asyncio.to_thread(app.send, name, {}))
                change = await first.get(10)
                assert isinstance(change, RunChange) and change.run_id == run_a and change.new
                last_seen = feed.event_id(change)
            # the reader is gone; changes go on
            await asyncio.to_thread(app.wait_run, run_a, ("completed",))
            run_b = app.run_of(await asyncio.to_thread(app.send, name, {}))
            await asyncio.to_thread(app.wait_run, run_b, ("completed",))
            async with feed.subscribe(workspace_id=app.id) as probe:
                await asyncio.sleep(0.5)
                probe.close()
            async with feed.subscribe(workspace_id=app.id, after=last_seen) as again:
                missed = []
                while not again.queue.empty():
                    missed.append(again.queue.get_nowait())
            assert all(isinstance(c, RunChange) for c in missed), missed
            assert [(c.run_id, c.status) for c in missed if isinstance(c, RunChange)][-1] == \
                (run_b, "completed")
            assert (run_a, "completed") in [(c.run_id, c.status) for c in missed
                                            if isinstance(c, RunChange)]
            # an id of another feed (another process, or before a restart): re-read
            async with feed.subscribe(workspace_id=app.id, after="0000-3") as stranger:
                assert await stranger.get(1) is RESYNC
            # a place no longer kept (history of 50): re-read, then what is kept
            for _ in range(60):
                feed.publish(RunChange(run_id="x", workspace_id="elsewhere", function_id="f",
                                       status="queued", at=change.at))
            async with feed.subscribe(workspace_id=app.id, after=last_seen) as late:
                assert await late.get(1) is RESYNC
        finally:
            await feed.close()

    asyncio.run(scenario())
    app.close()
