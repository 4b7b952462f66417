"""Driving one claimed run: read its context, POST the signed request to the app, apply the
answer, and keep invoking while the run has more work due now (its lease still held)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import aiohttp
import psycopg

from ..core.context import RunContext
from ..core.invocation import (
    MAX_ANSWER_BYTES,
    Op,
    dumps,
    read_answer,
    refusal,
    request_body,
    request_headers,
    signs_v2,
)
from ..features.invoke import time_out as invoke_time_out
from ..logs import run_changed
from ..store import queue, transitions
from .base import Claim, Outcome, to_ms
from .lifecycle import Lifecycle
from .manifests import read_limited

log = logging.getLogger("durable.engine")


class Invoke(Lifecycle):
    async def _drive(self, claim: Claim) -> None:
        """Invoke the app for a claimed run, apply the answer, and keep going while the run
        has more work due now (its lease stays held, so no other claim round trip)."""
        self._held.add(claim.lease_token)
        self._driving.add(claim.run_id)
        try:
            if claim.kind in ("wait_timeout", "invoke_timeout"):
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
        """A wait's deadline passed: memoize null (unless an event won) and invoke. An
        invoke step's deadline passed: memoize timedOut, cancel the child and invoke."""
        now = self.clock()
        async with self.pool.connection() as conn, conn.transaction():
            if not await transitions.fence(conn, self.queries, claim.run_id,
                                           claim.lease_token):
                return False
            if claim.kind == "invoke_timeout":  # [INVOKE-5]
                for child in await invoke_time_out(conn, self.queries, claim.run_id,
                                                   claim.namespace, now):
                    run_changed(child, "cancelled", parent=claim.run_id, code="INVOKE_TIMEOUT")
            for row in await transitions.take_waits(conn, self.queries, claim.run_id,
                                                    claim.namespace):
                await self._memo(conn, claim.run_id, claim.namespace, row["step_id"], "wait",
                                 None, queued_at=row["created_at"], started_at=None,
                                 app_ms=None, ended_at=now)
            await transitions.resume(conn, self.queries, claim.run_id, now)
        claim.kind = "invoke"
        return True

    async def _context(self, run_id: str, namespace: str) -> RunContext | None:
        async with self.pool.connection() as conn:
            await conn.set_autocommit(True)  # two plain reads: no BEGIN/COMMIT round trips
            try:
                found = await transitions.context(conn, self.queries, run_id, namespace)
            finally:
                await conn.set_autocommit(False)
        if found is None:
            return None
        context = RunContext.from_row(*found)
        await self._refresh_manifest(context)
        return context

    async def _invoke_once(self, claim: Claim, ctx: RunContext) -> uuid.UUID | None:
        body = request_body(ctx, claim.run_id, claim.namespace, claim.attempt)
        span = self.spans.attempt(ctx.traceparent, claim.run_id)  # [TRACE-6]
        traceparent = ctx.traceparent if span is None else span.traceparent  # [TRACE-3]
        if traceparent is not None:
            body["traceparent"] = traceparent
        raw = dumps(body)
        refused = refusal(ctx, len(raw))
        if refused is not None:
            now = self.clock()
            return await self._apply(claim, ctx, Outcome(refused, None, None, now, 0.0),
                                     deliver=False)
        outcome = await self._post(ctx, raw, ctx.rules.get("timeoutMs"), traceparent)
        self.spans.attempt_ended(
            span, function_id=ctx.function_id, run_id=claim.run_id, number=claim.attempt,
            namespace=claim.namespace, start=outcome.started, end=self.clock(),
            app_ms=outcome.duration_ms,
            engine_ms=max(0.0, (outcome.started - claim.due_at).total_seconds() * 1000),
            http_status=outcome.status, op=outcome.op.kind if outcome.op else None,
            error=outcome.error)
        if outcome.status == 401:  # [MAN-6]: the app may have a new key or capability
            self._manifests[ctx.workspace_id] = float("-inf")
        return await self._apply(claim, ctx, outcome)

    async def _post(self, ctx: RunContext, body: bytes, timeout_ms: int | None,
                    traceparent: str | None = None) -> Outcome:
        assert self.session is not None
        v2 = signs_v2(ctx.capabilities)
        timestamp = str(to_ms(self.clock()))
        headers = request_headers(ctx.keys, body, v2, timestamp)
        if traceparent is not None:  # [TRACE-3]: for proxies and instrumentation too
            headers["traceparent"] = traceparent
        started = self.clock()
        t0 = time.perf_counter()
        total_s = (timeout_ms or self.config.default_timeout_ms) / 1000
        timeout = aiohttp.ClientTimeout(total=total_s)

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
            return done(None, f"app did not answer within {total_s * 1000:.0f} ms", None,
                        "TIMEOUT")
        except aiohttp.ClientError as error:
            return done(None, f"app unreachable: {type(error).__name__}: {error}", None,
                        "DELIVERY_FAILED")
        reply = read_answer(status, answer, resp_headers, ctx.keys, v2, timestamp)
        return done(reply.op, reply.error, status, reply.code)

    async def _release(self, token: uuid.UUID) -> None:
        await self._release_all([token])

    async def _release_all(self, tokens: list[uuid.UUID]) -> None:
        """Hand runs back at once rather than at lease expiry."""
        if not tokens:
            return
        try:
            async with self.pool.connection() as conn:
                await queue.release(conn, self.queries, tokens)
        except (psycopg.Error, OSError):
            pass  # the leases expire by themselves
