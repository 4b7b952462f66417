"""Waking the worker loops of every engine process when work is queued (a run created, a
concurrency slot freed, a retry scheduled), after the commit that queued it.

A NOTIFY sent inside a transaction holds a database-wide lock until that transaction's commit
is flushed, so notifying inside every run transition serialized the commits of all engine
processes. A transaction opened with `Wakeups.transaction()` collects the wake-ups asked for
in it (`wake_workers(conn, queries, runs)`) and, once it has committed, this process's worker
loop is woken at once; the other processes are woken by one `pg_notify('durable_queue')` sent
on its own, unless this process has free slots for all the runs queued (it claims them
itself). Requests that arrive while one is being sent are folded into the next. In any other
transaction `wake_workers` notifies inside it, as before.

A wake-up is a hint: a process that dies between its commit and the NOTIFY leaves the others
to find the work at their next poll (Config.idle_poll_s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import psycopg

from ..aio import stop_task
from ..db import Conn, Pool

log = logging.getLogger("durable.engine")

# connections inside a Wakeups.transaction(), by id: the runs queued in it
_collecting: dict[int, list[int]] = {}


async def wake_workers(conn: Conn, queries: Mapping[str, str], runs: int = 1) -> None:
    """Wake the engine's workers once the caller's transaction has committed: `runs` runs
    were queued (or a concurrency slot freed) for them."""
    asked = _collecting.get(id(conn))
    if asked is not None:
        asked.append(runs)
    else:
        await conn.execute(queries["notify_queue"])


class Wakeups:
    def __init__(self, pool: Pool, queries: dict[str, str],
                 local: Callable[[], None], free_slots: Callable[[], int]) -> None:
        self.pool = pool
        self.queries = queries
        self.local = local  # wakes this process's worker loop
        self.free_slots = free_slots  # this process's free invocation slots (0: no workers)
        self.sent = 0  # NOTIFYs sent (requests folded together count once)
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def transaction(self, *, pipeline: bool = False) -> AsyncIterator[Any]:
        """A pooled connection in a transaction (in pipeline mode if asked); the wake-ups
        asked for in it are sent after it commits, none if it rolls back."""
        asked: list[int] = []
        async with self.pool.connection() as conn:
            _collecting[id(conn)] = asked
            try:
                if pipeline:
                    async with conn.pipeline(), conn.transaction():
                        yield conn
                else:
                    async with conn.transaction():
                        yield conn
            finally:
                del _collecting[id(conn)]
        if asked:
            self.wake(sum(asked))

    def wake(self, runs: int = 1) -> None:
        """Wake this process's workers now, and the others' soon unless this one has a free
        slot for each of the `runs` queued."""
        self.local()
        if self.free_slots() >= runs:
            return
        self._due.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._send(), name="wakeups")

    async def _send(self) -> None:
        while True:
            await self._due.wait()
            self._due.clear()
            try:
                async with self.pool.connection() as conn:
                    await conn.set_autocommit(True)
                    try:
                        await conn.execute(self.queries["notify_queue"])
                    finally:
                        await conn.set_autocommit(False)
                self.sent += 1
            except (psycopg.Error, OSError) as error:
                log.warning("could not wake other engine processes: %s", error)
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)
