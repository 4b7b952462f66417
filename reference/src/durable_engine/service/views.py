"""The answer values every run operation shares (a run's summary, a step, an HTTP attempt),
each from its store row and to the JSON of spec/schemas; the cursor codec of every paged
search (one place); the app view and key maker of the app operations."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..engine import iso
from ..store.browse import Cursor
from ..validation import Invalid
from .errors import ServiceError

Body = dict[str, Any]
Row = Mapping[str, Any]


def encode_cursor(cursor: Cursor) -> str:
    return base64.urlsafe_b64encode(f"{cursor.at.isoformat()}|{cursor.id}".encode()).decode()


def decode_cursor(cursor: str | None) -> Cursor | None:
    """The cursor of a page's `nextCursor`; "" is the first page, like no cursor."""
    if not cursor:
        return None
    try:
        at, _, row_id = base64.urlsafe_b64decode(cursor).decode().partition("|")
        if "\x00" in row_id:  # Postgres text cannot hold it
            raise ValueError(row_id)
        return Cursor(datetime.fromisoformat(at), row_id)
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise ServiceError("INVALID_REQUEST", "cursor is not valid", "/cursor") from None


def next_json(cursor: Cursor | None) -> str | None:
    return None if cursor is None else encode_cursor(cursor)


def limit_of(body: Mapping[str, Any], default: int, most: int) -> int:
    """A request's `limit`: an integral number 1..most (5.0 is 5), `default` when absent."""
    value = body.get("limit", default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) \
            or not 1 <= value <= most:
        raise Invalid("/limit", f"must be an integer 1..{most}")
    return int(value)


def new_key() -> str:
    return "signkey_" + secrets.token_hex(32)  # [ADMIN-2]: 32 random bytes


def app_view(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "name": r["name"], "environment": r["environment"],
            "appUrl": r["app_url"], "activeKeys": r["key_count"],
            "createdAt": iso(r["created_at"])}


def _ms(value: float | None) -> float | None:
    return None if value is None else round(max(value, 0.0), 3)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """spec/schemas/run-summary."""

    run_id: str
    function_id: str
    status: str
    event_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, r: Row) -> RunSummary:
        return cls(r["id"], r["function_id"], r["status"], r["event_id"], r["created_at"],
                   r["updated_at"])

    def to_json(self) -> Body:
        return {"runId": self.run_id, "functionId": self.function_id, "status": self.status,
                "eventId": self.event_id, "createdAt": iso(self.created_at),
                "updatedAt": iso(self.updated_at)}


@dataclass(frozen=True, slots=True)
class StepView:
    """A memo of a run as /runs/get shows it (spec/schemas/memo)."""

    id: str
    type: str
    data: Any
    at: datetime | None
    app_ms: float | None = None
    wake_at: datetime | None = None
    copied_from: str | None = None

    @classmethod
    def from_row(cls, s: Row) -> StepView:
        return cls(s["step_id"], s["type"], s["data"], s["ended_at"], s.get("app_ms"),
                   s.get("wake_at"), s.get("copied_from"))

    def to_json(self) -> Body:
        view = {"id": self.id, "type": self.type, "data": self.data, "at": iso(self.at)}
        if self.app_ms is not None:
            view["appMs"] = _ms(self.app_ms)
        if self.wake_at is not None:
            view["wakeAt"] = iso(self.wake_at)
        if self.copied_from is not None:
            view["copiedFrom"] = self.copied_from
        return view


@dataclass(frozen=True, slots=True)
class StepTiming:
    """A step of any namespace with every time the store keeps (the dashboard's timeline)."""

    step: StepView
    namespace: str
    position: int
    queued_at: datetime | None
    started_at: datetime | None

    @classmethod
    def from_row(cls, s: Row) -> StepTiming:
        return cls(StepView.from_row(s), s["namespace"] or "main", s["position"],
                   s["queued_at"], s["started_at"])

    def to_json(self) -> Body:
        return {**self.step.to_json(), "namespace": self.namespace, "position": self.position,
                "queuedAt": iso(self.queued_at), "startedAt": iso(self.started_at),
                "endedAt": iso(self.step.at), "appMs": _ms(self.step.app_ms)}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt of a run (spec/schemas/runs-history-answer)."""

    delivery_id: str
    namespace: str
    attempt: int
    at: datetime
    duration_ms: float
    http_status: int | None
    op: str | None
    error: str | None
    code: str | None

    @classmethod
    def from_row(cls, r: Row) -> Attempt:
        return cls(r["id"], r["namespace"] or "main", r["attempt"] or 0, r["at"],
                   r["duration_ms"], r["status"], r["op"], r["error"], r["code"])

    def to_json(self) -> Body:
        return {"deliveryId": self.delivery_id, "namespace": self.namespace,
                "attempt": self.attempt, "at": iso(self.at),
                "durationMs": _ms(self.duration_ms), "httpStatus": self.http_status,
                "op": self.op, "error": self.error, "code": self.code}
