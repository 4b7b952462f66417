"""Committing `step` ops in groups: the step commits that arrive while others are being written
go out together as one statement, one transaction and one WAL flush (`commit_steps`), as
Postgres itself groups concurrent commits. A lone step is written at once, so a quiet engine
waits for nothing; a busy one spends far less per step on the client, the round trip and the
commit. At most `in_flight` groups are written at a time.

Each step keeps its own fence: a step whose attempt lost its lease writes only its delivery
(marked stale), whatever the others in its group do. A group that fails as a whole (a
deadlock with a bulk cancel, an unexpected error) is written again one step at a time, so one
step's trouble stays its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from ..aio import stop_task
from ..db import Pool

log = logging.getLogger("durable.engine")


@dataclass(frozen=True, slots=True)
class StepCommit:
    """One `step` op to commit: the run's lease, its memo and its delivery record."""

    run_id: str
    lease_token: uuid.UUID
    new_token: uuid.UUID  # the run's next lease, held by the committing process
    now: datetime
    namespace: str
    step_id: str
    data: Any
    position: int
    queued_at: datetime
    started_at: datetime
    app_ms: float
    workspace_id: str
    function_id: str
    attempt: int
    url: str
    status: int | None
    delivery_id: str

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "lease_token": str(self.lease_token),
                "new_token": str(self.new_token), "now": self.now.isoformat(),
                "namespace": self.namespace, "step_id": self.step_id, "data": self.data,
                "position": self.position, "queued_at": self.queued_at.isoformat(),
                "started_at": self.started_at.isoformat(), "app_ms": self.app_ms,
                "delivery_id": self.delivery_id, "workspace_id": self.workspace_id,
                "function_id": self.function_id, "attempt": self.attempt, "url": self.url,
                "status": self.status}


@dataclass(frozen=True, slots=True)
class StepCommitted:
    fenced: bool  # the attempt still held the lease: the memo and the next lease are written
    memoized: bool  # the memo is new (False: a memo of that step id was there already)


Item = tuple[StepCommit, str, "asyncio.Future[StepCommitted]"]  # a step, its JSON, its caller


class StepCommitter:
    def __init__(self, pool: Pool, queries: dict[str, str], lease_s: float,
                 in_flight: int = 2, most: int = 256) -> None:
        self.pool = pool
        self.sql = queries["commit_steps"]
        self.lease_s = lease_s
        self.most = most  # steps in one group at most
        self.groups = 0  # groups written (a figure for benchmarks)
        self.steps = 0
        self._slots = asyncio.Semaphore(in_flight)
        self._pending: list[tuple[StepCommit, str, asyncio.Future[StepCommitted]]] = []
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[None]] = set()

    async def commit(self, step: StepCommit) -> StepCommitted:
        """Commit `step` with whatever others are waiting; raises what writing it raised."""
        text = _dumps(step.to_json())  # a value that cannot be written fails its caller only
        future: asyncio.Future[StepCommitted] = asyncio.get_running_loop().create_future()
        self._pending.append((step, text, future))
        self._kick.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._gather(), name="step-commits")
        return await future

    async def _gather(self) -> None:
        while True:
            await self._kick.wait()
            await self._slots.acquire()  # a group starts when one of the writers is free
            self._kick.clear()
            group, self._pending = self._pending[:self.most], self._pending[self.most:]
            if self._pending:
                self._kick.set()
            if not group:
                self._slots.release()
                continue
            task = asyncio.create_task(self._write(group))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _write(self, group: list[Item]) -> None:
        try:
            try:
                results = await self._execute(group)
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure,
                    psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) \
                    as error:
                if len(group) == 1:
                    raise
                log.warning("a group of %d step commits failed (%s): one at a time",
                            len(group), error)
                for item in group:
                    await self._write_alone(item)
                return
            for step, _, future in group:
                if not future.done():
                    future.set_result(results.get(step.run_id, StepCommitted(False, False)))
        except BaseException as error:  # noqa: BLE001 - handed to every waiting caller
            for _, _, future in group:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
        finally:
            self._slots.release()

    async def _write_alone(self, item: Item) -> None:
        step, _, future = item
        try:
            results = await self._execute([item])
        except Exception as error:  # noqa: BLE001 - this step's own failure, to its caller
            future.set_exception(error)
            return
        future.set_result(results.get(step.run_id, StepCommitted(False, False)))

    async def _execute(self, group: list[Item]) -> dict[str, StepCommitted]:
        ordered = sorted(group, key=lambda item: item[0].run_id)  # lock rows in one order
        body = "[" + ",".join(text for _, text, _ in ordered) + "]"
        async with self.pool.connection() as conn:
            await conn.set_autocommit(True)
            try:
                cur = await conn.execute(self.sql, {"steps": body, "lease_s": self.lease_s})
                rows = await cur.fetchall()
            finally:
                await conn.set_autocommit(False)
        self.groups += 1
        self.steps += len(group)
        return {r["run_id"]: StepCommitted(r["fenced"], r["memoized"]) for r in rows}

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        for _, _, future in self._pending:
            if not future.done():
                future.cancel()
        self._pending = []


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
