"""The event envelope as sent ([EVT-1], [EVT-2]): closed, `name` required."""

from __future__ import annotations

import json
from typing import Any

EVENT_MEMBERS = frozenset({"id", "name", "data", "ts"})
EVENT_CHARS = 200
EVENT_BYTES = 262_144


def event_problem(event: Any) -> str | None:
    """None when `event` may be sent, else what is wrong with it."""
    if not isinstance(event, dict):
        return "an event must be an object"
    unknown = sorted(set(event) - EVENT_MEMBERS)
    if unknown:
        return f"unknown event member {unknown[0]!r} (allowed: id, name, data, ts)"
    name = event.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= EVENT_CHARS:
        return f"name must be a string of 1-{EVENT_CHARS} characters"
    if "id" in event and (
        not isinstance(event["id"], str) or not 1 <= len(event["id"]) <= EVENT_CHARS
    ):
        return f"id must be a string of 1-{EVENT_CHARS} characters"
    if "ts" in event and (
        isinstance(event["ts"], bool) or not isinstance(event["ts"], int) or event["ts"] < 0
    ):
        return "ts must be a non-negative integer of unix milliseconds"
    try:
        size = len(json.dumps(event, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False).encode())
    except (TypeError, ValueError):
        return "the event is not JSON-serializable"
    if size > EVENT_BYTES:
        return f"the event exceeds {EVENT_BYTES} bytes"
    return None
