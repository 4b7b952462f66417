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
import random
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
from .cron import latest_fire, next_fire
from .db import load_queries
from .flow import (
    deferred,
    flow_buckets,
    pend,
    throttle_bucket,
    throttle_heads,
    throttle_windows,
)
from .logs import run_changed
from .paths import event_matches, key_value
from .store.runs import enqueue
from .validation import Invalid, parse_instant, validate_op

log = logging.getLogger("durable.engine")

MAX_STEPS = 1000
MAX_ANSWER_BYTES = 1_048_576


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def backoff_ms(retry: int, base_ms: int = 1000, cap_ms: int = 300_000,
               rng: Callable[[], float] = random.random) -> float:
    """Delay before retry k (k = 1..N), decision 0006: min(base·2^(k-1), cap) · U[0.5, 1]."""
    return min(base_ms * 2 ** (retry - 1), cap_ms) * (0.5 + 0.5 * rng())


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


def changed(ctx: dict[str, Any], status: str, **fields: Any) -> None:
    """Note a run state change made in the current transaction; logged once it commits."""
    ctx.setdefault("changes", []).append((status, fields))


@dataclass
class Claim:
    run_id: str
    workspace_id: str
    namespace: str
    kind: str
    attempt: int
    due_at: datetime
    lease_token: uuid.UUID
    context: dict[str, Any] | None = None


