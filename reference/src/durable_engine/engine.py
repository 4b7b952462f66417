"""The engine core: event ingestion, the queue, the dispatcher and every op's transition.

Each transition is one transaction: the step memo, the run's status and the run's next queue
item commit together. A claimed queue row carries a lease token; an answer is applied only
while its token is still the row's token, so a stale attempt's late answer changes nothing.
A lease is short (Config.lease_s) whatever the function's timeoutMs: the process holding it
renews the leases of all its in-flight invocations every heartbeat, so the runs of a process
that died are claimed again within one lease.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from . import signing
from .core.admission import (
    admit,
    backoff_ms,
    deferred,
    flow_buckets,
    idle_delay,
    may_retry,
    pending_runtime,
    rate_limit_of,
    throttle_bucket,
)
from .core.context import RunContext
from .core.invocation import (
    MAX_ANSWER_BYTES,
    MAX_STEPS,
    DoneOp,
    ErrorOp,
    Op,
    SendEventOp,
    SleepOp,
    StepOp,
    WaitOp,
    dumps,
    memo_refusal,
    read_answer,
    refusal,
    request_body,
    request_headers,
    signs_v2,
)
from .core.manifest import parse_manifest
from .core.status import RunStatus
from .cron import latest_fire, next_fire
from .db import load_queries
from .flow import pend, throttle_heads, throttle_windows
from .logs import run_changed
from .paths import event_matches
from .store.runs import enqueue
from .validation import parse_instant

__all__ = ["MAX_ANSWER_BYTES", "MAX_STEPS", "Claim", "Config", "Engine", "Outcome",
           "backoff_ms", "dumps", "flow_buckets", "iso", "to_ms", "utcnow"]

log = logging.getLogger("durable.engine")

def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


@dataclass
class Config:
    database_url: str
    worker_slots: int = 16
    lease_s: float = 10.0  # a lease's length; renewed by the holder's heartbeat
    heartbeat_s: float = 0.0  # how often leases are renewed; 0: a third of lease_s
    default_timeout_ms: int = 300_000  # [RETRY-3] default timeoutMs
    backoff_base_ms: int = 1000
    backoff_cap_ms: int = 300_000
    manifest_ttl_s: float = 60.0
    idle_poll_s: float = 5.0
    pool_size: int = 10


@dataclass
class Claim:
    run_id: str
    workspace_id: str
    namespace: str
    kind: str
    attempt: int
    due_at: datetime
    lease_token: uuid.UUID
    context: RunContext | None = None


@dataclass
class Outcome:
    """What one HTTP attempt produced: a valid op, or a delivery error."""

    op: Op | None
    error: str | None
    status: int | None
    started: datetime
    duration_ms: float
    code: str = "INVALID_RESPONSE"


@dataclass
class Engine:
    config: Config
    pool: AsyncConnectionPool
    clock: Callable[[], datetime] = utcnow
    queries: dict[str, str] = field(default_factory=load_queries)
    session: aiohttp.ClientSession | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: bool = False
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _held: set[uuid.UUID] = field(default_factory=set)
    _manifests: dict[str, float] = field(default_factory=dict)
    _claimer: psycopg.AsyncConnection[Any] | None = None
    _driving: set[str] = field(default_factory=set)  # run ids this process is invoking
    _cancelled: set[str] = field(default_factory=set)  # ... of which cancelled meanwhile
    _throttle_free_at: datetime | None = None  # when a full throttle window next has room
    _claimed_at: datetime | None = None  # the clock of the last claim round
    _fair_candidates: bool = False  # the queue's head is a blocked backlog: look per bucket
    last_manifest_status: int | None = None  # HTTP status of the last manifest GET (dev hints)
    _workers_running: bool = False  # this process invokes apps (serve without --no-workers)
    _reserved: int = 0  # slots promised to API calls handing new runs off to this process

    def q(self, name: str) -> str:
        return self.queries[name]

    async def start_http(self) -> None:
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=256, limit_per_host=64)
            self.session = aiohttp.ClientSession(connector=connector)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    # ---- events ----------------------------------------------------------------------------

    async def ingest(self, conn: psycopg.AsyncConnection[Any], workspace_id: str,
                     events: list[dict[str, Any]], now: datetime,
                     handoff: list[Claim] | None = None, slots: int = 0
                     ) -> list[dict[str, Any]]:
        """Store events (idempotent by id), start triggered runs, resolve matching waits.

        Runs inside the caller's transaction, so a sendEvent op commits it with its memo.
        With `slots` > 0, up to that many new runs without flow rules are leased to the
        caller at once and appended to `handoff`: the caller invokes them after its commit,
        sparing them the wake-up and claim round trips (none jumps due work, see the SQL).
        """
        receipts = []
        woke = False
        for raw in events:
            event = {
                "id": raw.get("id") or str(uuid.uuid4()),
                "name": raw["name"],
                "data": raw.get("data", {}),
                "ts": raw.get("ts", to_ms(now)),
            }
            cur = await conn.execute(self.q("event_accept"), {
                "workspace_id": workspace_id, "id": event["id"], "name": event["name"],
                "data": Jsonb(event["data"]), "ts": event["ts"], "now": now})
            accepted = await cur.fetchone()
            assert accepted is not None
            if not accepted["inserted"]:
                prior = accepted["prior_receipt"]
                if not prior:  # accepted by a concurrent transaction after our snapshot
                    cur = await conn.execute(self.q("event_receipt"),
                                             {"workspace_id": workspace_id, "id": event["id"]})
                    row = await cur.fetchone()
                    prior = row["receipt"] if row else {"id": event["id"]}
                receipts.append({**prior, "duplicate": True})
                continue
            runs = []
            # Versions share one debounce/batch bucket ([FLOW-8]): its run goes to the last
            # version listed (by runtime id, so id@2 rather than id@1).
            pender = pending_runtime(accepted["functions"])
            for fn in accepted["functions"]:
                keys, limits = flow_buckets(workspace_id, fn["definition"], event)
                deferring = deferred(fn["definition"])
                if deferring and pender[fn["definition"]["id"]] != fn["runtime_id"]:
                    continue
                rate_key, skip = await self._rate_limit(conn, workspace_id, fn["definition"],
                                                        event, now)
                if deferring and skip is None:  # [FLOW-5], [FLOW-6]: the run comes later
                    await pend(conn, self.queries, workspace_id, fn, event, now, keys, limits,
                               rate_key)
                    woke = True  # idle workers learn the bucket's due time
                    continue
                throttle = throttle_bucket(workspace_id, fn["definition"], event)
                lease_s = None
                if slots > 0 and skip is None and not keys and throttle["throttle_key"] is None:
                    slots -= 1
                    lease_s = self.config.lease_s
                runs.append({"id": str(uuid.uuid4()), "function_id": fn["runtime_id"],
                             "priority": fn["priority"], "flow_keys": keys,
                             "flow_limits": limits, "rate_key": rate_key,
                             "skip_reason": skip, "lease_s": lease_s, **throttle})
            run_ids = [r["id"] for r in runs]
            resumable = [w for w in accepted["waits"]
                         if event_matches(event["name"], w["match"], event)]
            receipt = {"id": event["id"], "name": event["name"], "ts": event["ts"],
                       "runIds": run_ids,
                       "matched": len(accepted["functions"]) + len(resumable)}  # [EVT-7]
            cur = await conn.execute(self.q("event_runs_create"), {
                "workspace_id": workspace_id, "event_id": event["id"], "event": Jsonb(event),
                "now": now, "runs": Jsonb(runs), "receipt": Jsonb(receipt)})
            handed = {row["run_id"]: row["lease_token"] for row in await cur.fetchall()}
            by_id = {fn["runtime_id"]: fn for fn in accepted["functions"]}
            for run in runs:
                token = handed.get(run["id"])
                if token is None or handoff is None:
                    continue
                fn = by_id[run["function_id"]]
                context = RunContext.from_row({
                    **accepted, "id": run["id"], "workspace_id": workspace_id,
                    "function_id": run["function_id"], "event": event, "events": None,
                    "error": None, "definition": fn["definition"]}, steps={})
                handoff.append(Claim(run["id"], workspace_id, "main", "invoke", 0, now, token,
                                     context))
            woke = woke or any(r["skip_reason"] is None and r["id"] not in handed
                               for r in runs)
            for wait in resumable:
                created_at = parse_instant(wait["created_at"])
                await self._resolve_wait(conn, wait["run_id"], wait["namespace"],
                                         wait["step_id"], event, created_at, now)
                woke = True
            receipts.append({**receipt, "duplicate": False})
        if woke:
            await conn.execute(self.q("notify_queue"))
        return receipts

    async def _rate_limit(self, conn: psycopg.AsyncConnection[Any], workspace_id: str,
                          definition: dict[str, Any] | None, event: dict[str, Any],
                          now: datetime) -> tuple[str | None, str | None]:
        """[FLOW-4]: (the run's rate bucket, "rate_limited" when the window is full)."""
        rule = rate_limit_of(workspace_id, definition, event)
        if rule is None:
            return None, None
        await conn.execute(self.q("rate_lock"), {"rate_key": rule.key})
        cur = await conn.execute(self.q("rate_window_count"), {
            "rate_key": rule.key, "now": now, "period_ms": rule.period_ms})
        row = await cur.fetchone()
        full = row is not None and rule.refuses(row["n"])
        return rule.key, "rate_limited" if full else None

    async def _resolve_wait(self, conn: psycopg.AsyncConnection[Any], run_id: str,
                            namespace: str, step_id: str, data: Any, created_at: datetime,
                            now: datetime) -> bool:
        cur = await conn.execute(self.q("wait_take_one"),
                                 {"run_id": run_id, "namespace": namespace, "step_id": step_id})
        if await cur.fetchone() is None:
            return False
        await self._memo(conn, run_id, namespace, step_id, "wait", data,
                         queued_at=created_at, started_at=None, app_ms=None, ended_at=now)
        await conn.execute(self.q("queue_resume"), {"run_id": run_id, "now": now})
        await conn.execute(self.q("run_set_status"),
                           {"run_id": run_id, "status": RunStatus.QUEUED.value, "now": now})
        return True

    async def _memo(self, conn: psycopg.AsyncConnection[Any], run_id: str, namespace: str,
                    step_id: str, type_: str, data: Any, *, queued_at: datetime | None,
                    started_at: datetime | None, app_ms: float | None,
                    ended_at: datetime, wake_at: datetime | None = None) -> bool:
        cur = await conn.execute(self.q("step_insert"), {
            "run_id": run_id, "namespace": namespace, "step_id": step_id, "type": type_,
            "data": Jsonb(data), "queued_at": queued_at, "started_at": started_at,
            "app_ms": app_ms, "ended_at": ended_at, "wake_at": wake_at})
        return await cur.fetchone() is not None

    # ---- the worker loop -------------------------------------------------------------------

    async def run_workers(self) -> None:
        """Claim due work and dispatch it until stop() is called."""
        await self.start_http()
        listener = asyncio.create_task(self._listen())
        heartbeat = asyncio.create_task(self._heartbeat())
        self._workers_running = True
        try:
            while not self._stopping:
                free = self.config.worker_slots - len(self._tasks) - self._reserved
                claims: list[Claim] = []
                if free > 0:
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
                if claims and len(claims) == free:
                    await self._wait_wake(0.05 if free else 1.0)
                    continue
                if claims:
                    continue
                await self._wait_wake(await self._idle_delay())
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
        if not self._workers_running or self._stopping:
            return 0
        free = self.config.worker_slots - len(self._tasks) - self._reserved
        granted = max(0, min(wanted, free))
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

    async def _wait_wake(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, timeout))
        except TimeoutError:
            pass
        self._wake.clear()

    async def _idle_delay(self) -> float:
        """Sleep until the next row becomes due. Rows due now that we could not claim (a full
        concurrency limit) are looked at again twice a second, not in a spin: a run that
        ends notifies, so a freed slot is usually taken at once anyway."""
        now = self.clock()
        # Judge "due but not claimable" by the last claim's clock: a row that became due
        # after that claim (an asyncio timer fires up to a millisecond early) is due work to
        # claim at once, not a blocked row to poll for twice a second.
        claimed_at = min(self._claimed_at or now, now)
        self._claimed_at = None  # once: without a new claim, judge by the clock
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(self.q("next_due"), {"now": claimed_at})
                row = await cur.fetchone()
        except (psycopg.Error, OSError):
            return 1.0
        if row is None:
            return self.config.idle_poll_s
        return idle_delay(now, self.config.idle_poll_s, self._throttle_free_at, row["at"],
                          row["stuck"])

    async def _listen(self) -> None:
        while not self._stopping:
            try:
                conn = await psycopg.AsyncConnection.connect(self.config.database_url,
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
                        await conn.execute(self.q("queue_renew"), {
                            "tokens": tokens, "now": self.clock(),
                            "lease_s": self.config.lease_s})
                    finally:
                        await conn.set_autocommit(False)
            except (psycopg.Error, OSError) as error:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from error
                log.warning("lease renewal failed: %s", error)

    def wake(self) -> None:
        self._wake.set()

    def forget_manifest(self, workspace_id: str) -> None:
        """A sync just told us what the manifest would: no fetch for another TTL."""
        self._manifests[workspace_id] = time.monotonic()

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
                    await conn.execute(self.q("queue_release"), {"tokens": list(self._held)})
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

    async def _release(self, token: uuid.UUID) -> None:
        await self._release_all([token])

    async def _release_all(self, tokens: list[uuid.UUID]) -> None:
        if not tokens:
            return
        try:
            async with self.pool.connection() as conn:
                await conn.execute(self.q("queue_release"), {"tokens": tokens})
        except (psycopg.Error, OSError):
            pass  # the leases expire by themselves

    async def _claim(self, limit: int) -> list[Claim]:
        """One round trip on the claimer's own autocommit connection."""
        if self._claimer is None or self._claimer.closed:
            self._claimer = await psycopg.AsyncConnection.connect(
                self.config.database_url, autocommit=True, row_factory=dict_row)
            await self._claimer.execute(self.q("claimer_session"))
        now = self._claimed_at = self.clock()
        params = {"now": now, "limit": limit, "flow_ok": [], "lease_s": self.config.lease_s}
        try:
            conn = self._claimer
            # Due debounce/batch buckets become runs; then, is any due row flow-controlled?
            cur = await conn.execute(self.q("flow_flush"), {"now": now, "bucket": None})
            probe = await cur.fetchone()
            if probe is not None and probe["flushed"]:
                await conn.execute(self.q("notify_queue"))
            if probe is None or not probe["flow"]:  # the common case: no transaction
                self._throttle_free_at = None
                rows = await (await conn.execute(self.q("claim"), params)).fetchall()
            else:
                async with conn.transaction():
                    params["flow_ok"] = await self._flow_admit(conn, now, limit)
                    rows = await (await conn.execute(self.q("claim"), params)).fetchall()
        except (psycopg.Error, OSError):
            await self._claimer.close()
            self._claimer = None
            raise
        claims = []
        for r in rows:
            claim = Claim(r["run_id"], r["workspace_id"], r["namespace"], r["kind"],
                          r["attempt"], r["due_at"], r["lease_token"])
            if claim.kind == "invoke":
                claim.context = RunContext.from_row(r)
            claims.append(claim)
        return claims

    async def _flow_admit(self, conn: psycopg.AsyncConnection[Any], now: datetime,
                          limit: int) -> list[str]:
        """Which due flow-controlled runs may start now: per bucket, fewer than `limit`
        invocations in flight. Bucket locks serialize claimers across processes, so a limit is
        exact; the admitted rows stay locked by this transaction until the claim commits."""
        fair = self._fair_candidates
        cur = await conn.execute(self.q("flow_candidates_fair" if fair else "flow_candidates"),
                                 {"now": now, "limit": limit * 4})
        candidates = await cur.fetchall()
        self._fair_candidates = False
        if not candidates:
            return []
        keys = sorted({k for c in candidates for k in c["flow_keys"]}
                      | {c["throttle_key"] for c in candidates if c["throttle_key"]})
        await conn.execute(self.q("flow_lock"), {"keys": keys})
        cur = await conn.execute(self.q("flow_in_flight"), {"now": now, "keys": keys})
        in_flight = {r["key"]: r["n"] for r in await cur.fetchall()}
        # [FLOW-3]: starts in each throttle window, counted under the same bucket locks
        windows = await throttle_windows(conn, self.queries, candidates, now)
        limits = {c["throttle_key"]: c["throttle_limit"] for c in candidates
                  if c["throttle_key"] is not None}
        heads = await throttle_heads(conn, self.queries, windows, limits, now)
        admission = admit(candidates, in_flight, windows, heads, limit, limit * 4, fair)
        self._throttle_free_at = admission.throttle_free_at
        self._fair_candidates = admission.look_fair
        return admission.admitted

    # ---- one run's invocations -------------------------------------------------------------

    async def _drive(self, claim: Claim) -> None:
        """Invoke the app for a claimed run, apply the answer, and keep going while the run
        has more work due now (its lease stays held, so no other claim round trip)."""
        self._held.add(claim.lease_token)
        self._driving.add(claim.run_id)
        try:
            if claim.kind == "wait_timeout":
                if not await self._wait_timeout(claim):
                    return
            context = claim.context
            if context is None:
                for attempt in range(8):
                    try:
                        context = await self._context(claim.run_id, claim.namespace)
                        break
                    except psycopg.OperationalError:
                        if attempt == 7:
                            raise
                        await asyncio.sleep(0.2 * 2 ** min(attempt, 4))
                        await self.pool.check()
            else:
                await self._refresh_manifest(context)
            if context is None:
                return
            while claim.run_id not in self._cancelled:  # a cancelled run is never invoked again
                next_token = await self._invoke_once(claim, context)
                if next_token is None:
                    return
                self._held.discard(claim.lease_token)
                claim.lease_token = next_token
                claim.attempt = 0
                claim.due_at = self.clock()
                self._held.add(next_token)
                if self._stopping:  # draining: hand the run back at once, not at lease expiry
                    await self._release(next_token)
                    return
        except (psycopg.Error, OSError) as error:
            # The database stayed away: the lease expires and the run is claimed again.
            log.warning("run %s: giving up this attempt: %s", claim.run_id, error)
        finally:
            self._held.discard(claim.lease_token)
            self._driving.discard(claim.run_id)
            self._cancelled.discard(claim.run_id)

    async def _wait_timeout(self, claim: Claim) -> bool:
        """A wait's deadline passed: memoize null (unless an event won) and invoke."""
        now = self.clock()
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(self.q("fence"), {
                "run_id": claim.run_id, "lease_token": claim.lease_token})
            if await cur.fetchone() is None:
                return False
            cur = await conn.execute(self.q("wait_take"), {
                "run_id": claim.run_id, "namespace": claim.namespace})
            for row in await cur.fetchall():
                await self._memo(conn, claim.run_id, claim.namespace, row["step_id"], "wait",
                                 None, queued_at=row["created_at"], started_at=None,
                                 app_ms=None, ended_at=now)
            await conn.execute(self.q("queue_resume"), {"run_id": claim.run_id, "now": now})
            await conn.execute(self.q("run_set_status"), {
                "run_id": claim.run_id, "status": RunStatus.RUNNING.value, "now": now})
        claim.kind = "invoke"
        return True

    async def _context(self, run_id: str, namespace: str) -> RunContext | None:
        async with self.pool.connection() as conn:
            await conn.set_autocommit(True)  # two plain reads: no BEGIN/COMMIT round trips
            try:
                cur = await conn.execute(self.q("context"), {"run_id": run_id})
                row = await cur.fetchone()
                if row is None:
                    return None
                cur = await conn.execute(self.q("steps_for_run"),
                                         {"run_id": run_id, "namespace": namespace})
                steps = {r["step_id"]: {"type": r["type"], "data": r["data"]}
                         for r in await cur.fetchall()}
            finally:
                await conn.set_autocommit(False)
        context = RunContext.from_row(row, steps)
        await self._refresh_manifest(context)
        return context

    async def _invoke_once(self, claim: Claim, ctx: RunContext) -> uuid.UUID | None:
        raw = dumps(request_body(ctx, claim.run_id, claim.namespace, claim.attempt))
        refused = refusal(ctx, len(raw))
        if refused is not None:
            now = self.clock()
            return await self._apply(claim, ctx, Outcome(refused, None, None, now, 0.0),
                                     deliver=False)
        outcome = await self._post(ctx, raw, ctx.rules.get("timeoutMs"))
        if outcome.status == 401:  # [MAN-6]: the app may have a new key or capability
            self._manifests[ctx.workspace_id] = float("-inf")
        return await self._apply(claim, ctx, outcome)

    async def _post(self, ctx: RunContext, body: bytes, timeout_ms: int | None) -> Outcome:
        assert self.session is not None
        v2 = signs_v2(ctx.capabilities)
        timestamp = str(to_ms(self.clock()))
        headers = request_headers(ctx.keys, body, v2, timestamp)
        started = self.clock()
        t0 = time.perf_counter()
        timeout = aiohttp.ClientTimeout(total=(timeout_ms or self.config.default_timeout_ms)
                                        / 1000)

        def done(op: Op | None, error: str | None, status: int | None,
                 code: str = "INVALID_RESPONSE") -> Outcome:
            # [RETRY-5]: the per-invocation code of [RETRY-3] stays visible in the delivery
            # record (/failures/search detail, /runs/history error), so it leads the text.
            text = None if error is None else f"{code}: {error}"
            return Outcome(op, text, status, started, (time.perf_counter() - t0) * 1000, code)

        try:
            async with self.session.post(ctx.app_url, data=body, headers=headers,
                                         timeout=timeout, allow_redirects=False) as resp:
                answer = await read_limited(resp, MAX_ANSWER_BYTES)
                status = resp.status
                resp_headers = resp.headers
        except TimeoutError:
            return done(None, f"app did not answer within {timeout.total * 1000:.0f} ms", None,
                        "TIMEOUT")
        except aiohttp.ClientError as error:
            return done(None, f"app unreachable: {type(error).__name__}: {error}", None,
                        "DELIVERY_FAILED")
        reply = read_answer(status, answer, resp_headers, ctx.keys, v2, timestamp)
        return done(reply.op, reply.error, status, reply.code)

    async def _apply(self, claim: Claim, ctx: RunContext, outcome: Outcome,
                     deliver: bool = True) -> uuid.UUID | None:
        """Apply an answer, riding out a database restart: the answer is not dropped while the
        database is briefly away (the fence makes a retried commit safe)."""
        delay = 0.2
        for attempt in range(8):
            try:
                return await self._apply_once(claim, ctx, outcome, deliver)
            except psycopg.OperationalError as error:
                if attempt == 7:
                    raise
                log.warning("run %s: database unavailable (%s); retrying", claim.run_id, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                await self.pool.check()  # drop the pool's dead connections
        return None

    async def _apply_once(self, claim: Claim, ctx: RunContext, outcome: Outcome,
                          deliver: bool = True) -> uuid.UUID | None:
        """One transaction: fence, delivery record, the op's transition. Returns the new lease
        token when the run should be invoked again at once by this worker."""
        now = self.clock()
        op = outcome.op
        if deliver and isinstance(op, StepOp) and memo_refusal(op, ctx.steps) is None:
            return await self._commit_step(claim, ctx, op, outcome, now)
        error_text = outcome.error
        if isinstance(op, ErrorOp):
            # The HTTP exchange worked but the run did not progress: a failure for the view.
            error_text = f"{op.name or 'Error'}: {op.message}"
        ctx.changes = []
        try:
            async with self.pool.connection() as conn, conn.transaction():
                cur = await conn.execute(self.q("fence"), {
                    "run_id": claim.run_id, "lease_token": claim.lease_token})
                fenced = await cur.fetchone()
                if deliver:
                    await conn.execute(self.q("delivery_insert"), {
                        "id": str(uuid.uuid4()), "workspace_id": ctx.workspace_id,
                        "run_id": claim.run_id, "function_id": ctx.function_id,
                        "namespace": claim.namespace, "attempt": claim.attempt,
                        "url": ctx.app_url, "status": outcome.status,
                        "duration_ms": outcome.duration_ms, "op": op and op.kind,
                        "error": error_text if fenced else (error_text or "stale attempt"),
                        "code": outcome.code if outcome.error is not None else (
                            op.code if isinstance(op, ErrorOp) else None),
                        "at": outcome.started})
                if fenced is None:
                    return None  # lease lost (expired, cancelled): this answer is void
                if op is None:
                    op = ErrorOp(error_text, None, True, "DurableError", outcome.code,
                                 delivery=True)
                token = await self._transition(conn, claim, ctx, op, outcome, now)
        except psycopg.errors.UniqueViolation:
            return None
        for status, fields in ctx.changes:  # committed: now they happened
            run_changed(claim.run_id, status, function=ctx.function_id, **fields)
        return token

    async def _commit_step(self, claim: Claim, ctx: RunContext, op: StepOp,
                           outcome: Outcome, now: datetime) -> uuid.UUID | None:
        token = uuid.uuid4()
        async with self.pool.connection() as conn:
            await conn.set_autocommit(True)
            try:
                cur = await conn.execute(self.q("commit_step"), {
                    "run_id": claim.run_id, "lease_token": claim.lease_token,
                    "new_token": token, "now": now,
                    "lease_s": self.config.lease_s,
                    "namespace": claim.namespace, "step_id": op.id,
                    "data": Jsonb(op.data), "position": len(ctx.steps),
                    "queued_at": claim.due_at, "started_at": outcome.started,
                    "app_ms": outcome.duration_ms, "delivery_id": str(uuid.uuid4()),
                    "workspace_id": ctx.workspace_id, "function_id": ctx.function_id,
                    "attempt": claim.attempt, "url": ctx.app_url, "status": outcome.status,
                    "duration_ms": outcome.duration_ms})
                row = await cur.fetchone()
            finally:
                await conn.set_autocommit(False)
        if row is None or not row["fenced"]:
            return None
        if not row["memoized"]:
            log.error("run %s: step %s was memoized concurrently", claim.run_id, op.id)
        ctx.steps[op.id] = {"type": "run", "data": op.data}
        return token

    async def _transition(self, conn: psycopg.AsyncConnection[Any], claim: Claim,
                          ctx: RunContext, op: Op, outcome: Outcome,
                          now: datetime) -> uuid.UUID | None:
        ns = claim.namespace
        refused = memo_refusal(op, ctx.steps)  # [OP-10], [ERR-7]
        if refused is not None:
            return await self._fail(conn, claim, ctx, refused.error(), now)
        timing = {"queued_at": claim.due_at, "started_at": outcome.started,
                  "app_ms": outcome.duration_ms}
        if isinstance(op, StepOp | SendEventOp):
            if isinstance(op, StepOp):
                kind, data = "run", op.data
            else:
                kind = "sendEvent"
                data = await self.ingest(conn, ctx.workspace_id, op.events, now)
            await self._memo(conn, claim.run_id, ns, op.id, kind, data, ended_at=now,
                             **timing)
            ctx.steps[op.id] = {"type": kind, "data": data}
            token = uuid.uuid4()
            await conn.execute(self.q("queue_continue"), {
                "run_id": claim.run_id, "now": now, "new_token": token,
                "lease_s": self.config.lease_s})
            return token
        if isinstance(op, SleepOp):
            # [API-22]: the step is recorded now; its end is a time of its own
            wake = max(op.until, now)
            await self._memo(conn, claim.run_id, ns, op.id, "sleep", None,
                             ended_at=now, wake_at=wake, **timing)
            await self._park(conn, claim, "invoke", op.until, RunStatus.SLEEPING, now)
            ctx.changed(RunStatus.SLEEPING, step=op.id, wakeAt=iso(wake))
            return None
        if isinstance(op, WaitOp):
            await conn.execute(self.q("wait_insert"), {
                "run_id": claim.run_id, "namespace": ns, "step_id": op.id,
                "workspace_id": ctx.workspace_id, "event_name": op.event,
                "match": Jsonb(op.match), "until": op.until, "now": now})
            await self._park(conn, claim, "wait_timeout", op.until, RunStatus.WAITING, now)
            ctx.changed(RunStatus.WAITING, step=op.id, waitFor=op.event, until=iso(op.until))
            return None
        if isinstance(op, DoneOp):
            await conn.execute(self.q("queue_delete"), {"run_id": claim.run_id})
            await conn.execute(self.q("notify_queue"))  # a concurrency slot may be free
            if ns == "failure":
                await conn.execute(self.q("run_failure_handler_end"), {
                    "run_id": claim.run_id, "state": "completed",
                    "output": Jsonb(op.data), "now": now})
            else:
                await conn.execute(self.q("run_complete"), {
                    "run_id": claim.run_id, "output": Jsonb(op.data), "now": now})
            ctx.changed(RunStatus.COMPLETED if ns == "main" else "failure handler completed",
                        attempt=claim.attempt)
            return None
        error = op.error()
        if may_retry(op.retryable, claim.attempt, ctx.definition):
            attempt = claim.attempt + 1
            delay = backoff_ms(attempt, self.config.backoff_base_ms, self.config.backoff_cap_ms)
            await conn.execute(self.q("queue_schedule"), {
                "run_id": claim.run_id, "attempt": attempt, "kind": "invoke",
                "namespace": ns, "due_at": now + timedelta(milliseconds=delay)})
            await conn.execute(self.q("run_set_status"), {
                "run_id": claim.run_id, "status": RunStatus.QUEUED.value, "now": now})
            await conn.execute(self.q("notify_queue"))
            ctx.changed("retrying", attempt=claim.attempt, next=attempt, inMs=delay,
                        code=error.get("code"), error=error["name"], step=error.get("stepId"))
            return None
        if op.delivery:
            error["code"] = "RETRIES_EXHAUSTED"  # [RETRY-5]: the last failure was no error op
        return await self._fail(conn, claim, ctx, error, now)

    async def _fail(self, conn: psycopg.AsyncConnection[Any], claim: Claim,
                    ctx: RunContext, error: dict[str, Any], now: datetime) -> None:
        if claim.namespace == "failure":
            await conn.execute(self.q("queue_delete"), {"run_id": claim.run_id})
            await conn.execute(self.q("run_failure_handler_end"), {
                "run_id": claim.run_id, "state": "failed", "output": Jsonb({"error": error}),
                "now": now})
            ctx.changed("failure handler failed", code=error.get("code"))
            return None
        handler = ctx.rules.get("hasOnFailure") is True
        ctx.changed(RunStatus.FAILED, attempt=claim.attempt, code=error.get("code"),
                    error=error.get("name"), step=error.get("stepId"))
        await conn.execute(self.q("run_fail"), {
            "run_id": claim.run_id, "error": Jsonb(error), "now": now,
            "failure_handler": "running" if handler else None})
        await conn.execute(self.q("waits_delete_run"), {"run_id": claim.run_id})
        if handler:
            ctx.error = error
            await conn.execute(self.q("queue_schedule"), {
                "run_id": claim.run_id, "attempt": 0, "kind": "invoke",
                "namespace": "failure", "due_at": now})
            await conn.execute(self.q("notify_queue"))
        else:
            await conn.execute(self.q("queue_delete"), {"run_id": claim.run_id})
            await conn.execute(self.q("notify_queue"))  # a concurrency slot may be free
        return None

    async def _park(self, conn: psycopg.AsyncConnection[Any], claim: Claim, kind: str,
                    until: datetime, status: RunStatus, now: datetime) -> None:
        await conn.execute(self.q("queue_schedule"), {
            "run_id": claim.run_id, "attempt": 0, "kind": kind, "namespace": claim.namespace,
            "due_at": until})
        # [API-22]: updated_at is when the run parked; the wake time is the queue's due_at
        await conn.execute(self.q("run_set_status"),
                           {"run_id": claim.run_id, "status": status.value, "now": now})
        await conn.execute(self.q("notify_queue"))

    # ---- cron ------------------------------------------------------------------------------

    async def run_cron(self) -> None:
        """Fire cron ticks (decision 0005): each tick once across all engine processes, at
        most one catch-up tick after downtime, sleeping until the next tick in between."""
        while not self._stopping:
            delay = self.config.idle_poll_s
            try:
                delay = await self.cron_round()
            except (psycopg.Error, OSError, ValueError) as error:
                log.warning("cron round failed: %s", error)
            await asyncio.sleep(max(0.01, delay))

    async def cron_round(self) -> float:
        now = self.clock()
        async with self.pool.connection() as conn:
            cur = await conn.execute(self.q("cron_functions"))
            functions = await cur.fetchall()
        wake = now + timedelta(seconds=self.config.idle_poll_s)
        for fn in functions:
            since = fn["last_tick"] or fn["synced_at"]
            tick = latest_fire(fn["trigger_cron"], now, since)
            if tick is not None:
                await self._fire_tick(fn, tick, now)
                since = tick
            wake = min(wake, next_fire(fn["trigger_cron"], max(since, now)))
        return (wake - self.clock()).total_seconds()

    async def _fire_tick(self, fn: dict[str, Any], tick: datetime, now: datetime) -> None:
        run_id = str(uuid.uuid4())
        tick_ms = to_ms(tick)
        event = {"id": f"cron:{fn['runtime_id']}:{tick_ms}", "name": "durable/cron",
                 "data": {"cron": fn["trigger_cron"], "scheduledAt": iso(tick)}, "ts": tick_ms}
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(self.q("cron_tick_claim"), {
                "workspace_id": fn["workspace_id"], "runtime_id": fn["runtime_id"],
                "tick_at": tick, "run_id": run_id})
            if await cur.fetchone() is None:
                return  # another engine fired it
            receipt = {"id": event["id"], "name": event["name"], "ts": tick_ms,
                       "runIds": [run_id]}
            await conn.execute(self.q("cron_event_insert"), {
                "workspace_id": fn["workspace_id"], "id": event["id"],
                "data": Jsonb(event["data"]), "ts": tick_ms, "now": now,
                "receipt": Jsonb(receipt)})
            await conn.execute(self.q("run_insert"), {
                "id": run_id, "workspace_id": fn["workspace_id"],
                "function_id": fn["runtime_id"], "event_id": event["id"],
                "event": Jsonb(event), "now": now})
            await enqueue(conn, self.queries, workspace_id=fn["workspace_id"], run_id=run_id,
                          definition=fn["definition"], event=event, priority=fn["priority"],
                          now=now)

    # ---- manifests -------------------------------------------------------------------------

    async def _refresh_manifest(self, ctx: RunContext) -> None:
        """Learn capabilities and maxRequestBytes from the app's signed manifest."""
        workspace_id = ctx.workspace_id
        last = self._manifests.get(workspace_id)
        if last is not None and time.monotonic() - last < self.config.manifest_ttl_s:
            return
        if last is None and ctx.manifest_at is not None and \
                (self.clock() - ctx.manifest_at).total_seconds() < self.config.manifest_ttl_s:
            self._manifests[workspace_id] = time.monotonic()
            return
        self._manifests[workspace_id] = time.monotonic()
        manifest = parse_manifest(await self.fetch_manifest(ctx.app_url, ctx.keys))
        if manifest is None:
            return
        ctx.capabilities = manifest.capabilities
        ctx.max_request_bytes = manifest.max_request_bytes
        try:
            async with self.pool.connection() as conn:
                await conn.execute(self.q("workspace_set_manifest"), {
                    "id": workspace_id, "capabilities": Jsonb(manifest.capabilities),
                    "max_request_bytes": manifest.max_request_bytes,
                    "sdk_version": manifest.sdk_version, "now": self.clock()})
        except psycopg.Error as error:
            log.warning("could not store manifest: %s", error)

    async def fetch_manifest(self, url: str, keys: list[str],
                             discovery: bool = False) -> dict[str, Any] | None:
        """Signed GET of the manifest; None when unreachable or not trustworthy."""
        await self.start_http()
        assert self.session is not None
        timestamp = str(to_ms(self.clock()))
        headers = {"X-Durable-Timestamp": timestamp}
        if discovery:
            headers["X-Durable-Discovery"] = "true"
        if keys:
            headers["X-Durable-Signature"] = signing.sign(keys[0], timestamp.encode())
        try:
            async with self.session.get(url, headers=headers, allow_redirects=False,
                                        timeout=aiohttp.ClientTimeout(total=5)) as resp:
                body = await read_limited(resp, MAX_ANSWER_BYTES)
                self.last_manifest_status = resp.status
                if resp.status != 200 or len(body) > MAX_ANSWER_BYTES:
                    return None
                signature = resp.headers.get("X-Durable-Signature", "")
        except (aiohttp.ClientError, TimeoutError):
            return None
        try:
            manifest = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not isinstance(manifest, dict):
            return None
        check_keys = keys
        if discovery and isinstance(manifest.get("signingKey"), str):
            check_keys = [manifest["signingKey"]]
        if not signing.matches_any(check_keys, body, signature):
            return None
        return manifest


async def read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """Read at most limit + 1 bytes: enough to tell an oversized answer, never more."""
    if resp.content_length is not None and resp.content_length > limit:
        return b"x" * (limit + 1)
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await resp.content.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
