"""Run status changes are published (NOTIFY inside the changing transaction) only while a
change feed is open somewhere, since such a NOTIFY serializes commits database-wide: with no
feed open nothing is sent; an open feed gets every change; a feed says it is ready only once
the transactions that changed a run before its row was visible have ended."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
from conftest import App, EngineHandle, query
from durable import DurableFunction, Step
from durable_engine.service import ChangeFeed, RunChange


async def _drain(conn: psycopg.AsyncConnection[Any], seconds: float) -> list[str]:
    return [n.payload async for n in conn.notifies(timeout=seconds)]


def test_status_changes_are_published_only_while_a_feed_is_open(
        database_url: str, engine: EngineHandle) -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        return step.run("one", lambda: 1)

    name = f"gate.{uuid.uuid4().hex[:6]}"
    app = App(engine, [DurableFunction(id="gated", trigger={"event": name}, handler=handler)])

    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(database_url,
                                                         autocommit=True) as raw:
            await raw.execute("LISTEN durable_runs")
            quiet = app.run_of(await asyncio.to_thread(app.send, name, {}))
            await asyncio.to_thread(app.wait_run, quiet, ("completed",))
            assert await _drain(raw, 0.5) == []  # nobody watches: no NOTIFY at all

            feed = ChangeFeed(database_url)
            try:
                async with feed.subscribe(workspace_id=app.id) as sub:
                    assert [r["watcher"] for r in query(
                        database_url, "SELECT watcher FROM feed_listeners")] == [feed.epoch]
                    watched = app.run_of(await asyncio.to_thread(app.send, name, {}))
                    await asyncio.to_thread(app.wait_run, watched, ("completed",))
                    seen: list[str] = []
                    while "completed" not in seen:
                        item = await sub.get(10)
                        assert isinstance(item, RunChange) and item.run_id == watched
                        seen.append(item.status)
                    assert seen[-2:] == ["running", "completed"], seen
                    assert len(await _drain(raw, 0.3)) >= 2  # any listener sees them now
            finally:
                await feed.close()
            assert query(database_url, "SELECT watcher FROM feed_listeners") == []
            after = app.run_of(await asyncio.to_thread(app.send, name, {}))
            await asyncio.to_thread(app.wait_run, after, ("completed",))
            assert await _drain(raw, 0.5) == []  # closed: quiet again

    asyncio.run(scenario())
    app.close()


def test_a_feed_is_ready_only_after_older_writers_ended(database_url: str) -> None:
    async def scenario() -> None:
        feed = ChangeFeed(database_url)
        async with await psycopg.AsyncConnection.connect(database_url) as writer:
            # a transaction that wrote (has an xid) before the feed's row existed
            await writer.execute("INSERT INTO feed_listeners (watcher, until) "
                                 "VALUES ('older-writer', now() - interval '1 hour')")
            ready = asyncio.create_task(feed.ready())
            try:
                await asyncio.sleep(0.5)
                assert not ready.done()  # it may have changed a run unpublished: wait
                await writer.commit()
                await asyncio.wait_for(ready, 2)
            finally:
                ready.cancel()
                await feed.close()

    asyncio.run(scenario())
