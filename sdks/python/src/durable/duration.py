"""Durations: "<int><ms|s|m|h|d>" or a non-negative integer of milliseconds."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ._protocol import DURATION_UNITS_MS, MAX_DURATION_MS

_DURATION = re.compile(r"([0-9]+)(ms|s|m|h|d)")


def parse_duration(value: str | int) -> int:
    """Milliseconds for a duration; ValueError (TypeError for non str/int) when invalid."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"invalid duration: {value!r}")
    if isinstance(value, int):
        milliseconds = value
    else:
        match = _DURATION.fullmatch(value)
        if match is None:
            raise ValueError(f"invalid duration: {value}")
        milliseconds = int(match.group(1)) * DURATION_UNITS_MS[match.group(2)]
    if not 0 <= milliseconds <= MAX_DURATION_MS:
        raise ValueError(f"invalid duration: {value}")
    return milliseconds


def iso_utc(unix_ms: float) -> str:
    """ISO-8601 UTC with milliseconds and `Z`, the form every `until` takes."""
    instant = datetime.fromtimestamp(unix_ms / 1000, tz=UTC)
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")
