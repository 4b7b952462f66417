"""Workspace operations of the service: sync ([API-6]), send event(s) ([EVT-1..7]), versions status
([API-14]), the function list ([API-21]), and the read models of functions and workspaces."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from ..cron import next_fire
from ..engine import Claim, Engine, iso
from ..logs import run_changed
from ..store import workspaces
from .apps import App, Apps
from .errors import ServiceError

log = logging.getLogger("durable.service")

Body = dict[str, Any]
LIVE = ("queued", "running", "sleeping", "waiting")  # statuses of runs still going
FLOW_RULES = ("concurrency", "priority", "throttle", "rateLimit", "debounce", "batch")


@dataclass(frozen=True, slots=True)
class SendEvent:
    """POST /e (spec/schemas/event-input): one event ([EVT-1])."""

    event: Body

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> SendEvent:
        return cls(dict(body))


@dataclass(frozen=True, slots=True)
class SendEvents:
    """POST /e/bulk: events accepted in order, in one transaction ([EVT-5])."""

    events: tuple[Body, ...]

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> SendEvents:
        return cls(tuple(dict(event) for event in body["events"]))


@dataclass(frozen=True, slots=True)
class EventReceipt:
    """spec/schemas/receipt ([EVT-4], [EVT-7], [IDEM-2]): what became of one event. A
    duplicate's receipt is the stored one, read back from Postgres; either way the members
    go out in one order."""

    id: str
    name: str
    ts: int
    duplicate: bool
    run_ids: tuple[str, ...]
    matched: int | None = None
    deduplicated: tuple[Body, ...] | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> EventReceipt:
        dedup = body.get("deduplicated")
        return cls(body["id"], body["name"], body["ts"], bool(body.get("duplicate", False)),
                   tuple(body["runIds"]), body.get("matched"),
                   None if dedup is None else tuple(dict(d) for d in dedup))

    def to_json(self) -> Body:
        out: Body = {"id": self.id, "name": self.name, "ts": self.ts,
                     "runIds": list(self.run_ids)}
        if self.matched is not None:
            out["matched"] = self.matched
        if self.deduplicated is not None:
            out["deduplicated"] = [dict(d) for d in self.deduplicated]
        out["duplicate"] = self.duplicate
        return out


@dataclass(frozen=True, slots=True)
class EventReceipts:
    """The answer of /e/bulk: one receipt per event, in order."""

    events: tuple[EventReceipt, ...]

    def to_json(self) -> Body:
        return {"events": [receipt.to_json() for receipt in self.events]}


@dataclass(frozen=True, slots=True)
class Sync:
    """POST /fn/sync (spec/schemas/sync-request): the app's function definitions, as
    validated, and what its SDK says of itself ([MAN-5]; None: not said)."""

    functions: tuple[Body, ...]
    sdk_version: str | None = None
    capabilities: tuple[str, ...] | None = None
    max_request_bytes: int | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Sync:
        capabilities = body.get("capabilities")
        return cls(tuple(body["functions"]), body.get("sdkVersion"),
                   None if capabilities is None else tuple(capabilities),
                   body.get("maxRequestBytes"))


@dataclass(frozen=True, slots=True)
class Synced:
    """spec/schemas/sync-answer: the live runtime ids and those this sync deactivated."""

    functions: tuple[str, ...]
    deactivated: tuple[str, ...]

    def to_json(self) -> Body:
        return {"ok": True, "functions": list(self.functions),
                "deactivated": list(self.deactivated)}


@dataclass(frozen=True, slots=True)
class VersionsStatus:
    """POST /versions/status (spec/schemas/versions-status-request); a runtime id asks for
    its function id."""

    function_id: str

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> VersionsStatus:
        return cls(body["functionId"].split("@", 1)[0])


@dataclass(frozen=True, slots=True)
class Version:
    """A version of a function: live and enabled (`active`), with its runs by status."""

    version: str | None
    runtime_id: str
    active: bool
    runs: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> Version:
        return cls(r["version"], r["runtime_id"], r["enabled"] and not r["removed"], r["runs"])

    def to_json(self) -> Body:
        return {"version": self.version, "runtimeId": self.runtime_id, "active": self.active,
                "runs": self.runs}


@dataclass(frozen=True, slots=True)
class Versions:
    """spec/schemas/versions-status-answer."""

    function_id: str
    versions: tuple[Version, ...]

    def to_json(self) -> Body:
        return {"functionId": self.function_id,
                "versions": [v.to_json() for v in self.versions]}


@dataclass(frozen=True, slots=True)
class FunctionsList:
    """POST /functions/list (spec/schemas/functions-list-request: no member)."""

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> FunctionsList:
        return cls()


@dataclass(frozen=True, slots=True)
class Function:
    """One runtime id of spec/schemas/functions-list-answer."""

    function_id: str
    version: Version
    trigger: Body

    def to_json(self) -> Body:
        return {"functionId": self.function_id, "runtimeId": self.version.runtime_id,
                "version": self.version.version, "trigger": self.trigger,
                "active": self.version.active, "runs": self.version.runs}


@dataclass(frozen=True, slots=True)
class Functions:
    """spec/schemas/functions-list-answer."""

    functions: tuple[Function, ...]

    def to_json(self) -> Body:
        return {"functions": [f.to_json() for f in self.functions]}


@dataclass(frozen=True, slots=True)
class VersionOverview:
    """A runtime id of a function as the dashboard shows it: its definition's trigger and
    flow rules, enabled and removed flags, runs by status and the next cron fire (None
    unless a live enabled cron trigger has one)."""

    runtime_id: str
    version: str | None
    enabled: bool
    removed: bool
    runs: dict[str, int]
    synced_at: datetime
    definition: Body
    next_cron_fire: datetime | None = None

    @classmethod
    def from_row(cls, r: Mapping[str, Any], now: datetime) -> VersionOverview:
        next_at = None
        if r["trigger_cron"] and r["enabled"] and not r["removed"]:
            try:
                next_at = next_fire(r["trigger_cron"], now)
            except ValueError:
                next_at = None
        return cls(r["runtime_id"], r["version"], r["enabled"], r["removed"], r["runs"],
                   r["synced_at"], r["definition"] or {}, next_at)

    def to_json(self) -> Body:
        definition = self.definition
        return {
            "runtimeId": self.runtime_id, "version": self.version,
            "trigger": definition.get("trigger", {}), "enabled": self.enabled,
            "removed": self.removed, "active": self.enabled and not self.removed,
            "flow": {k: definition[k] for k in FLOW_RULES if k in definition},
            "nextCronFire": iso(self.next_cron_fire), "runs": self.runs,
            "syncedAt": iso(self.synced_at), "definition": definition}


@dataclass(frozen=True, slots=True)
class FunctionOverview:
    function_id: str
    versions: tuple[VersionOverview, ...]

    def to_json(self) -> Body:
        return {"functionId": self.function_id, "versions": [v.to_json() for v in self.versions]}


@dataclass(frozen=True, slots=True)
class FunctionsOverview:
    """Every function of a workspace, removed ones too, by function id."""

    functions: tuple[FunctionOverview, ...]

    def to_json(self) -> Body:
        return {"functions": [f.to_json() for f in self.functions]}


class FunctionOps:
    engine: Engine

    async def sync(self, workspace_id: str, request: Sync) -> Synced:
        now = self.engine.clock()
        async with self.engine.pool.connection() as conn, conn.transaction():
            live, deactivated = await workspaces.store_functions(
                conn, self.engine.queries, workspace_id, list(request.functions), now)
            await workspaces.set_sdk(
                conn, self.engine.queries, workspace_id, sdk_version=request.sdk_version,
                capabilities=None if request.capabilities is None else list(request.capabilities),
                max_request_bytes=request.max_request_bytes, now=now)
        if request.capabilities is not None or request.max_request_bytes is not None:
            self.engine.forget_manifest(workspace_id)
        return Synced(tuple(live), tuple(deactivated))

    async def send(self, workspace_id: str, request: SendEvent) -> EventReceipt:
        return (await self._ingest(workspace_id, [request.event]))[0]

    async def send_bulk(self, workspace_id: str, request: SendEvents) -> EventReceipts:
        return EventReceipts(await self._ingest(workspace_id, list(request.events)))

    async def _ingest(self, workspace_id: str, events: list[Body]
                      ) -> tuple[EventReceipt, ...]:
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
                    answers = tuple(EventReceipt.from_json(r) for r in receipts)
                    for receipt in answers:
                        for run_id in () if receipt.duplicate else receipt.run_ids:
                            run_changed(run_id, "created", workspace=workspace_id,
                                        trigger=receipt.name, eventId=receipt.id)
                    return answers
                except psycopg.errors.UniqueViolation:
                    if attempt == 2:  # two senders raced on one event id: the retry sees it
                        raise
            raise AssertionError("unreachable")
        finally:
            await self.engine.adopt(committed, slots)

    async def versions_status(self, workspace_id: str, request: VersionsStatus) -> Versions:
        function_id = request.function_id
        async with self.engine.pool.connection() as conn:
            rows = await workspaces.versions(conn, self.engine.queries, workspace_id,
                                             function_id)
        if rows is None:
            raise ServiceError("UNKNOWN_FUNCTION", f"no function {function_id!r}",
                               "/functionId")
        # [API-14]: active is live and enabled
        return Versions(function_id, tuple(Version.from_row(r) for r in rows))

    async def functions_list(self, workspace_id: str, request: FunctionsList) -> Functions:
        """[API-21]: every live runtime id (and retired ones with runs still going)."""
        rows = await self._function_rows(workspace_id)
        return Functions(tuple(
            Function(r["function_id"], Version.from_row(r),
                     (r["definition"] or {}).get("trigger", {}))
            for r in rows if not r["removed"] or any(r["runs"].get(s) for s in LIVE)))

    async def _function_rows(self, workspace_id: str) -> list[Body]:
        async with self.engine.pool.connection() as conn:
            return await workspaces.functions(conn, self.engine.queries, workspace_id)

    async def functions_overview(self, workspace_id: str) -> FunctionsOverview:
        """Every function of the workspace, removed ones too, each with its definition, its
        versions, trigger, flow rules, enabled flag, run counts and next cron fire."""
        now = self.engine.clock()
        versions: dict[str, list[VersionOverview]] = {}
        for r in await self._function_rows(workspace_id):
            versions.setdefault(r["function_id"], []).append(VersionOverview.from_row(r, now))
        return FunctionsOverview(tuple(FunctionOverview(function_id, tuple(found))
                                       for function_id, found in versions.items()))

    async def workspaces_list(self) -> Apps:
        """Every workspace (app) the engine serves."""
        async with self.engine.pool.connection() as conn:
            rows = await workspaces.listing(conn, self.engine.queries)
        return Apps(tuple(App.from_row(r) for r in rows))
