"""Admin operations of the service ([ADMIN-1..5]): apps (workspaces) and their signing keys.
Authorization is the transport's job; these take plain values."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import psycopg

from ..engine import Engine
from ..store import workspaces
from .errors import ServiceError
from .views import app_view, new_key

log = logging.getLogger("durable.service")

Body = dict[str, Any]


class AppOps:
    engine: Engine

    async def apps_list(self) -> Body:
        async with self.engine.pool.connection() as conn:
            rows = await workspaces.listing(conn, self.engine.queries)
        return {"apps": [app_view(r) for r in rows]}

    async def apps_create(self, name: str, app_url: str, environment: str = "dev") -> Body:
        key = new_key()
        async with self.engine.pool.connection() as conn:
            row = await workspaces.insert(
                conn, self.engine.queries, workspace_id=f"app_{uuid.uuid4().hex[:20]}",
                name=name, environment=environment, app_url=app_url, key=key,
                now=self.engine.clock())
        if row is None:
            raise ServiceError("CONFLICT", f"app {name!r} already exists in {environment!r}",
                               "/name")
        return {**app_view(row), "key": key}

    async def apps_rotate_key(self, app_id: str) -> Body:
        key = new_key()
        async with self.engine.pool.connection() as conn:
            row = await workspaces.add_key(conn, self.engine.queries, app_id, key)
        if row is None:
            await self._app_exists(app_id)
            raise ServiceError("CONFLICT", "two keys are already active: retire one first")
        return {"id": row["id"], "key": key, "activeKeys": row["key_count"]}

    async def apps_retire_key(self, app_id: str) -> Body:
        async with self.engine.pool.connection() as conn:
            row = await workspaces.retire_key(conn, self.engine.queries, app_id)
        if row is None:
            await self._app_exists(app_id)
            raise ServiceError("CONFLICT", "only one key is active: nothing to retire")
        return {"id": row["id"], "activeKeys": row["key_count"]}

    async def apps_update(self, app_id: str, name: str | None = None,
                          app_url: str | None = None) -> Body:
        """[ADMIN-4]: rename an app or change its URL; keys and environment stay."""
        try:
            async with self.engine.pool.connection() as conn:
                row = await workspaces.update(conn, self.engine.queries, app_id, name=name,
                                              app_url=app_url)
        except psycopg.errors.UniqueViolation:
            raise ServiceError("CONFLICT", f"an app named {name!r} already exists in this "
                               "environment", "/name") from None
        if row is None:
            raise ServiceError("NOT_FOUND", "no such app")
        return app_view(row)

    async def apps_delete(self, app_id: str) -> Body:
        """[ADMIN-5]: the app goes with its functions, events, runs and history."""
        async with self.engine.pool.connection() as conn, conn.transaction():
            runs = await workspaces.delete(conn, self.engine.queries, app_id)
        if runs is None:
            raise ServiceError("NOT_FOUND", "no such app")
        log.info("app %s deleted with %d runs", app_id, runs)
        return {"id": app_id, "deleted": True, "runsDeleted": runs}

    async def _app_exists(self, app_id: str) -> None:
        async with self.engine.pool.connection() as conn:
            if not await workspaces.exists(conn, self.engine.queries, app_id):
                raise ServiceError("NOT_FOUND", "no such app")
