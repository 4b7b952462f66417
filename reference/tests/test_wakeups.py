"""Waking the workers after a commit (store.wakeups): this process's loop is woken at once;
other processes get one NOTIFY, sent outside the committing transaction, only when this one
has no free slot for the runs queued; a burst is folded into few NOTIFYs; a rollback wakes
nobody; outside a Wakeups.transaction the NOTIFY rides the caller's transaction as before."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from durable_engine.db import load_queries, open_pool
from durable_engine.store.wakeups import Wakeups, wake_workers


async def _notes(conn: psycopg.AsyncConnection[Any], seconds: float) -> list[str]:
    return [n.channel async for n in conn.notifies(timeout=seconds)]


async def _settle(wakeups: Wakeups) -> None:
    """Until the sender has nothing left to send and its count stays put."""
    last = -1
    for _ in range(100):
        await asyncio.sleep(0.1)
        if not wakeups._due.is_set() and wakeups.sent == last:
            return
        last = wakeups.sent


def test_wakeups_go_after_the_commit_and_only_when_others_are_needed(
        database_url: str) -> None:
    queries = load_queries()

    async def scenario() -> None:
        pool = await open_pool(database_url, 4)
        local: list[int] = []
        free = {"slots": 5}
        wakeups = Wakeups(pool, queries, lambda: local.append(1), lambda: free["slots"])
        try:
            async with await psycopg.AsyncConnection.connect(database_url,
                                                             autocommit=True) as listener:
                await listener.execute("LISTEN durable_queue")

                async with wakeups.transaction() as conn:  # 3 runs, 5 free slots: ours
                    await wake_workers(conn, queries, 3)
                    assert local == []  # not before the commit
                assert local == [1]
                assert await _notes(listener, 0.3) == []

                async with wakeups.transaction(pipeline=True) as conn:  # more than we take
                    await wake_workers(conn, queries, 4)
                    await wake_workers(conn, queries, 4)
                assert len(local) == 2
                assert await _notes(listener, 1.0) == ["durable_queue"]
                assert wakeups.sent == 1

                free["slots"] = 0
                for _ in range(20):  # a burst while nothing is being sent: one NOTIFY
                    wakeups.wake()
                await _settle(wakeups)
                assert await _notes(listener, 0.5) == ["durable_queue"]
                assert wakeups.sent == 2 and len(local) == 22

                class Boom(Exception):
                    pass

                try:
                    async with wakeups.transaction() as conn:
                        await wake_workers(conn, queries, 9)
                        raise Boom
                except Boom:
                    pass
                assert len(local) == 22  # the rolled-back one woke nobody
                assert await _notes(listener, 0.3) == []

                async with pool.connection() as conn, conn.transaction():  # plain: inside
                    await wake_workers(conn, queries)
                assert len(local) == 22
                assert await _notes(listener, 1.0) == ["durable_queue"]
        finally:
            await wakeups.close()
            await pool.close()

    asyncio.run(scenario())
