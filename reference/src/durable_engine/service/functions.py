"""Workspace operations of the service: sync ([API-6]), send event(s), versions status
([API-14]), the function list ([API-21]), and the read models of functions and workspaces."""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from ..cron import next_fire
from ..engine import Claim, Engine, iso
from ..logs import run_changed
from ..store import workspaces
from .errors import ServiceError
from .views import app_view

log = logging.getLogger("durable.service")

Body = dict[str, Any]
LIVE = ("queued", "running", "sleeping", "waiting")  # statuses of runs still going
FLOW_RULES = ("concurrency", "priority", "throttle", "rateLimit", "debounce", "batch")


class FunctionOps:
    engine: Engine

    async def sync(self, workspace_id: str, body: Body) -> Body:
        now = self.engine.clock()
        async with self.engine.pool.connection() as conn, conn.transaction():
            live, deactivated = await workspaces.store_functions(
                conn, self.engine.queries, workspace_id, body["functions"], now)
            await workspaces.set_sdk(conn, self.engine.queries, workspace_id,
                                     sdk_version=body.get("sdkVersion"),
                                     capabilities=body.get("capabilities"),
                                     max_request_bytes=body.get("maxRequestBytes"), now=now)
        if "capabilities" in body or "maxRequestBytes" in body:
            self.engine.forget_manifest(workspace_id)
        return {"ok": True, "functions": live, "deactivated": deactivated}

    async def send(self, workspace_id: str, body: Body) -> Body:
        return (await self._ingest(workspace_id, [body]))[0]

    async def send_bulk(self, workspace_id: str, body: Body) -> Body:
        return {"events": await self._ingest(workspace_id, body["events"])}

    async def _ingest(self, workspace_id: str, events: list[Body]) -> list[Body]:
        now = self.engine.clock()
        # New runs this process can invoke at once are leased in the same transaction and
        # invoked right after the commit (no wake-up, no claim round trip).
        slots = self.engine.handoff_slots(len(events))
        committed: list[Claim] = []
        try:
            for attempt in range(3):
                handoff: list[Claim] = []
                try:
                    async with self.engine.wakeups.transaction() as conn:
                        receipts = await self.engine.ingest(conn, workspace_id, events, now,
                                                            handoff, slots)
                    committed = handoff
                    for receipt in receipts:
                        for run_id in [] if receipt.get("duplicate") else receipt["runIds"]:
                            run_changed(run_id, "created", workspace=workspace_id,
                                        trigger=receipt.get("name"), eventId=receipt.get("id"))
                    return receipts
                except psycopg.errors.UniqueViolation:
                    if attempt == 2:  # two senders raced on one event id: the retry sees it
                        raise
            raise AssertionError("unreachable")
        finally:
            await self.engine.adopt(committed, slots)

    async def versions_status(self, workspace_id: str, body: Body) -> Body:
        function_id = body["functionId"].split("@", 1)[0]
        async with self.engine.pool.connection() as conn:
            rows = await workspaces.versions(conn, self.engine.queries, workspace_id,
                                             function_id)
        if rows is None:
            raise ServiceError("UNKNOWN_FUNCTION", f"no function {function_id!r}",
                               "/functionId")
        return {"functionId": function_id, "versions": [{
            "version": r["version"], "runtimeId": r["runtime_id"],
            "active": r["enabled"] and not r["removed"],  # [API-14]: live and enabled
            "runs": r["runs"]} for r in rows]}

    async def functions_list(self, workspace_id: str, body: Body) -> Body:
        """[API-21]: every live runtime id (and retired ones with runs still going)."""
        rows = await self._function_rows(workspace_id)
        return {"functions": [{
            "functionId": r["function_id"], "runtimeId": r["runtime_id"],
            "version": r["version"], "trigger": (r["definition"] or {}).get("trigger", {}),
            "active": r["enabled"] and not r["removed"], "runs": r["runs"]}
            for r in rows if not r["removed"] or any(r["runs"].get(s) for s in LIVE)]}

    async def _function_rows(self, workspace_id: str) -> list[Body]:
        async with self.engine.pool.connection() as conn:
            return await workspaces.functions(conn, self.engine.queries, workspace_id)

    async def functions_overview(self, workspace_id: str) -> list[Body]:
        """Every function of the workspace, removed ones too, each with its definition, its
        versions, trigger, flow rules, enabled flag, run counts and next cron fire."""
        now = self.engine.clock()
        rows = await self._function_rows(workspace_id)
        out: dict[str, Body] = {}
        for r in rows:
            definition = r["definition"] or {}
            next_at = None
            if r["trigger_cron"] and r["enabled"] and not r["removed"]:
                try:
                    next_at = iso(next_fire(r["trigger_cron"], now))
                except ValueError:
                    next_at = None
            entry = out.setdefault(r["function_id"], {"functionId": r["function_id"],
                                                      "versions": []})
            entry["versions"].append({
                "runtimeId": r["runtime_id"], "version": r["version"],
                "trigger": definition.get("trigger", {}), "enabled": r["enabled"],
                "removed": r["removed"], "active": r["enabled"] and not r["removed"],
                "flow": {k: definition[k] for k in FLOW_RULES if k in definition},
                "nextCronFire": next_at, "runs": r["runs"], "syncedAt": iso(r["synced_at"]),
                "definition": definition})
        return list(out.values())

    async def workspaces_list(self) -> list[Body]:
        """Every workspace (app) the engine serves."""
        async with self.engine.pool.connection() as conn:
            return [app_view(r) for r in await workspaces.listing(conn, self.engine.queries)]
