"""ChangeFeed: run status changes of every engine process, fanned out to in-memory subscribers.

The store publishes each change from one place (the `runs_status_changed` trigger, migrations
0009/0032, and `deliveries_recorded`, 0012/0030: kind "attempt", a step or an error of a run
that a page watches was recorded, see Service.run_watch) on the `durable_runs` channel at
commit, but only while some feed is open: a NOTIFY holds a database-wide lock through its
commit, so an engine nobody watches publishes nothing. A feed holds one LISTEN connection per
process, opened with the first subscriber (or `ready()`), and keeps a `feed_listeners` row
while it has subscribers and for LINGER_S after the last one left. Before it says it is ready
it waits for the transactions that may have changed a run without seeing its row, so a reader
that subscribes and then reads the state misses nothing. It hands each change to the
subscribers that match it by workspace and/or run id. Every subscriber has
a bounded queue: one that falls behind loses its backlog and receives RESYNC (re-read what it
shows), so a slow reader never slows the engine or the other readers.

Every change gets a sequence number `seq` (per feed, with the feed's random `epoch`), and the
feed keeps the last `history` changes, so a reader that reconnects names the last one it saw
(`subscribe(after=...)`, an SSE Last-Event-ID) and is handed what it missed, or RESYNC when
that is no longer kept.

    feed = ChangeFeed(database_url)
    async with feed.subscribe(workspace_id="app_1") as changes:
        async for change in changes:      # RunChange, or RESYNC after an overflow/reconnect
            ...
    await feed.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Final

import psycopg
from psycopg.rows import TupleRow

from ..aio import stop_task
from ..db import load_queries

log = logging.getLogger("durable.changes")

CHANNEL: Final = "durable_runs"
RENEW_S: Final = 10.0  # the feed_listeners row is renewed this often ...
LISTEN_S: Final = 30.0  # ... for this long each time
LINGER_S: Final = 120.0  # kept this long after the last subscriber left (a page reloads)
WRITERS_WAIT_S: Final = 2.0  # at most this long for transactions older than the row


@dataclass(frozen=True)
class RunChange:
    run_id: str
    workspace_id: str
    function_id: str
    status: str  # "" for kind "attempt"
    at: datetime
    kind: str = "status"  # "status": the run's status changed (or it was created); "attempt"
    created_at: datetime | None = None
    event_name: str | None = None
    new: bool = False  # the run was just created
    seq: int = field(default=0, compare=False)

    def to_json(self) -> dict[str, Any]:
        at = self.at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {"runId": self.run_id, "workspaceId": self.workspace_id,
                "functionId": self.function_id, "status": self.status, "at": at,
                "kind": self.kind}

    @classmethod
    def parse(cls, payload: str) -> RunChange:
        value = json.loads(payload)
        created = value.get("createdAt")
        return cls(run_id=value["runId"], workspace_id=value["workspaceId"],
                   function_id=value["functionId"], status=value["status"],
                   at=datetime.fromisoformat(value["at"]), kind=value.get("kind", "status"),
                   created_at=datetime.fromisoformat(created) if created else None,
                   event_name=value.get("eventName"), new=bool(value.get("new", False)))


class Resync:
    """Changes were lost (the subscriber fell behind, or the feed reconnected): re-read."""

    def __repr__(self) -> str:
        return "RESYNC"


RESYNC: Final = Resync()
Item = RunChange | Resync


class Subscription:
    def __init__(self, feed: ChangeFeed, workspace_id: str | None, run_id: str | None,
                 size: int, kinds: tuple[str, ...] = ("status",)) -> None:
        self.feed = feed
        self.workspace_id = workspace_id
        self.run_id = run_id
        self.kinds = kinds
        self.queue: asyncio.Queue[Item] = asyncio.Queue(size)
        self.dropped = 0

    def wants(self, change: RunChange) -> bool:
        return change.kind in self.kinds and \
            (self.workspace_id is None or change.workspace_id == self.workspace_id) and \
            (self.run_id is None or change.run_id == self.run_id)

    def offer(self, item: Item) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:  # drop the backlog, keep one marker: never block the feed
            self.dropped += self.queue.qsize()
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)

    async def get(self, timeout: float | None = None) -> Item:
        return await asyncio.wait_for(self.queue.get(), timeout)

    def __aiter__(self) -> AsyncIterator[Item]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Item]:
        while True:
            yield await self.queue.get()

    async def __aenter__(self) -> Subscription:
        await self.feed.ready()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.feed.subscribers.discard(self)
        self.feed._used_at = time.monotonic()


class ChangeFeed:
    def __init__(self, database_url: str, *, queue_size: int = 1000,
                 history: int = 10_000) -> None:
        self.database_url = database_url
        self.queue_size = queue_size
        self.epoch = secrets.token_hex(4)
        self.seq = 0
        self.history: deque[RunChange] = deque(maxlen=history)
        self.subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._queries = load_queries()
        self._used_at = time.monotonic()  # a subscriber left, or a reader asked ready()
        self._stopped = False  # the feed stopped listening once: numbers have a gap

    def subscribe(self, workspace_id: str | None = None, run_id: str | None = None,
                  queue_size: int | None = None, after: str | None = None,
                  kinds: tuple[str, ...] = ("status",)) -> Subscription:
        """A subscription to the changes of one workspace, one run, or (neither) all, of the
        given kinds ("status" changes; "attempt": every recorded HTTP attempt).
        Use it with `async with` (waits until the feed listens) or call close().
        after: the `event_id` of the last change the reader saw; the kept changes since
        are queued first (RESYNC first when some are no longer kept)."""
        sub = Subscription(self, workspace_id, run_id, queue_size or self.queue_size, kinds)
        if after is not None:
            for item in self.since(after):
                if isinstance(item, Resync) or sub.wants(item):
                    sub.offer(item)
        self.subscribers.add(sub)
        self._start()
        return sub

    def _start(self) -> None:
        self._used_at = time.monotonic()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="change-feed")

    async def ready(self, timeout: float = 30.0) -> None:
        """Start the feed if need be and wait until it listens and changes are published:
        every change committed after this returns is delivered (a page reads its state
        after this, then streams from `seq`)."""
        self._start()
        await asyncio.wait_for(self._listening.wait(), timeout)

    def event_id(self, change: RunChange) -> str:
        """The resumable id of a change (an SSE `id:`)."""
        return f"{self.epoch}-{change.seq}"

    def since(self, event_id: str) -> Sequence[Item]:
        """The kept changes after `event_id`; [RESYNC, ...] when some were not kept or the id
        is of another feed (another process, or before a restart)."""
        epoch, _, number = event_id.partition("-")
        try:
            seq = int(number)
        except ValueError:
            return [RESYNC]
        if epoch != self.epoch or seq > self.seq:
            return [RESYNC]
        kept = [c for c in self.history if c.seq > seq]
        first = kept[0].seq if kept else self.seq + 1
        return kept if first == seq + 1 else [RESYNC, *kept]

    def publish(self, change: RunChange) -> None:
        self.seq += 1
        change = replace(change, seq=self.seq)
        self.history.append(change)
        for sub in list(self.subscribers):
            if sub.wants(change):
                sub.offer(change)

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self.database_url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    await self._announce(conn)
                    if self._listening.is_set() or self._stopped:
                        # a reconnect or a restart: changes may have been missed
                        self.seq += 1  # a gap in the numbers: a resuming reader resyncs too
                        for sub in list(self.subscribers):
                            sub.offer(RESYNC)
                    self._listening.set()
                    delay = 0.1
                    while True:
                        async for note in conn.notifies(timeout=RENEW_S):
                            try:
                                change = RunChange.parse(note.payload)
                            except (ValueError, KeyError, TypeError):
                                log.warning("unreadable run change: %r", note.payload)
                                continue
                            self.publish(change)
                        if self.subscribers:
                            self._used_at = time.monotonic()
                        elif time.monotonic() - self._used_at > LINGER_S:
                            await conn.execute(self._queries["feed_unlisten"],
                                               {"watcher": self.epoch})
                            self._listening.clear()
                            self._stopped = True
                            self._task = None
                            return
                        await conn.execute(self._queries["feed_listen"],
                                           {"watcher": self.epoch, "seconds": LISTEN_S})
            except (psycopg.Error, OSError) as error:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from error
                log.warning("change feed connection lost: %s", error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _announce(self, conn: psycopg.AsyncConnection[TupleRow]) -> None:
        """Put this feed's row in feed_listeners, then wait (a bounded while) for the
        transactions that may have changed a run before they could see it."""
        await conn.execute(self._queries["feed_listen"],
                           {"watcher": self.epoch, "seconds": LISTEN_S})
        cur = await conn.execute(self._queries["feed_horizon"])
        row = await cur.fetchone()
        assert row is not None
        deadline = time.monotonic() + WRITERS_WAIT_S
        while time.monotonic() < deadline:
            cur = await conn.execute(self._queries["feed_writers_done"], {"horizon": row[0]})
            done = await cur.fetchone()
            if done is not None and done[0]:
                return
            await asyncio.sleep(0.005)
        log.warning("change feed: transactions older than its start still run after %.0f s",
                    WRITERS_WAIT_S)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)
            with contextlib.suppress(psycopg.Error, OSError):  # else it lapses by itself
                async with await psycopg.AsyncConnection.connect(
                        self.database_url, autocommit=True, connect_timeout=5) as conn:
                    await conn.execute(self._queries["feed_unlisten"], {"watcher": self.epoch})
        self._listening.clear()
        for sub in list(self.subscribers):
            sub.close()
