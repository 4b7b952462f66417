"""Key paths into an event's data (decision 0004): wait matching and flow-control keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MISSING = object()


def resolve(data: Any, path: str) -> Any:
    current = data
    for segment in path.split("."):
        if isinstance(current, dict):
            if segment not in current:
                return MISSING
            current = current[segment]
        elif isinstance(current, list) and segment.isdigit() and (
                segment == "0" or not segment.startswith("0")):  # canonical index only
            index = int(segment)
            if index >= len(current):
                return MISSING
            current = current[index]
        else:
            return MISSING
    return current


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value, no coercion between types (bool is not a number)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and a == b


def event_matches(wait_event: str, match: dict[str, Any] | None, event: dict[str, Any]) -> bool:
    if event.get("name") != wait_event:
        return False
    for path, expected in (match or {}).items():
        value = resolve(event.get("data"), path)
        if value is MISSING or not json_equal(value, expected):
            return False
    return True


def key_value(event: Mapping[str, Any], path: str | None) -> str:
    if path is None:
        return ""
    value = resolve(event.get("data"), path)
    if value is MISSING:
        value = None
    return canonical_json(value)


def _canonical_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # RFC 8785 writes 2.0 as 2
    if isinstance(value, dict):
        return {k: _canonical_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical_numbers(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    """Canonical JSON text (sorted member names, no whitespace, shortest numbers)."""
    return json.dumps(_canonical_numbers(value), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
