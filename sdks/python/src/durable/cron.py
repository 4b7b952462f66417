"""Syntax check of cron triggers: `[TZ=<IANA zone> ]<5 fields | seconds + 5 fields>`.

The engine computes fire times; the SDK only refuses what the engine would refuse
(bad fields, unknown zone, an expression that can never fire), so a typo fails when
the function is defined rather than at sync.
"""

from __future__ import annotations

import re
import zoneinfo

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# name -> (low, high, names standing for low, low + 1, ...)
_RANGES: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "second": (0, 59, ()),
    "minute": (0, 59, ()),
    "hour": (0, 23, ()),
    "day-of-month": (1, 31, ()),
    "month": (1, 12, _MONTHS),
    "day-of-week": (0, 7, _DAYS),
}
_ORDER = ("second", "minute", "hour", "day-of-month", "month", "day-of-week")
_TERM = re.compile(r"(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/([0-9]+))?")
_LONGEST_MONTH = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30,
                  12: 31}


class _Invalid(Exception):
    pass


def _number(token: str, field: str) -> int:
    low, high, names = _RANGES[field]
    if token.isascii() and token.isdigit():
        value = int(token)
    elif token.upper() in names:
        value = low + names.index(token.upper())
    else:
        raise _Invalid(f"invalid {field} value {token!r}")
    if not low <= value <= high:
        raise _Invalid(f"{field} {value} out of range {low}-{high}")
    return value


def _values(text: str, field: str) -> set[int]:
    low, high, _ = _RANGES[field]
    # Sunday is 0 or 7; an open-ended day-of-week term stops at Saturday.
    top = 6 if field == "day-of-week" else high
    values: set[int] = set()
    for term in text.split(","):
        match = _TERM.fullmatch(term)
        if match is None:
            raise _Invalid(f"invalid {field} term {term!r}")
        base, step_text = match.groups()
        step = 1 if step_text is None else int(step_text)
        if step < 1:
            raise _Invalid(f"{field} step must be at least 1")
        if base == "*":
            start, end = low, top
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _number(first, field), _number(last, field)
            if start > end:
                raise _Invalid(f"reversed {field} range {base!r}")
        else:
            start = _number(base, field)
            end = top if step_text is not None else start
        values.update(range(start, end + 1, step))
    return {0 if field == "day-of-week" and value == 7 else value for value in values}


def _check(expression: str) -> None:
    rest = expression
    if rest.startswith("TZ="):
        zone, _, rest = rest.partition(" ")
        try:
            zoneinfo.ZoneInfo(zone[3:])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
            raise _Invalid(f"unknown time zone {zone[3:]!r}") from error
    fields = rest.split(" ")
    if len(fields) == 5:
        fields = ["0", *fields]
    elif len(fields) != 6:
        raise _Invalid("cron needs 5 fields, or 6 with seconds first, separated by single spaces")
    parsed = {name: _values(text, name) for name, text in zip(_ORDER, fields, strict=True)}
    # Day-of-month alone restricts the day: it must exist in at least one chosen month.
    if fields[3] != "*" and fields[5] == "*" and not any(
        day <= _LONGEST_MONTH[month] for month in parsed["month"] for day in parsed["day-of-month"]
    ):
        raise _Invalid("the expression never fires")


def validate_cron(expression: str) -> str | None:
    """None when the expression is valid, else the reason."""
    if not isinstance(expression, str):
        return "cron must be a string"
    try:
        _check(expression)
    except _Invalid as error:
        return str(error)
    return None
