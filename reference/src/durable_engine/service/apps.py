"""Admin operations of the service ([ADMIN-1..5]): apps (workspaces) and their signing keys,
each with its typed request and answer. Authorization is the transport's job; the app id
comes from the path."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from ..engine import Engine, iso
from ..store import workspaces
from .errors import ServiceError
from .views import new_key

log = logging.getLogger("durable.service")

Body = dict[str, Any]


@dataclass(frozen=True, slots=True)
class App:
    """spec/schemas/app: an app as the admin API shows it (never its keys)."""

    id: str
    name: str
    environment: str
    app_url: str
    active_keys: int
    created_at: datetime

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> App:
        return cls(r["id"], r["name"], r["environment"], r["app_url"], r["key_count"],
                   r["created_at"])

    def to_json(self) -> Body:
        return {"id": self.id, "name": self.name, "environment": self.environment,
                "appUrl": self.app_url, "activeKeys": self.active_keys,
                "createdAt": iso(self.created_at)}


@dataclass(frozen=True, slots=True)
class Apps:
    """spec/schemas/apps-list-answer."""

    apps: tuple[App, ...]

    def to_json(self) -> Body:
        return {"apps": [a.to_json() for a in self.apps]}


@dataclass(frozen=True, slots=True)
class AppsCreate:
    """POST /api/apps (spec/schemas/apps-create-request)."""

    name: str
    app_url: str
    environment: str = "dev"

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> AppsCreate:
        return cls(body["name"], body["appUrl"], body.get("environment", "dev"))


@dataclass(frozen=True, slots=True)
class AppCreated:
    """spec/schemas/apps-create-answer: the app and its first key, shown this once."""

    app: App
    key: str

    def to_json(self) -> Body:
        return {**self.app.to_json(), "key": self.key}


@dataclass(frozen=True, slots=True)
class AppsUpdate:
    """PATCH /api/apps/{id} (spec/schemas/apps-update-request): None keeps a value."""

    name: str | None = None
    app_url: str | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> AppsUpdate:
        return cls(body.get("name"), body.get("appUrl"))


@dataclass(frozen=True, slots=True)
class KeyRotated:
    """spec/schemas/rotate-key-answer: the new key, shown this once."""

    id: str
    key: str
    active_keys: int

    def to_json(self) -> Body:
        return {"id": self.id, "key": self.key, "activeKeys": self.active_keys}


@dataclass(frozen=True, slots=True)
class KeyRetired:
    """spec/schemas/retire-key-answer."""

    id: str
    active_keys: int

    def to_json(self) -> Body:
        return {"id": self.id, "activeKeys": self.active_keys}


@dataclass(frozen=True, slots=True)
class AppDeleted:
    """spec/schemas/apps-delete-answer."""

    id: str
    runs_deleted: int

    def to_json(self) -> Body:
        return {"id": self.id, "deleted": True, "runsDeleted": self.runs_deleted}


class AppOps:
    engine: Engine

    async def apps_list(self) -> Apps:
        async with self.engine.pool.connection() as conn:
            rows = await workspaces.listing(conn, self.engine.queries)
        return Apps(tuple(App.from_row(r) for r in rows))

    async def apps_create(self, request: AppsCreate) -> AppCreated:
        key = new_key()
        async with self.engine.pool.connection() as conn:
            row = await workspaces.insert(
                conn, self.engine.queries, workspace_id=f"app_{uuid.uuid4().hex[:20]}",
                name=request.name, environment=request.environment, app_url=request.app_url,
                key=key, now=self.engine.clock())
        if row is None:
            raise ServiceError("CONFLICT", f"app {request.name!r} already exists in "
                               f"{request.environment!r}", "/name")
        return AppCreated(App.from_row(row), key)

    async def apps_rotate_key(self, app_id: str) -> KeyRotated:
        key = new_key()
        async with self.engine.pool.connection() as conn:
            row = await workspaces.add_key(conn, self.engine.queries, app_id, key)
        if row is None:
            await self._app_exists(app_id)
            raise ServiceError("CONFLICT", "two keys are already active: retire one first")
        return KeyRotated(row["id"], key, row["key_count"])

    async def apps_retire_key(self, app_id: str) -> KeyRetired:
        async with self.engine.pool.connection() as conn:
            row = await workspaces.retire_key(conn, self.engine.queries, app_id)
        if row is None:
            await self._app_exists(app_id)
            raise ServiceError("CONFLICT", "only one key is active: nothing to retire")
        return KeyRetired(row["id"], row["key_count"])

    async def apps_update(self, app_id: str, request: AppsUpdate) -> App:
        """[ADMIN-4]: rename an app or change its URL; keys and environment stay."""
        try:
            async with self.engine.pool.connection() as conn:
                row = await workspaces.update(conn, self.engine.queries, app_id,
                                              name=request.name, app_url=request.app_url)
        except psycopg.errors.UniqueViolation:
            raise ServiceError("CONFLICT", f"an app named {request.name!r} already exists in "
                               "this environment", "/name") from None
        if row is None:
            raise ServiceError("NOT_FOUND", "no such app")
        return App.from_row(row)

    async def apps_delete(self, app_id: str) -> AppDeleted:
        """[ADMIN-5]: the app goes with its functions, events, runs and history."""
        async with self.engine.pool.connection() as conn, conn.transaction():
            runs = await workspaces.delete(conn, self.engine.queries, app_id)
        if runs is None:
            raise ServiceError("NOT_FOUND", "no such app")
        log.info("app %s deleted with %d runs", app_id, runs)
        return AppDeleted(app_id, runs)

    async def _app_exists(self, app_id: str) -> None:
        async with self.engine.pool.connection() as conn:
            if not await workspaces.exists(conn, self.engine.queries, app_id):
                raise ServiceError("NOT_FOUND", "no such app")
