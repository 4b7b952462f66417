"""Claiming due work in one round trip on the claimer's own connection; flow-controlled rows
([FLOW-1], [FLOW-3]) are admitted under their buckets' advisory locks by core.admission."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ..core.admission import (
    admit,
)
from ..core.context import RunContext
from ..db import Conn, connect_options
from ..store import queue
from ..store.pending import flush
from .base import Claim
from .invoke import Invoke


class Claims(Invoke):
    async def _claim(self, limit: int) -> list[Claim]:
        """One round trip on the claimer's own autocommit connection."""
        if self._claimer is None or self._claimer.closed:
            self._claimer = await psycopg.AsyncConnection.connect(
                self.config.database_url, autocommit=True, row_factory=dict_row,
                **connect_options(self.config.pooled))
            if not self.config.pooled:  # a session setting would leak to PgBouncer's pool
                await queue.claimer_session(self._claimer, self.queries)
        now = self._claimed_at = self.clock()
        try:
            conn = self._claimer
            # Is any due row flow-controlled? Due debounce/batch buckets become runs first.
            pending, flow = await queue.probe(conn, self.queries, now)
            if pending:
                async with conn.transaction():
                    made = await flush(conn, self.queries, now)
                flow = flow or any(run.flow.controlled for run in made)
            if not flow:  # the common case: no transaction
                self._throttle_free_at = None
                self._fair_candidates = False
                rows = await queue.claim(conn, self.queries, now, limit, self.config.lease_s, [])
            else:
                fair = self._fair_candidates
                rows = await self._flow_claim(conn, now, limit, fair)
                if not fair and self._fair_candidates and len(rows) < limit:
                    # The page by rank was a blocked backlog: look per bucket at once rather
                    # than leave the free slots idle until the next round.
                    rows += await self._flow_claim(conn, now, limit - len(rows), True)
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

    async def _flow_claim(self, conn: Conn, now: datetime, limit: int,
                          fair: bool) -> list[dict[str, Any]]:
        """One transaction: admit due flow-controlled runs under their buckets' locks and
        lease them with the due work under no rule. In pipeline mode: BEGIN goes with the
        candidates, the bucket locks with the counts in flight, the claim with the COMMIT."""
        async with conn.pipeline(), conn.transaction():
            admitted = await self._flow_admit(conn, now, limit, fair)
            cur = await queue.claim_sent(conn, self.queries, now, limit, self.config.lease_s,
                                         admitted)
        return list(await cur.fetchall())

    async def _flow_admit(self, conn: Conn, now: datetime,
                          limit: int, fair: bool) -> list[str]:
        """Which due flow-controlled runs may start now: per bucket, fewer than `limit`
        invocations in flight. Bucket locks serialize claimers across processes, so a limit is
        exact; the admitted rows stay locked by this transaction until the claim commits.

        `fair`: candidates are looked up per bucket with room (round-robin), not by rank. Once
        the head of the queue was seen to be a blocked backlog, every round looks per bucket
        until no flow-controlled row is due (see _claim)."""
        candidates = await queue.candidates(conn, self.queries, now, limit * 4, fair)
        if not candidates:
            return []
        keys = sorted({k for c in candidates for k in c["flow_keys"]}
                      | {c["throttle_key"] for c in candidates if c["throttle_key"]})
        await queue.lock_buckets(conn, self.queries, keys)
        in_flight = await queue.in_flight(conn, self.queries, now, keys)
        # [FLOW-3]: starts in each throttle window, counted under the same bucket locks
        windows = await queue.throttle_windows(conn, self.queries, candidates, now)
        limits = {c["throttle_key"]: c["throttle_limit"] for c in candidates
                  if c["throttle_key"] is not None}
        heads = await queue.throttle_heads(conn, self.queries, windows, limits, now)
        admission = admit(candidates, in_flight, windows, heads, limit, limit * 4, fair)
        self._throttle_free_at = admission.throttle_free_at
        self._fair_candidates = fair or admission.look_fair
        return admission.admitted
