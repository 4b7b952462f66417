"""Workspaces (apps, [ADMIN-1..5]), their signing keys and manifest facts, and their synced
functions ([API-6], [API-14], [API-21]). Each function takes a connection and the named
queries; transactions are the caller's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..db import Conn, Queries, Row


async def get(conn: Conn, queries: Queries, workspace_id: str) -> Row | None:
    cur = await conn.execute(queries["workspace_get"], {"id": workspace_id})
    row: Row | None = await cur.fetchone()
    return row


async def exists(conn: Conn, queries: Queries, workspace_id: str) -> bool:
    return await get(conn, queries, workspace_id) is not None


async def listing(conn: Conn, queries: Queries) -> list[Row]:
    """Every workspace, oldest first: id, name, environment, app_url, key_count,
    capabilities, created_at."""
    cur = await conn.execute(queries["workspace_list"])
    rows: list[Row] = await cur.fetchall()
    return rows


async def insert(conn: Conn, queries: Queries, *, workspace_id: str, name: str,
                 environment: str, app_url: str, key: str, now: datetime) -> Row | None:
    """The new workspace's row, or None when its (name, environment) is taken."""
    cur = await conn.execute(queries["workspace_insert"], {
        "id": workspace_id, "name": name, "environment": environment, "app_url": app_url,
        "key": key, "now": now})
    row: Row | None = await cur.fetchone()
    return row


async def add_key(conn: Conn, queries: Queries, workspace_id: str, key: str) -> Row | None:
    """(id, key_count) after adding `key`; None unless exactly one key was active."""
    cur = await conn.execute(queries["workspace_rotate"], {"id": workspace_id, "key": key})
    row: Row | None = await cur.fetchone()
    return row


async def retire_key(conn: Conn, queries: Queries, workspace_id: str) -> Row | None:
    """(id, key_count) after retiring the older key; None unless two keys were active."""
    cur = await conn.execute(queries["workspace_retire"], {"id": workspace_id})
    row: Row | None = await cur.fetchone()
    return row


async def update(conn: Conn, queries: Queries, workspace_id: str, *, name: str | None,
                 app_url: str | None) -> Row | None:
    """Rename or re-point a workspace (None keeps a value); its row, or None when there is
    no such workspace. Raises UniqueViolation when the name is taken."""
    cur = await conn.execute(queries["workspace_update"], {
        "id": workspace_id, "name": name, "app_url": app_url})
    row: Row | None = await cur.fetchone()
    return row


async def delete(conn: Conn, queries: Queries, workspace_id: str) -> int | None:
    """Delete a workspace with everything that names it; the number of its runs deleted, or
    None when there was no such workspace. Run it in a transaction."""
    await conn.execute(queries["workspace_delete_side"], {"id": workspace_id})
    cur = await conn.execute(queries["workspace_delete"], {"id": workspace_id})
    row = await cur.fetchone()
    if row is None or not row["deleted"]:
        return None
    return int(row["runs"])


async def upsert_dev(conn: Conn, queries: Queries, *, workspace_id: str, name: str,
                     app_url: str, key: str, capabilities: Any, max_request_bytes: int | None,
                     sdk_version: str | None, now: datetime) -> None:
    """A dev-mode app discovered from its manifest, created or brought up to date."""
    await conn.execute(queries["workspace_upsert_dev"], {
        "id": workspace_id, "name": name, "app_url": app_url, "key": key,
        "capabilities": Jsonb(capabilities), "max_request_bytes": max_request_bytes,
        "sdk_version": sdk_version, "now": now})


async def set_manifest(conn: Conn, queries: Queries, workspace_id: str, *, capabilities: Any,
                       max_request_bytes: int | None, sdk_version: str | None,
                       now: datetime) -> None:
    """What a fetched manifest says ([MAN-1..6])."""
    await conn.execute(queries["workspace_set_manifest"], {
        "id": workspace_id, "capabilities": Jsonb(capabilities),
        "max_request_bytes": max_request_bytes, "sdk_version": sdk_version, "now": now})


async def set_sdk(conn: Conn, queries: Queries, workspace_id: str, *, sdk_version: str | None,
                  capabilities: Any | None, max_request_bytes: int | None,
                  now: datetime) -> None:
    """What a sync says of the SDK ([MAN-5]); None capabilities keep the manifest's."""
    await conn.execute(queries["workspace_set_sdk"], {
        "id": workspace_id, "sdk_version": sdk_version,
        "capabilities": None if capabilities is None else Jsonb(capabilities),
        "max_request_bytes": max_request_bytes, "now": now})


async def store_functions(conn: Conn, queries: Queries, workspace_id: str,
                          functions: list[Row], now: datetime) -> tuple[list[str], list[str]]:
    """Replace the workspace's live functions ([API-6]) by these definitions; returns
    (their runtime ids, the runtime ids this sync deactivated, sorted)."""
    keep: list[str] = []
    for d in functions:
        runtime_id = f"{d['id']}@{d['version']}" if d.get("version") else d["id"]
        keep.append(runtime_id)
        await conn.execute(queries["function_upsert"], {
            "workspace_id": workspace_id, "runtime_id": runtime_id, "function_id": d["id"],
            "version": d.get("version"), "trigger_event": d["trigger"].get("event"),
            "trigger_cron": d["trigger"].get("cron"), "enabled": d.get("enabled", True),
            "priority": d.get("priority", 0), "definition": Jsonb(d), "now": now})
    cur = await conn.execute(queries["functions_mark_removed"],
                             {"workspace_id": workspace_id, "keep": keep})
    return keep, sorted(r["runtime_id"] for r in await cur.fetchall())


async def versions(conn: Conn, queries: Queries, workspace_id: str, function_id: str
                   ) -> list[Row] | None:
    """The versions of a function id that are live or still have live runs ([API-14]):
    runtime_id, version, enabled, removed, runs ({status: count}); None when the workspace
    never had the function id."""
    params = {"workspace_id": workspace_id, "function_id": function_id}
    cur = await conn.execute(queries["versions_status"], params)
    rows: list[Row] = await cur.fetchall()
    if not rows:
        cur = await conn.execute(queries["function_known"], params)
        if await cur.fetchone() is None:
            return None
    return rows


async def functions(conn: Conn, queries: Queries, workspace_id: str) -> list[Row]:
    """Every function of the workspace, removed ones too, with its definition and run
    counts, by function id then sync time."""
    cur = await conn.execute(queries["functions_overview"], {"workspace_id": workspace_id})
    rows: list[Row] = await cur.fetchall()
    return rows
