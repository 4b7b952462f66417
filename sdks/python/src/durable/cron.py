"""Syntax check of cron triggers: `[TZ=<IANA zone> ]<5 fields | seconds + 5 fields>`.

The engine computes fire times; the SDK only refuses an expression the engine would
refuse, so a typo fails at definition time rather than at sync.
"""

from __future__ import annotations

import re
import zoneinfo

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (name, low, high, names that stand for low, low+1, ...)
_FIELDS_5 = [
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day-of-month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _DAYS),
]
_SECONDS = ("second", 0, 59, None)
_ZONE = re.compile(r"TZ=(\S+)\s+(.*)", re.DOTALL)


def _value(text: str, low: int, names: list[str] | None) -> int | None:
    if text.isascii() and text.isdigit():
        return int(text)
    if names is not None and text.upper() in names:
        return low + names.index(text.upper())
    return None


def _field(text: str, name: str, low: int, high: int, names: list[str] | None) -> str | None:
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isascii() and step.isdigit() and int(step) > 0):
            return f"invalid step in {name} field: {part!r}"
        if base == "*":
            continue
        start_text, dash, end_text = base.partition("-")
        start = _value(start_text, low, names)
        end = _value(end_text, low, names) if dash else start
        if start is None or end is None:
            return f"invalid {name} field: {part!r}"
        if not (low <= start <= high and low <= end <= high) or start > end:
            return f"{name} out of range {low}-{high}: {part!r}"
    return None


def validate_cron(expression: str) -> str | None:
    """None when the expression is valid, else the reason."""
    text = expression.strip()
    zoned = _ZONE.fullmatch(text)
    if zoned is not None:
        try:
            zoneinfo.ZoneInfo(zoned.group(1))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return f"unknown time zone {zoned.group(1)!r}"
        text = zoned.group(2)
    fields = text.split()
    if len(fields) == 5:
        specs = _FIELDS_5
    elif len(fields) == 6:
        specs = [_SECONDS, *_FIELDS_5]
    else:
        return "cron needs 5 fields, or 6 with seconds first"
    for field, (name, low, high, names) in zip(fields, specs, strict=True):
        reason = _field(field, name, low, high, names)
        if reason is not None:
            return reason
    return None