@dataclass
class Outcome:
    """What one HTTP attempt produced: a valid op, or a delivery error."""

    op: dict[str, Any] | None
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
            pender = {fn["definition"]["id"]: fn["runtime_id"] for fn in accepted["functions"]
                      if deferred(fn["definition"])}
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
                handoff.append(Claim(run["id"], workspace_id, "main", "invoke", 0, now, token, {
                    "run_id": run["id"], "workspace_id": workspace_id, "namespace": "main",
                    "kind": "invoke", "attempt": 0, "due_at": now, "lease_token": token,
                    "id": run["id"], "function_id": run["function_id"], "event": event,
                    "events": None, "error": None, "definition": fn["definition"],
                    "enabled": True, "removed": False, "app_url": accepted["app_url"],
                    "keys": accepted["keys"], "capabilities": accepted["capabilities"],
                    "max_request_bytes": accepted["max_request_bytes"],
                    "manifest_at": accepted["manifest_at"], "steps": {}}))
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
        rule = (definition or {}).get("rateLimit")
        if not rule:
            return None, None
        rate_key = f"{workspace_id}|{definition['id']}|{key_value(event, rule.get('key'))}"
        await conn.execute(self.q("rate_lock"), {"rate_key": rate_key})
        cur = await conn.execute(self.q("rate_window_count"), {
            "rate_key": rate_key, "now": now, "period_ms": rule["periodMs"]})
        row = await cur.fetchone()
        full = row is not None and row["n"] >= rule["limit"]
        return rate_key, "rate_limited" if full else None

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
                           {"run_id": run_id, "status": "queued", "now": now})
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
        delay = self.config.idle_poll_s
        if self._throttle_free_at is not None and self._throttle_free_at > now:
            delay = min(delay, (self._throttle_free_at - now).total_seconds())
        if row is not None and row["at"] is not None:
            delay = min(delay, (row["at"] - now).total_seconds())
        if row is not None and row["stuck"]:
            delay = min(delay, 0.5)
        return max(delay, 0.0)

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
                claim.context = r
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
        started = {k: n for k, (n, _) in windows.items()}
        limits = {c["throttle_key"]: c["throttle_limit"] for c in candidates
                  if c["throttle_key"] is not None}
        # Only a bucket's oldest runs may take its free starts, even when another claimer
        # holds them (its candidates are locked): that claimer starts them when it gets here.
        heads = await throttle_heads(conn, self.queries, windows, limits, now)
        next_head = {k: 0 for k in heads}
        waiting: set[str] = set()  # throttle buckets whose head run waits: FIFO behind it
        self._throttle_free_at = None
        admitted: list[str] = []
        blocked = 0
        for c in candidates:
            pairs = list(zip(c["flow_keys"], c["flow_limits"], strict=True))
            throttle = c["throttle_key"]
            if throttle is not None and (throttle in waiting
                                         or started[throttle] >= c["throttle_limit"]):
                free_at = windows[throttle][1]
                if throttle not in waiting and free_at is not None:
                    self._throttle_free_at = min(self._throttle_free_at or free_at, free_at)
                waiting.add(throttle)
                blocked += 1
                continue
            bucket_heads = heads.get(throttle, []) if throttle is not None else []
            if throttle is not None and (
                    next_head.get(throttle, 0) >= len(bucket_heads)
                    or bucket_heads[next_head[throttle]] != c["run_id"]):
                waiting.add(throttle)  # an older run of the bucket, held elsewhere, goes first
                blocked += 1
                continue
            if len(admitted) >= limit:
                continue
            if all(in_flight.get(k, 0) < n for k, n in pairs):
                admitted.append(c["run_id"])
                for k, _ in pairs:
                    in_flight[k] = in_flight.get(k, 0) + 1
                if throttle is not None:
                    started[throttle] += 1
                    next_head[throttle] += 1
            else:
                blocked += 1
                if throttle is not None:
                    waiting.add(throttle)
        # A full page with blocked rows may hide other buckets' due runs behind a backlog:
        # the next round looks per bucket (costlier, so only while it is needed).
        self._fair_candidates = blocked > 0 and (fair or len(candidates) == limit * 4)
        return admitted

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
            await conn.execute(self.q("run_set_status"),
                               {"run_id": claim.run_id, "status": "running", "now": now})
        claim.kind = "invoke"
        return True

    async def _context(self, run_id: str, namespace: str) -> dict[str, Any] | None:
        async with self.pool.connection() as conn:
            await conn.set_autocommit(True)  # two plain reads: no BEGIN/COMMIT round trips
            try:
                cur = await conn.execute(self.q("context"), {"run_id": run_id})
                context = await cur.fetchone()
                if context is None:
                    return None
                cur = await conn.execute(self.q("steps_for_run"),
                                         {"run_id": run_id, "namespace": namespace})
                context["steps"] = {r["step_id"]: {"type": r["type"], "data": r["data"]}
                                    for r in await cur.fetchall()}
            finally:
                await conn.set_autocommit(False)
        await self._refresh_manifest(context)
        return context

    async def _invoke_once(self, claim: Claim, ctx: dict[str, Any]) -> uuid.UUID | None:
        definition = ctx["definition"] or {}
        body: dict[str, Any] = {
            "functionId": ctx["function_id"],
            "runId": claim.run_id,
            "event": ctx["event"],
            "steps": ctx["steps"],
            "attempt": claim.attempt,
        }
        if ctx.get("events") is not None:  # a batch run ([INV-5])
            body["events"] = ctx["events"]
        if claim.namespace == "failure":
            body["failure"] = ctx["error"] or {"message": "run failed", "name": "Error"}
        if ctx["definition"] is None:
            return await self._apply_local_error(
                claim, ctx, "UNKNOWN_FUNCTION",
                f"function {ctx['function_id']} is not registered in this workspace")
        raw = dumps(body)
        if len(raw) > ctx["max_request_bytes"]:
            return await self._apply_local_error(
                claim, ctx, "REQUEST_TOO_LARGE",
                f"invoke request of {len(raw)} bytes exceeds the app's limit of "
                f"{ctx['max_request_bytes']} bytes")
        outcome = await self._post(ctx, raw, definition.get("timeoutMs"))
        if outcome.status == 401:  # [MAN-6]: the app may have a new key or capability
            self._manifests[ctx["workspace_id"]] = float("-inf")
        return await self._apply(claim, ctx, outcome)

    async def _post(self, ctx: dict[str, Any], body: bytes, timeout_ms: int | None) -> Outcome:
        assert self.session is not None
        keys: list[str] = ctx["keys"]
        v2 = "timestamped-signatures" in (ctx["capabilities"] or [])
        headers = {"Content-Type": "application/json",
                   "X-Durable-Signature": signing.sign(keys[0], body)}
        timestamp = str(to_ms(self.clock()))
        if v2:
            headers["X-Durable-Timestamp"] = timestamp
            headers["X-Durable-Signature-V2"] = signing.sign_v2(keys[0], timestamp, body)
        started = self.clock()
        t0 = time.perf_counter()
        timeout = aiohttp.ClientTimeout(total=(timeout_ms or self.config.default_timeout_ms)
                                        / 1000)

        def done(op: dict[str, Any] | None, error: str | None, status: int | None,
                 code: str = "INVALID_RESPONSE") -> Outcome:
            # [RETRY-5]: the per-invocation code of [RETRY-3] stays visible in the delivery
            # record (/failures/search detail, /runs/history error), so it leads the text.
            text = None if error is None else f"{code}: {error}"
            return Outcome(op, text, status, started, (time.perf_counter() - t0) * 1000, code)

        try:
            async with self.session.post(ctx["app_url"], data=body, headers=headers,
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
        if status != 200:  # [RETRY-3]: a network error or a non-200 status
            snippet = answer[:200].decode(errors="replace")
            return done(None, f"app answered HTTP {status}: {snippet}", status,
                        "DELIVERY_FAILED")
        if len(answer) > MAX_ANSWER_BYTES:
            return done(None, f"app answer exceeds {MAX_ANSWER_BYTES} bytes", status)
        if not signing.matches_any(keys, answer, resp_headers.get("X-Durable-Signature", "")):
            return done(None, "app answer has an invalid X-Durable-Signature", status)
        if v2 and not signing.matches_any(keys, timestamp.encode() + b"." + answer,
                                          resp_headers.get("X-Durable-Signature-V2", "")):
            return done(None, "app answer has an invalid X-Durable-Signature-V2", status)
        try:
            # Hand validation mirrors spec/schemas/op*.json (checked by the tests) at a
            # fraction of jsonschema's cost on this hot path.
            op = validate_op(json.loads(answer))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            return done(None, "app answer is not JSON", status)
        except Invalid as error:
            return done(None, f"app answer is not a valid op: {error.path or '/'} "
                              f"{error.message}", status)
        return done(op, None, status)

    async def _apply_local_error(self, claim: Claim, ctx: dict[str, Any], code: str,
                                 message: str) -> uuid.UUID | None:
        op = {"op": "error", "id": None, "message": message, "name": "DurableError",
              "code": code, "retryable": False}
        now = self.clock()
        return await self._apply(claim, ctx, Outcome(op, None, None, now, 0.0), deliver=False)

    async def _apply(self, claim: Claim, ctx: dict[str, Any], outcome: Outcome,
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

    async def _apply_once(self, claim: Claim, ctx: dict[str, Any], outcome: Outcome,
                          deliver: bool = True) -> uuid.UUID | None:
        """One transaction: fence, delivery record, the op's transition. Returns the new lease
        token when the run should be invoked again at once by this worker."""
        now = self.clock()
        op = outcome.op
        if deliver and op is not None and op["op"] == "step" and op["id"] not in ctx["steps"] \
                and len(ctx["steps"]) < MAX_STEPS:
            return await self._commit_step(claim, ctx, op, outcome, now)
        error_text = outcome.error
        if op is not None and op["op"] == "error":
            # The HTTP exchange worked but the run did not progress: a failure for the view.
            error_text = f"{op.get('name') or 'Error'}: {op.get('message')}"
        changes: list[tuple[str, dict[str, Any]]] = []
        ctx["changes"] = changes
        try:
            async with self.pool.connection() as conn, conn.transaction():
                cur = await conn.execute(self.q("fence"), {
                    "run_id": claim.run_id, "lease_token": claim.lease_token})
                fenced = await cur.fetchone()
                if deliver:
                    await conn.execute(self.q("delivery_insert"), {
                        "id": str(uuid.uuid4()), "workspace_id": ctx["workspace_id"],
                        "run_id": claim.run_id, "function_id": ctx["function_id"],
                        "namespace": claim.namespace, "attempt": claim.attempt,
                        "url": ctx["app_url"], "status": outcome.status,
                        "duration_ms": outcome.duration_ms, "op": op and op["op"],
                        "error": error_text if fenced else (error_text or "stale attempt"),
                        "code": outcome.code if outcome.error is not None else (
                            op.get("code") if op is not None and op["op"] == "error"
                            else None),
                        "at": outcome.started})
                if fenced is None:
                    return None  # lease lost (expired, cancelled): this answer is void
                if op is None:
                    op = {"op": "error", "id": None, "message": error_text,
                          "name": "DurableError", "code": outcome.code, "retryable": True,
                          "delivery": True}
                token = await self._transition(conn, claim, ctx, op, outcome, now)
        except psycopg.errors.UniqueViolation:
            return None
        for status, fields in changes:  # committed: now they happened
            run_changed(claim.run_id, status, function=ctx["function_id"], **fields)
        return token

    async def _commit_step(self, claim: Claim, ctx: dict[str, Any], op: dict[str, Any],
                           outcome: Outcome, now: datetime) -> uuid.UUID | None:
        token = uuid.uuid4()
        async with self.pool.connection() as conn:
            await conn.set_autocommit(True)
            try:
                cur = await conn.execute(self.q("commit_step"), {
                    "run_id": claim.run_id, "lease_token": claim.lease_token,
                    "new_token": token, "now": now,
                    "lease_s": self.config.lease_s,
                    "namespace": claim.namespace, "step_id": op["id"],
                    "data": Jsonb(op.get("data")), "position": len(ctx["steps"]),
                    "queued_at": claim.due_at, "started_at": outcome.started,
                    "app_ms": outcome.duration_ms, "delivery_id": str(uuid.uuid4()),
                    "workspace_id": ctx["workspace_id"], "function_id": ctx["function_id"],
                    "attempt": claim.attempt, "url": ctx["app_url"], "status": outcome.status,
                    "duration_ms": outcome.duration_ms})
                row = await cur.fetchone()
            finally:
                await conn.set_autocommit(False)
        if row is None or not row["fenced"]:
            return None
        if not row["memoized"]:
            log.error("run %s: step %s was memoized concurrently", claim.run_id, op["id"])
        ctx["steps"][op["id"]] = {"type": "run", "data": op.get("data")}
        return token

    async def _transition(self, conn: psycopg.AsyncConnection[Any], claim: Claim,
                          ctx: dict[str, Any], op: dict[str, Any], outcome: Outcome,
                          now: datetime) -> uuid.UUID | None:
        kind = op["op"]
        ns = claim.namespace
        if kind in ("step", "sendEvent", "sleep", "wait"):
            if op["id"] in ctx["steps"]:  # [OP-10]
                return await self._fail(conn, claim, ctx, {
                    "message": f"step {op['id']!r} is already memoized", "name": "DurableError",
                    "code": "NON_DETERMINISTIC", "stepId": op["id"]}, now)
            if len(ctx["steps"]) + 1 > MAX_STEPS:  # [ERR-7]
                return await self._fail(conn, claim, ctx, {
                    "message": f"a run may memoize at most {MAX_STEPS} steps",
                    "name": "DurableError", "code": "TOO_MANY_STEPS"}, now)
        timing = {"queued_at": claim.due_at, "started_at": outcome.started,
                  "app_ms": outcome.duration_ms}
        definition = ctx["definition"] or {}
        if kind in ("step", "sendEvent"):
            if kind == "step":
                data = op.get("data")
            else:
                data = await self.ingest(conn, ctx["workspace_id"], op["events"], now)
            await self._memo(conn, claim.run_id, ns, op["id"], "run" if kind == "step" else
                             "sendEvent", data, ended_at=now, **timing)
            ctx["steps"][op["id"]] = {"type": "run" if kind == "step" else "sendEvent",
                                      "data": data}
            token = uuid.uuid4()
            await conn.execute(self.q("queue_continue"), {
                "run_id": claim.run_id, "now": now, "new_token": token,
                "lease_s": self.config.lease_s})
            return token
        if kind == "sleep":
            until = parse_iso(op["until"])
            # [API-22]: the step is recorded now; its end is a time of its own
            await self._memo(conn, claim.run_id, ns, op["id"], "sleep", None,
                             ended_at=now, wake_at=max(until, now), **timing)
            await self._park(conn, claim, "invoke", until, "sleeping", now)
            changed(ctx, "sleeping", step=op["id"], wakeAt=iso(max(until, now)))
            return None
        if kind == "wait":
            until = parse_iso(op["until"])
            await conn.execute(self.q("wait_insert"), {
                "run_id": claim.run_id, "namespace": ns, "step_id": op["id"],
                "workspace_id": ctx["workspace_id"], "event_name": op["event"],
                "match": Jsonb(op.get("match")), "until": until, "now": now})
            await self._park(conn, claim, "wait_timeout", until, "waiting", now)
            changed(ctx, "waiting", step=op["id"], waitFor=op["event"], until=iso(until))
            return None
        if kind == "done":
            await conn.execute(self.q("queue_delete"), {"run_id": claim.run_id})
            await conn.execute(self.q("notify_queue"))  # a concurrency slot may be free
            if ns == "failure":
                await conn.execute(self.q("run_failure_handler_end"), {
                    "run_id": claim.run_id, "state": "completed",
                    "output": Jsonb(op.get("data")), "now": now})
            else:
                await conn.execute(self.q("run_complete"), {
                    "run_id": claim.run_id, "output": Jsonb(op.get("data")), "now": now})
            changed(ctx, "completed" if ns == "main" else "failure handler completed",
                    attempt=claim.attempt)
            return None
        # error
        retries = definition.get("retries", 3)
        error = {k: op[k] for k in ("message", "name", "code", "details") if k in op}
        error.setdefault("name", "Error")
        if op.get("id"):
            error["stepId"] = op["id"]
        if op.get("retryable", True) and claim.attempt < retries:
            attempt = claim.attempt + 1
            delay = backoff_ms(attempt, self.config.backoff_base_ms, self.config.backoff_cap_ms)
            await conn.execute(self.q("queue_schedule"), {
                "run_id": claim.run_id, "attempt": attempt, "kind": "invoke",
                "namespace": ns, "due_at": now + timedelta(milliseconds=delay)})
            await conn.execute(self.q("run_set_status"),
                               {"run_id": claim.run_id, "status": "queued", "now": now})
            await conn.execute(self.q("notify_queue"))
            changed(ctx, "retrying", attempt=claim.attempt, next=attempt, inMs=delay,
                    code=error.get("code"), error=error["name"], step=error.get("stepId"))
            return None
        if op.get("delivery"):
            error["code"] = "RETRIES_EXHAUSTED"  # [RETRY-5]: the last failure was no error op
        return await self._fail(conn, claim, ctx, error, now)

    async def _fail(self, conn: psycopg.AsyncConnection[Any], claim: Claim,
                    ctx: dict[str, Any], error: dict[str, Any], now: datetime) -> None:
        definition = ctx["definition"] or {}
        if claim.namespace == "failure":
            await conn.execute(self.q("queue_delete"), {"run_id": claim.run_id})
            await conn.execute(self.q("run_failure_handler_end"), {
                "run_id": claim.run_id, "state": "failed", "output": Jsonb({"error": error}),
                "now": now})
            changed(ctx, "failure handler failed", code=error.get("code"))
            return None
        handler = definition.get("hasOnFailure") is True
        changed(ctx, "failed", attempt=claim.attempt, code=error.get("code"),
                error=error.get("name"), step=error.get("stepId"))
        await conn.execute(self.q("run_fail"), {
            "run_id": claim.run_id, "error": Jsonb(error), "now": now,
            "failure_handler": "running" if handler else None})
        await conn.execute(self.q("waits_delete_run"), {"run_id": claim.run_id})
        if handler:
            ctx["error"] = error
            await conn.execute(self.q("queue_schedule"), {
                "run_id": claim.run_id, "attempt": 0, "kind": "invoke",
                "namespace": "failure", "due_at": now})
            await conn.execute(self.q("notify_queue"))
        else:
            await conn.execute(self.q("queue_delete"), {"run_id": claim.run_id})
            await conn.execute(self.q("notify_queue"))  # a concurrency slot may be free
        return None

    async def _park(self, conn: psycopg.AsyncConnection[Any], claim: Claim, kind: str,
                    until: datetime, status: str, now: datetime) -> None:
        await conn.execute(self.q("queue_schedule"), {
            "run_id": claim.run_id, "attempt": 0, "kind": kind, "namespace": claim.namespace,
            "due_at": until})
        # [API-22]: updated_at is when the run parked; the wake time is the queue's due_at
        await conn.execute(self.q("run_set_status"),
                           {"run_id": claim.run_id, "status": status, "now": now})
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

    async def _refresh_manifest(self, ctx: dict[str, Any]) -> None:
        """Learn capabilities and maxRequestBytes from the app's signed manifest."""
        workspace_id = ctx["workspace_id"]
        last = self._manifests.get(workspace_id)
        if last is not None and time.monotonic() - last < self.config.manifest_ttl_s:
            return
        if last is None and ctx["manifest_at"] is not None and \
                (self.clock() - ctx["manifest_at"]).total_seconds() < self.config.manifest_ttl_s:
            self._manifests[workspace_id] = time.monotonic()
            return
        self._manifests[workspace_id] = time.monotonic()
        manifest = await self.fetch_manifest(ctx["app_url"], ctx["keys"])
        if manifest is None:
            return
        caps = [c for c in manifest.get("capabilities", []) if isinstance(c, str)]
        max_bytes = manifest.get("maxRequestBytes")
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or not \
                65_536 <= max_bytes < 2**31:
            max_bytes = 1_048_576
        ctx["capabilities"] = caps
        ctx["max_request_bytes"] = max_bytes
        try:
            async with self.pool.connection() as conn:
                await conn.execute(self.q("workspace_set_manifest"), {
                    "id": workspace_id, "capabilities": Jsonb(caps),
                    "max_request_bytes": max_bytes,
                    "sdk_version": manifest.get("sdkVersion")
                    if isinstance(manifest.get("sdkVersion"), str) else None,
                    "now": self.clock()})
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


def parse_iso(value: str) -> datetime:
    return parse_instant(value)
