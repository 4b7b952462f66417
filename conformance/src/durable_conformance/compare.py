"""Exact op comparison with the `$afterMs` time normalisation of spec/vectors/README.md
and the `$type` wildcard (a field whose value the language decides, e.g. an error name)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
TOLERANCE_MS = 5_000
AFTER_MS_MARKER = "<$afterMs>"


JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "number": (int, float), "integer": (int,), "boolean": (bool,),
    "object": (dict,), "array": (list,), "null": (type(None),),
}


def is_after_ms(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"$afterMs"}


def is_type(value: Any) -> bool:
    """`{"$type": "string"}`: any value of that JSON type (e.g. a language's error name)."""
    return isinstance(value, dict) and set(value) == {"$type"}


def has_type(actual: Any, name: str) -> bool:
    if isinstance(actual, bool) and name in ("number", "integer"):
        return False
    if name == "integer" and isinstance(actual, float):
        return actual.is_integer()
    return isinstance(actual, JSON_TYPES.get(name, ()))


def parse_iso_ms(value: str) -> int:
    instant = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(instant.timestamp() * 1000)


def compare(expected: Any, actual: Any, invoked_at_ms: int, path: str = "") -> list[str]:
    """Differences between an expected op and the actual one, as readable lines."""
    where = path or "/"
    if is_after_ms(expected):
        if not isinstance(actual, str) or not ISO_MS.match(actual):
            return [f"{where}: expected an ISO-8601 UTC time with ms and Z, got {actual!r}"]
        target = invoked_at_ms + int(expected["$afterMs"])
        drift = parse_iso_ms(actual) - target
        if abs(drift) > TOLERANCE_MS:
            return [f"{where}: {actual} is {drift} ms from invoke time + {expected['$afterMs']} ms"]
        return []
    if is_type(expected):
        if not has_type(actual, str(expected["$type"])):
            return [f"{where}: expected any {expected['$type']}, got {_short(actual)}"]
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {_short(actual)}"]
        problems: list[str] = []
        for key in expected:
            if key not in actual:
                problems.append(f"{path}/{key}: missing (expected {_short(expected[key])})")
            else:
                problems += compare(expected[key], actual[key], invoked_at_ms, f"{path}/{key}")
        for key in actual:
            if key not in expected:
                problems.append(f"{path}/{key}: unexpected field ({_short(actual[key])})")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {_short(expected)}, got {_short(actual)}"]
        problems = []
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            problems += compare(want, got, invoked_at_ms, f"{path}/{index}")
        return problems
    if not _json_equal(expected, actual):
        return [f"{where}: expected {_short(expected)}, got {_short(actual)}"]
    return []


def _json_equal(a: Any, b: Any) -> bool:
    # JSON equality: 1 == 1.0, but true is not 1 and "1" is not 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def normalise(expected: Any, actual: Any) -> Any:
    """The actual op with every field the vector leaves to the clock replaced by a marker."""
    if is_after_ms(expected):
        return AFTER_MS_MARKER
    if is_type(expected) and has_type(actual, str(expected["$type"])):
        return f"<$type:{expected['$type']}>"
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {k: normalise(expected.get(k), v) for k, v in actual.items()}
    if isinstance(expected, list) and isinstance(actual, list):
        return [
            normalise(expected[i] if i < len(expected) else None, v) for i, v in enumerate(actual)
        ]
    return actual


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
