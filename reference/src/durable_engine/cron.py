"""Cron expressions (decision 0005): 5 fields, or 6 with seconds first; optional TZ= prefix."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

_FIELD = re.compile(r"^[0-9A-Za-z*,/-]+$")


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
    for field in fields:
        # Quartz/Jenkins extensions ([CRON-1]): ?, L, W, #, @, H are not ours.
        if not _FIELD.match(field) or re.search(r"(^|[^A-Za-z])[LWH]([^A-Za-z]|$)", field):
            raise ValueError(f"invalid cron field {field!r}")
        for low, high in re.findall(r"(\d+)-(\d+)", field):
            if int(low) > int(high):
                raise ValueError(f"reversed range {low}-{high} in {field!r}")
    # croniter puts seconds last.
    normalized = " ".join(fields[1:] + fields[:1]) if has_seconds else " ".join(fields)
    if not croniter.is_valid(normalized, second_at_beginning=False):
        raise ValueError(f"invalid cron expression {expression!r}")
    expanded = croniter.expand(normalized)[0]
    days, months = expanded[2], expanded[3]
    dom, dow = (fields[3], fields[5]) if has_seconds else (fields[2], fields[4])
    if dom != "*" and dow == "*" and "*" not in days:
        longest = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31,
                   11: 30, 12: 31}
        month_list = range(1, 13) if "*" in months else months
        if not any(int(day) <= longest[int(month)] for day in days for month in month_list):
            raise ValueError(f"{expression!r} never fires")
    return normalized, zone, has_seconds


def _to_utc(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The first instant showing this wall time in the zone; None when it does not exist."""
    local = wall.replace(tzinfo=zone, fold=0)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None  # spring forward gap ([CRON-4])
    return instant


def next_fire(expression: str, after: datetime) -> datetime:
    """The first fire instant strictly after `after` (aware), per [CRON-3..5]: iterate wall
    times of the zone, skip those that do not exist, take each ambiguous one once (first)."""
    normalized, zone, _ = parse_cron(expression)
    wall = after.astimezone(zone).replace(tzinfo=None)
    # One hour back covers an `after` inside a repeated (fall back) hour.
    iterator = croniter(normalized, wall - timedelta(hours=1), ret_type=datetime)
    for _ in range(100_000):
        candidate = iterator.get_next()
        instant = _to_utc(candidate, zone)
        if instant is not None and instant > after:
            return instant
    raise ValueError(f"{expression!r} has no fire time after {after.isoformat()}")


def latest_fire(expression: str, at_or_before: datetime, not_before: datetime) -> datetime | None:
    """The most recent fire instant in (not_before, at_or_before], or None: the single
    catch-up tick of [CRON-7]. Walks back from `at_or_before`, never through the whole gap."""
    normalized, zone, _ = parse_cron(expression)
    wall = at_or_before.astimezone(zone).replace(tzinfo=None)
    iterator = croniter(normalized, wall + timedelta(hours=1, seconds=1), ret_type=datetime)
    for _ in range(100_000):
        candidate = iterator.get_prev()
        instant = _to_utc(candidate, zone)
        if instant is None or instant > at_or_before:
            continue
        return instant if instant > not_before else None
    return None
