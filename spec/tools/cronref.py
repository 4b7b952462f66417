"""Reference cron evaluator for spec/wire-protocol.md (CRON-*), used to generate and check vectors.

Local wall times are enumerated day by day; a wall time that does not exist (DST spring
forward) is skipped, an ambiguous one (fall back) maps to its first occurrence (fold=0).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (low, high, names, name offset)
FIELD_RANGES = {
    "second": (0, 59, None, 0),
    "minute": (0, 59, None, 0),
    "hour": (0, 23, None, 0),
    "dayOfMonth": (1, 31, None, 0),
    "month": (1, 12, MONTHS, 1),
    "dayOfWeek": (0, 7, DAYS, 0),
}
_ATOM = re.compile(r"^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/([0-9]+))?$")


class CronError(ValueError):
    pass


def _value(token: str, field: str) -> int:
    low, high, names, offset = FIELD_RANGES[field]
    if token.isdigit():
        number = int(token)
    elif names is not None and token.upper() in names:
        number = names.index(token.upper()) + offset
    else:
        raise CronError(f"bad {field} value {token!r}")
    if not low <= number <= high:
        raise CronError(f"{field} value {number} out of range {low}-{high}")
    return number


def parse_field(text: str, field: str) -> tuple[set[int], bool]:
    """Return the allowed values and whether the field is unrestricted (`*`)."""
    low, high, _, _ = FIELD_RANGES[field]
    values: set[int] = set()
    if text == "":
        raise CronError(f"empty {field}")
    for part in text.split(","):
        match = _ATOM.match(part)
        if not match:
            raise CronError(f"bad {field} term {part!r}")
        base, step_text = match.group(1), match.group(2)
        step = 1
        if step_text is not None:
            step = int(step_text)
            if step < 1:
                raise CronError(f"{field} step must be >= 1")
        if base == "*":
            start, end = low, high
            if field == "dayOfWeek":
                end = 6
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _value(first, field), _value(last, field)
            if start > end:
                raise CronError(f"{field} range {base} is reversed")
        else:
            start = _value(base, field)
            end = high if step_text is not None else start
            if field == "dayOfWeek" and step_text is not None:
                end = 6
        values.update(range(start, end + 1, step))
    if field == "dayOfWeek" and 7 in values:
        values.discard(7)
        values.add(0)
    return values, text == "*"


class Cron:
    def __init__(self, expr: str) -> None:
        if not isinstance(expr, str):
            raise CronError("cron must be a string")
        self.zone = ZoneInfo("UTC")
        rest = expr
        if rest.startswith("TZ="):
            head, _, rest = rest.partition(" ")
            try:
                self.zone = ZoneInfo(head[3:])
            except (ZoneInfoNotFoundError, ValueError) as error:
                raise CronError(f"unknown time zone {head[3:]!r}") from error
        if rest != rest.strip() or "  " in rest:
            raise CronError("fields are separated by single spaces")
        fields = rest.split(" ")
        if len(fields) == 5:
            fields = ["0", *fields]
        elif len(fields) != 6:
            raise CronError("cron needs 5 or 6 fields")
        names = ["second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek"]
        parsed = [parse_field(text, name) for text, name in zip(fields, names, strict=True)]
        self.seconds = sorted(parsed[0][0])
        self.minutes = sorted(parsed[1][0])
        self.hours = sorted(parsed[2][0])
        self.doms, dom_star = parsed[3]
        self.months = parsed[4][0]
        self.dows, dow_star = parsed[5]
        self.dom_star, self.dow_star = dom_star, dow_star
        if not self._any_day_possible():
            raise CronError("the expression never fires")

    def _any_day_possible(self) -> bool:
        month_days = {
            1: 31,
            2: 29,
            3: 31,
            4: 30,
            5: 31,
            6: 30,
            7: 31,
            8: 31,
            9: 30,
            10: 31,
            11: 30,
            12: 31,
        }
        if not self.dom_star and self.dow_star:
            return any(d <= month_days[m] for m in self.months for d in self.doms)
        return True

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom_ok = day.day in self.doms
        dow_ok = (day.isoweekday() % 7) in self.dows
        if self.dom_star or self.dow_star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok  # both restricted: either matches (Vixie cron)

    def next_after(self, after: datetime, count: int) -> list[datetime]:
        after = after.astimezone(UTC)
        local_day = after.astimezone(self.zone).date() - timedelta(days=1)
        result: list[datetime] = []
        for _ in range(366 * 8):
            if self.day_matches(local_day):
                for hour in self.hours:
                    for minute in self.minutes:
                        for second in self.seconds:
                            wall = datetime(
                                local_day.year, local_day.month, local_day.day, hour, minute, second
                            )
                            instant = _to_utc(wall, self.zone)
                            if instant is None or instant <= after:
                                continue
                            if result and instant <= result[-1]:
                                continue
                            result.append(instant)
                            if len(result) == count:
                                return result
            local_day += timedelta(days=1)
        return result


def _to_utc(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """First occurrence of a local wall time, or None when it does not exist."""
    first = wall.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
