"""Webhook endpoints of a workspace and their recent deliveries ([HOOK-1..7]). An endpoint's
token is stored with its hash, which is what ingest looks it up by; rows that leave the
store carry no secret except `by_token`'s (ingest checks signatures with it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..db import Conn, Queries, Row
from ..features.webhooks import Signature


def _signing(signing: Signature | None) -> dict[str, Any]:
    return {"preset": signing.preset if signing else None,
            "header": signing.header if signing else None,
            "secret": signing.secret if signing else None}


async def insert(conn: Conn, queries: Queries, workspace_id: str, name: str, *, token: str,
                 token_hash: str, transform: str, signing: Signature | None,
                 now: datetime) -> Row | None:
    """The new endpoint (id, name, token, transform, preset, header, created_at), or None
    when the workspace has one of that name or is not there."""
    cur = await conn.execute(queries["webhook_insert"], {
        "workspace_id": workspace_id, "name": name, "token": token, "token_hash": token_hash,
        "transform": transform, **_signing(signing), "now": now})
    row: Row | None = await cur.fetchone()
    return row


async def listing(conn: Conn, queries: Queries, workspace_id: str) -> list[Row]:
    """The workspace's endpoints by name."""
    cur = await conn.execute(queries["webhook_list"], {"workspace_id": workspace_id})
    rows: list[Row] = await cur.fetchall()
    return rows


async def get(conn: Conn, queries: Queries, workspace_id: str, name: str) -> Row | None:
    cur = await conn.execute(queries["webhook_get"],
                             {"workspace_id": workspace_id, "name": name})
    row: Row | None = await cur.fetchone()
    return row


async def by_token(conn: Conn, queries: Queries, token_hash: str) -> Row | None:
    """The endpoint a sender's URL names (id, workspace_id, name, transform, preset, header,
    secret), or None."""
    cur = await conn.execute(queries["webhook_by_token"], {"token_hash": token_hash})
    row: Row | None = await cur.fetchone()
    return row


async def update(conn: Conn, queries: Queries, workspace_id: str, name: str, *,
                 transform: str | None, set_signing: bool, signing: Signature | None,
                 token: str | None, token_hash: str | None) -> Row | None:
    """[HOOK-6]: change what is given (None keeps it; with `set_signing` the signing becomes
    `signing`, None removing it); the endpoint's row, or None when there is none."""
    cur = await conn.execute(queries["webhook_update"], {
        "workspace_id": workspace_id, "name": name, "transform": transform,
        "set_signature": set_signing, **_signing(signing), "token": token,
        "token_hash": token_hash})
    row: Row | None = await cur.fetchone()
    return row


async def delete(conn: Conn, queries: Queries, workspace_id: str, name: str) -> bool:
    cur = await conn.execute(queries["webhook_delete"],
                             {"workspace_id": workspace_id, "name": name})
    return await cur.fetchone() is not None


async def record_delivery(conn: Conn, queries: Queries, webhook_id: int, *, at: datetime,
                          status: int, code: str | None, message: str | None,
                          event_id: str | None, run_ids: list[str], keep: int) -> None:
    """Record one delivery, keeping the endpoint's last `keep` + 1."""
    await conn.execute(queries["webhook_delivery_record"], {
        "webhook_id": webhook_id, "at": at, "status": status, "code": code,
        "event_id": event_id, "message": message, "run_ids": run_ids, "keep": keep})


async def deliveries(conn: Conn, queries: Queries, workspace_id: str, name: str, limit: int
                     ) -> list[Row]:
    """The endpoint's last `limit` deliveries, newest first: at, status, code, message,
    event_id, run_ids."""
    cur = await conn.execute(queries["webhook_deliveries"], {
        "workspace_id": workspace_id, "name": name, "limit": limit})
    rows: list[Row] = await cur.fetchall()
    return rows
