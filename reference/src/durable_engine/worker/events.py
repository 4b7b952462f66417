"""Events ([EVT-1..7]): stored idempotently by id, each starting the runs it triggers (or
adding to a debounce or batch bucket, [FLOW-5], [FLOW-6]) and resolving the waits it matches,
in the caller's transaction; new runs without flow rules may be handed off to this process."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ..core.admission import (
    deferred,
    pending_runtime,
    rate_limit_of,
)
from ..core.context import RunContext
from ..core.status import RunStatus
from ..db import Conn
from ..features.cancel_on import cancel_on_event
from ..features.idempotency import idempotency_key, original_run
from ..features.singleton import apply_singleton, singleton_key
from ..features.trace import new_traceparent
from ..logs import run_changed
from ..paths import event_matches
from ..store import events as stored
from ..store.pending import pend
from ..store.runs import NewRun, Receipt, create, new_run
from ..store.wakeups import wake_workers
from ..validation import parse_instant
from .base import Claim, to_ms
from .manifests import Manifests


class Events(Manifests):
    async def ingest(self, conn: Conn, workspace_id: str,
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
        queued = 0  # runs queued for the workers (a debounce bucket, a resumed wait count)
        for raw in events:
            event = {
                "id": raw.get("id") or str(uuid.uuid4()),
                "name": raw["name"],
                "data": raw.get("data", {}),
                "ts": raw.get("ts", to_ms(now)),
            }
            # [TRACE-2]: the runs it starts carry its trace (not part of the stored event)
            trace = raw.get("traceparent") or new_traceparent()
            accepted = await stored.accept(conn, self.queries, workspace_id, event, now)
            if not accepted["inserted"]:
                prior = accepted["prior_receipt"]
                if not prior:  # accepted by a concurrent transaction after our snapshot
                    prior = await stored.receipt(conn, self.queries, workspace_id,
                                                 event["id"]) or {"id": event["id"]}
                receipts.append({**prior, "duplicate": True})
                continue
            if accepted["cancel_rules"]:  # [CANCEL-3], before this event's own runs exist
                for run_id in await cancel_on_event(conn, self.queries, workspace_id, event,
                                                    accepted["cancel_rules"], now):
                    run_changed(run_id, "cancelled", workspace=workspace_id,
                                cancelled_by=event["id"])
            runs: list[NewRun] = []
            deduplicated: list[dict[str, str]] = []  # [IDEM-2]
            taken: dict[str, dict[str, str]] = {}  # keys of this event's runs (versions)
            # Versions share one debounce/batch bucket ([FLOW-8]): its run goes to the last
            # version listed (by runtime id, so id@2 rather than id@1).
            pender = pending_runtime(accepted["functions"])
            for fn in accepted["functions"]:
                definition = fn["definition"]
                deferring = deferred(definition)
                if deferring and pender[definition["id"]] != fn["runtime_id"]:
                    continue
                idem_key = idempotency_key(workspace_id, definition, event)
                if idem_key is not None:  # [IDEM-2]: before rate limit and singleton
                    original = await original_run(conn, self.queries, idem_key, definition, now)
                    if original is None:  # another version's run of this same event?
                        original = taken.get("idempotency|" + idem_key)
                    if original is not None:
                        deduplicated.append(original)
                        continue
                rate_key, skip = await self._rate_limit(conn, workspace_id, definition, event,
                                                        now)
                run = new_run(workspace_id, fn["runtime_id"], definition, event,
                              fn["priority"], rate_key=rate_key, idempotency_key=idem_key,
                              traceparent=trace)
                single_key = singleton_key(workspace_id, definition, event)
                if single_key is not None and skip is None:  # [SINGLE-2], [SINGLE-3]
                    skip, gone = await apply_singleton(conn, self.queries, single_key, definition,
                                                       run.id, now)
                    if "singleton|" + single_key in taken:  # another version, same event
                        skip = "singleton"
                    for cancelled in gone:
                        run_changed(cancelled, "cancelled", workspace=workspace_id,
                                    cancelled_by=run.id)
                run.skip_reason = skip
                run.singleton_key = single_key if skip is None else None
                if deferring and skip is None:  # [FLOW-5], [FLOW-6]: the run comes later
                    await pend(conn, self.queries, workspace_id, fn, event, now,
                               run.flow.keys, run.flow.limits, rate_key, trace)
                    queued += 1  # idle workers learn the bucket's due time
                    continue
                if slots > 0 and skip is None and not run.flow.controlled:
                    slots -= 1
                    run.lease_s = self.config.lease_s
                runs.append(run)
                for kind, key in (("idempotency", idem_key), ("singleton", run.singleton_key)):
                    if key is not None:
                        taken[f"{kind}|{key}"] = {"functionId": fn["runtime_id"],
                                                  "runId": run.id}
            resumable = [w for w in accepted["waits"]
                         if event_matches(event["name"], w["match"], event)]
            receipt = {"id": event["id"], "name": event["name"], "ts": event["ts"],
                       "runIds": [r.id for r in runs],
                       "matched": len(accepted["functions"]) + len(resumable)}  # [EVT-7]
            if deduplicated:
                receipt["deduplicated"] = deduplicated
            created = await create(conn, self.queries, runs, now, notify=False,
                                   receipt=Receipt(workspace_id, event["id"], receipt))
            by_id = {fn["runtime_id"]: fn for fn in accepted["functions"]}
            for run in runs:
                token = created[run.id]
                if token is None or handoff is None:
                    continue
                context = RunContext.from_row({
                    **accepted, "id": run.id, "workspace_id": workspace_id,
                    "function_id": run.function_id, "event": event, "events": None,
                    "error": None, "definition": by_id[run.function_id]["definition"],
                    "traceparent": run.traceparent, "created_at": now},
                    steps={})
                handoff.append(Claim(run.id, workspace_id, "main", "invoke", 0, now, token,
                                     context))
            queued += sum(r.skip_reason is None and created[r.id] is None for r in runs)
            for wait in resumable:
                created_at = parse_instant(wait["created_at"])
                await self._resolve_wait(conn, wait["run_id"], wait["namespace"],
                                         wait["step_id"], event, created_at, now)
                queued += 1
            receipts.append({**receipt, "duplicate": False})
        if queued:
            await wake_workers(conn, self.queries, queued)
        return receipts

    async def _rate_limit(self, conn: Conn, workspace_id: str,
                          definition: dict[str, Any] | None, event: dict[str, Any],
                          now: datetime) -> tuple[str | None, str | None]:
        """[FLOW-4]: (the run's rate bucket, "rate_limited" when the window is full)."""
        rule = rate_limit_of(workspace_id, definition, event)
        if rule is None:
            return None, None
        full = rule.refuses(await stored.rate_window(conn, self.queries, rule.key, now,
                                                     rule.period_ms))
        return rule.key, "rate_limited" if full else None

    async def _resolve_wait(self, conn: Conn, run_id: str,
                            namespace: str, step_id: str, data: Any, created_at: datetime,
                            now: datetime) -> bool:
        if not await stored.take_wait(conn, self.queries, run_id, namespace, step_id):
            return False
        await self._memo(conn, run_id, namespace, step_id, "wait", data,
                         queued_at=created_at, started_at=None, app_ms=None, ended_at=now)
        await stored.resume(conn, self.queries, run_id, RunStatus.QUEUED.value, now)
        return True

    async def _memo(self, conn: Conn, run_id: str, namespace: str,
                    step_id: str, type_: str, data: Any, *, queued_at: datetime | None,
                    started_at: datetime | None, app_ms: float | None,
                    ended_at: datetime, wake_at: datetime | None = None) -> None:
        """Record a memo (a second memo of the same step id is ignored). Its answer is not
        read, so in pipeline mode the statement does not wait for it."""
        await stored.insert_memo(conn, self.queries, run_id, namespace, step_id, type_, data,
                                 queued_at=queued_at, started_at=started_at, app_ms=app_ms,
                                 ended_at=ended_at, wake_at=wake_at)
