"""Cron expressions (decision 0005): 5 fields, or 6 with seconds first; optional TZ= prefix."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter


def parse_cron(expression: str) -> tuple[str, ZoneInfo, bool]:
    """Returns (croniter expression, zone, has_seconds); ValueError when invalid."""
    text = expression.strip()
    zone = ZoneInfo("UTC")
    if text.startswith("TZ="):
        name, _, text = text[3:].partition(" ")
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
    fields = text.split()
    if len(fields) not in (5, 6):
        raise ValueError("cron needs 5 fields, or 6 with seconds first")
    has_seconds = len(fields) == 6
    # croniter puts seconds last.
    normalized = " ".join(fields[1:] + fields[:1]) if has_seconds else " ".join(fields)
    if not croniter.is_valid(normalized, second_at_beginning=False):
        raise ValueError(f"invalid cron expression {expression!r}")
    return normalized, zone, has_seconds
