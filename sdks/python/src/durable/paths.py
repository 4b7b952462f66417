"""Key paths into an event's `data` (decision 0004): `wait` matching and flow-control keys.

The engine evaluates these; the SDK ships the same rules so apps and tests can check a
`match` or a `key` locally with the exact semantics of the protocol.
"""

from __future__ import annotations

import json
import re
from typing import Any

_INDEX = re.compile(r"0|[1-9][0-9]*")
_MISSING = object()


def resolve(data: Any, path: str) -> tuple[bool, Any]:
    """(found, value) of a dotted `path` in `data`; a path leaving the JSON tree is not found."""
    current = data
    for segment in path.split("."):
        if isinstance(current, dict):
            if segment not in current:
                return False, None
            current = current[segment]
        elif isinstance(current, list) and _INDEX.fullmatch(segment):
            index = int(segment)
            if index >= len(current):
                return False, None
            current = current[index]
        else:
            return False, None
    return True, current


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality: numbers by value (1 == 1.0), booleans are not numbers, no coercion."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            json_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    if left is None or right is None:
        return left is right
    return type(left) is type(right) and bool(left == right)


def event_matches(match: dict[str, Any] | None, wait_event: str, event: dict[str, Any]) -> bool:
    """Whether `event` satisfies a wait on `wait_event` with `match`."""
    if event.get("name") != wait_event:
        return False
    for path, expected in (match or {}).items():
        found, value = resolve(event.get("data"), path)
        if not found or not json_equal(value, expected):
            return False
    return True


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 unescaped, integral numbers without a fraction."""
    return json.dumps(
        _canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
        allow_nan=False,
    )


def key_value(key: str, event: dict[str, Any]) -> str:
    """The flow-control bucket of `event` under `key` (missing resolves to `null`)."""
    found, value = resolve(event.get("data"), key)
    return canonical_json(value if found else None)


def valid_key_path(path: Any) -> bool:
    """1-200 characters, no empty segment."""
    return (
        isinstance(path, str)
        and 1 <= len(path) <= 200
        and all(segment for segment in path.split("."))
    )
