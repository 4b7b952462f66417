"""The event envelope as sent ([EVT-1], [EVT-2], [EVT-6]): closed, `name` required."""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from ._protocol import TRACEPARENT_PATTERN

EVENT_MEMBERS = ("id", "name", "data", "ts", "traceparent")
TRACEPARENT = re.compile(TRACEPARENT_PATTERN)
EVENT_CHARS = 200
EVENT_BYTES = 262_144
RESERVED_PREFIX = "durable/"


class EventProblem(NamedTuple):
    path: str  # JSON Pointer into the event, "" for the whole event
    message: str

    def __str__(self) -> str:
        return f"{self.path or '/'}: {self.message}"


def event_problem(event: Any) -> EventProblem | None:
    """None when `event` may be sent, else where and what is wrong with it."""
    if not isinstance(event, dict):
        return EventProblem("", "an event must be an object")
    for member in event:
        if member not in EVENT_MEMBERS:
            escaped = member.replace("~", "~0").replace("/", "~1")
            return EventProblem(
                f"/{escaped}", "unknown member (allowed: id, name, data, ts, traceparent)"
            )
    if "name" not in event:
        return EventProblem("", "name is required")
    name = event["name"]
    if not isinstance(name, str) or not 1 <= len(name) <= EVENT_CHARS:
        return EventProblem("/name", f"must be a string of 1-{EVENT_CHARS} characters")
    if name.startswith(RESERVED_PREFIX):
        return EventProblem("/name", f"names starting with {RESERVED_PREFIX!r} are reserved")
    if "id" in event and (
        not isinstance(event["id"], str) or not 1 <= len(event["id"]) <= EVENT_CHARS
    ):
        return EventProblem("/id", f"must be a string of 1-{EVENT_CHARS} characters")
    if "ts" in event and (
        isinstance(event["ts"], bool) or not isinstance(event["ts"], int) or event["ts"] < 0
    ):
        return EventProblem("/ts", "must be a non-negative integer of unix milliseconds")
    if "traceparent" in event and (
        not isinstance(event["traceparent"], str) or not TRACEPARENT.match(event["traceparent"])
    ):
        return EventProblem("/traceparent", "must be a W3C traceparent (version 00)")
    try:
        encoded = json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return EventProblem("/data", "is not JSON-serializable")
    if len(encoded.encode()) > EVENT_BYTES:
        return EventProblem("", f"the event exceeds {EVENT_BYTES} bytes")
    return None
