"""Cron expressions (decision 0005): 5 fields, or 6 with seconds first; optional TZ= prefix."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

# (low, high, names) per field, seconds first; names map to low + their index.
_FIELDS = (
    (0, 59, ()), (0, 59, ()), (0, 23, ()), (1, 31, ()),
    (1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
    (0, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)
_TERM = re.compile(r"^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/([0-9]+))?$")
_LONGEST_DAY = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31,
                11: 30, 12: 31}


def _value(token: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if token.isdigit():
        number = int(token)
    elif token.upper() in names:
        number = names.index(token.upper()) + low
    else:
        raise ValueError(f"invalid cron value {token!r}")
    if not low <= number <= high:
        raise ValueError(f"cron value {number} out of range {low}-{high}")
    return number


def _field(text: str, index: int) -> set[int]:
    """The values a field allows ([CRON-1]); day of week 7 becomes 0 (Sunday)."""
    low, high, names = _FIELDS[index]
    last = 6 if index == 5 else high  # `*` and `N/S` of day-of-week stop at Saturday
    values: set[int] = set()
    for term in text.split(","):
        match = _TERM.match(term)  # no ?, L, W, #, @: they fail here
        if match is None:
            raise ValueError(f"invalid cron term {term!r}")
        base, step_text = match.groups()
        step = int(step_text) if step_text is not None else 1
        if step < 1:
            raise ValueError(f"cron step must be >= 1 in {term!r}")
        if base == "*":
            first, end = low, last
        elif "-" in base:
            first, end = (_value(t, low, high, names) for t in base.split("-"))
            if first > end:
                raise ValueError(f"reversed range {base!r}")  # also SAT-SUN, DEC-JAN
        else:
            first = _value(base, low, high, names)
            end = last if step_text is not None else first
        values.update(range(first, end + 1, step))
    if index == 5 and 7 in values:
        values = (values - {7}) | {0}
    return values


def parse_cron(expression: str) -> tuple[str, ZoneInfo, bool]:
    """Returns (croniter expression, zone, has_seconds); ValueError when invalid.

    The fields are parsed here, strictly per [CRON-1]/[CRON-2], and croniter gets plain
    number lists: its own parser reads `7-7`, `JAN-1` and `2-2` differently from the spec."""
    text = expression
    zone = ZoneInfo("UTC")
    if text.startswith("TZ="):
        name, _, text = text[3:].partition(" ")
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
    fields = text.split(" ")  # single spaces only: "0  3 * * *" has an empty field
    if len(fields) not in (5, 6):
        raise ValueError("cron needs 5 fields, or 6 with seconds first")
    has_seconds = len(fields) == 6
    if not has_seconds:
        fields = ["0", *fields]
    values = [_field(field, index) for index, field in enumerate(fields)]
    # `*` stays `*`: croniter ORs day-of-month and day-of-week only when neither is `*`
    # ([CRON-6]), exactly the spec's rule.
    lists = ["*" if field == "*" else ",".join(map(str, sorted(allowed)))
             for field, allowed in zip(fields, values, strict=True)]
    days, months = values[3], values[4]
    # croniter reads a full list as `*` (no OR): when either restricted day field allows
    # every day, the OR allows every day.
    if fields[3] != "*" and fields[5] != "*" and (days == set(range(1, 32))
                                                  or values[5] == set(range(7))):
        lists[3] = lists[5] = "*"
    if fields[3] != "*" and fields[5] == "*" and \
            not any(day <= _LONGEST_DAY[month] for day in days for month in months):
        raise ValueError(f"{expression!r} never fires")
    # croniter puts seconds last.
    normalized = " ".join(lists[1:] + lists[:1])
    if not croniter.is_valid(normalized, second_at_beginning=False):
        raise ValueError(f"invalid cron expression {expression!r}")
    return normalized, zone, has_seconds


def _to_utc(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The first instant showing this wall time in the zone; None when it does not exist."""
    local = wall.replace(tzinfo=zone, fold=0)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None  # spring forward gap ([CRON-4])
    return instant


def _margin(zone: ZoneInfo, at: datetime) -> timedelta:
    """How far around `at` to start iterating wall times: an hour when the zone's offset
    changes near `at` (a repeated or skipped hour), else nothing, so an every-second
    expression costs a few iterations instead of 3600."""
    offsets = {(at + timedelta(hours=h)).astimezone(zone).utcoffset() for h in (-3, 0, 3)}
    return timedelta(hours=1) if len(offsets) > 1 else timedelta(0)


def next_fire(expression: str, after: datetime) -> datetime:
    """The first fire instant strictly after `after` (aware), per [CRON-3..5]: iterate wall
    times of the zone, skip those that do not exist, take each ambiguous one once (first)."""
    normalized, zone, _ = parse_cron(expression)
    wall = after.astimezone(zone).replace(tzinfo=None)
    # Near a transition, one hour back covers an `after` inside a repeated (fall back) hour.
    iterator = croniter(normalized, wall - _margin(zone, after), ret_type=datetime)
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
    iterator = croniter(normalized, wall + _margin(zone, at_or_before) + timedelta(seconds=1),
                        ret_type=datetime)
    for _ in range(100_000):
        candidate = iterator.get_prev()
        instant = _to_utc(candidate, zone)
        if instant is None or instant > at_or_before:
            continue
        return instant if instant > not_before else None
    return None
