"""The worker loop: claim while slots are free, sleep until the next row is due or a
notification wakes it, renew the leases of in-flight invocations (heartbeat), hand-off slots
for API calls, and stopping (drained) or aborting (as a crash would)."""

from __future__ import annotations

import asyncio
import logging

import psycopg

from ..core.admission import (
    idle_delay,
)
from ..store import queue
from .base import Claim
from .claims import Claims

log = logging.getLogger("durable.engine")


class Scheduler(Claims):
    async def run_workers(self) -> None:
        """Claim due work and dispatch it until stop() is called."""
        await self.start_http()
        listener = asyncio.create_task(self._listen())
        heartbeat = asyncio.create_task(self._heartbeat())
        self._workers_running = True
        try:
            while not self._stopping:
                free = self._free_slots()
                if free <= 0:
                    # Every slot is busy: nothing to ask the database until one frees (an
                    # invocation ending wakes the loop; the timeout covers a hand-off's
                    # reservation given back).
                    await self._wait_wake(1.0)
                    continue
                claims: list[Claim] = []
                try:
                    claims = await self._claim(free)
                except (psycopg.Error, OSError) as error:
                    log.warning("claim failed: %s", error)
                    await asyncio.sleep(1)
                    continue
                if self._stopping:  # stop() began while we claimed: hand them back
                    await self._release_all([c.lease_token for c in claims])
                    break
                for claim in claims:
                    task = asyncio.create_task(self._drive(claim))
                    self._tasks.add(task)
                    task.add_done_callback(self._task_done)
                if len(claims) == free:
                    continue  # more may be due: claim again as soon as a slot is free
                # Fewer than asked: nothing else is claimable now.
                await self._sleep_until_work()
        finally:
            self._workers_running = False
            listener.cancel()
            heartbeat.cancel()
            if self._claimer is not None:
                await self._claimer.close()
                self._claimer = None

    def handoff_slots(self, wanted: int) -> int:
        """Reserve up to `wanted` free invocation slots of this process for the runs an API
        call is about to create; give them back with adopt()."""
        granted = min(wanted, self._free_slots())
        self._reserved += granted
        return granted

    async def adopt(self, claims: list[Claim], reserved: int) -> None:
        """Invoke runs an API call leased to this process in its committed transaction (the
        hand-off of ingest()), and free the slots reserved for it."""
        self._reserved -= reserved
        if claims and (self._stopping or not self._workers_running):
            await self._release_all([c.lease_token for c in claims])
            return
        for claim in claims:
            task = asyncio.create_task(self._drive(claim))
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("dispatch task crashed", exc_info=task.exception())

    async def _wait_wake(self, timeout: float) -> bool:
        """Wait for a wake-up (True) or the timeout (False)."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, timeout))
            woken = True
        except TimeoutError:
            woken = False
        self._wake.clear()
        return woken

    async def _sleep_until_work(self) -> None:
        """Sleep until the next row is due, a slot frees here, or a NOTIFY says work was
        queued. With nothing due the worker still looks every half lease, with the look-ahead
        alone (one statement) and a claim only when it finds work: a lease taken by another
        process's hand-off (no NOTIFY) whose holder then died, or a wake-up lost with a
        process that died between its commit and its NOTIFY, is found within half a lease."""
        while not self._stopping:
            delay, due = await self._idle_delay()
            if await self._wait_wake(delay) or due:
                return

    async def _idle_delay(self) -> tuple[float, bool]:
        """How long to sleep, and whether work is due at its end (False: only a recheck).
        Rows due now that we could not claim (a full concurrency limit) are looked at again
        twice a second, not in a spin: a run that ends wakes the workers, so a freed slot is
        usually taken at once anyway."""
        recheck = self.config.lease_s / 2
        now = self.clock()
        # Judge "due but not claimable" by the last claim's clock: a row that became due
        # after that claim (an asyncio timer fires up to a millisecond early) is due work to
        # claim at once, not a blocked row to poll for twice a second.
        claimed_at = min(self._claimed_at or now, now)
        self._claimed_at = None  # once: without a new claim, judge by the clock
        try:
            async with self.pool.connection() as conn:
                row = await queue.next_due(conn, self.queries, claimed_at)
        except (psycopg.Error, OSError):
            return 1.0, True
        if row is None:
            return recheck, False
        delay = idle_delay(now, recheck, self._throttle_free_at, row["at"], row["stuck"])
        return delay, delay < recheck

    async def _listen(self) -> None:
        while not self._stopping:
            try:
                conn = await psycopg.AsyncConnection.connect(self.config.listen_url,
                                                             autocommit=True)
                async with conn:
                    await conn.execute("LISTEN durable_queue")
                    await conn.execute("LISTEN durable_cancel")
                    self._wake.set()
                    async for note in conn.notifies():
                        if note.channel == "durable_cancel":
                            if note.payload in self._driving:
                                self._cancelled.add(note.payload)
                            continue
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - reconnect on any failure
                log.warning("listen connection lost: %s", error)
                await asyncio.sleep(1)

    async def _heartbeat(self) -> None:
        """Renew the leases of every invocation in flight here, in one statement a beat."""
        every = self.config.heartbeat_s or self.config.lease_s / 3
        while True:
            await asyncio.sleep(every)
            tokens = list(self._held)
            if not tokens:
                continue
            try:
                async with self.pool.connection() as conn:
                    await conn.set_autocommit(True)
                    try:
                        await queue.renew(conn, self.queries, tokens, self.clock(),
                                          self.config.lease_s)
                    finally:
                        await conn.set_autocommit(False)
            except (psycopg.Error, OSError) as error:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from error
                log.warning("lease renewal failed: %s", error)

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, drain_s: float = 10.0) -> None:
        """Stop claiming; let in-flight invocations finish, then release what is held."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=drain_s)
            for task in pending:
                task.cancel()
        if self._held:
            try:
                async with self.pool.connection() as conn:
                    await queue.release(conn, self.queries, list(self._held))
            except (psycopg.Error, OSError):
                pass  # leases expire by themselves
        await self.close()

    async def abort(self) -> None:
        """Stop as a crash would: in-flight work is dropped, leases left to expire."""
        self._stopping = True
        self._wake.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.close()
