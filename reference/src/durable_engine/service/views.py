"""Pure mappings from store rows to the JSON answers of spec/schemas, and the cursor codec of
every paged search (one place)."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Any

from ..engine import iso
from .errors import ServiceError


def encode_cursor(at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime | None, str | None]:
    if not cursor:  # "" is the first page, like no cursor
        return None, None
    try:
        at, _, row_id = base64.urlsafe_b64decode(cursor).decode().partition("|")
        if "\x00" in row_id:  # Postgres text cannot hold it
            raise ValueError(row_id)
        return datetime.fromisoformat(at), row_id
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise ServiceError("INVALID_REQUEST", "cursor is not valid", "/cursor") from None


def new_key() -> str:
    return "signkey_" + secrets.token_hex(32)  # [ADMIN-2]: 32 random bytes


def app_view(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "name": r["name"], "environment": r["environment"],
            "appUrl": r["app_url"], "activeKeys": r["key_count"],
            "createdAt": iso(r["created_at"])}


def run_summary(r: dict[str, Any]) -> dict[str, Any]:
    return {"runId": r["id"], "functionId": r["function_id"], "status": r["status"],
            "eventId": r["event_id"], "createdAt": iso(r["created_at"]),
            "updatedAt": iso(r["updated_at"])}


def step_view(s: dict[str, Any]) -> dict[str, Any]:
    view = {"id": s["step_id"], "type": s["type"], "data": s["data"], "at": iso(s["ended_at"])}
    if s.get("app_ms") is not None:
        view["appMs"] = round(max(s["app_ms"], 0.0), 3)
    if s.get("wake_at") is not None:
        view["wakeAt"] = iso(s["wake_at"])
    if s.get("copied_from") is not None:
        view["copiedFrom"] = s["copied_from"]
    return view



def step_timing(s: dict[str, Any]) -> dict[str, Any]:
    """A step with every time the store keeps (the dashboard's timeline), any namespace."""
    return {**step_view(s), "namespace": s["namespace"] or "main", "position": s["position"],
            "queuedAt": iso(s["queued_at"]), "startedAt": iso(s["started_at"]),
            "endedAt": iso(s["ended_at"]),
            "appMs": None if s["app_ms"] is None else round(max(s["app_ms"], 0.0), 3)}


def attempt_view(r: dict[str, Any]) -> dict[str, Any]:
    return {"deliveryId": r["id"], "namespace": r["namespace"] or "main",
            "attempt": r["attempt"] or 0, "at": iso(r["at"]),
            "durationMs": round(max(r["duration_ms"], 0.0), 3), "httpStatus": r["status"],
            "op": r["op"], "error": r["error"], "code": r["code"]}
