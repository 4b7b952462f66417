"""Cron grammar of [CRON-1]/[CRON-2]/[CRON-6] where croniter's own parser differs: the
engine parses the fields itself. Expected values follow spec/tools/cronref.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from durable_engine.cron import next_fire, parse_cron

AFTER = datetime(2026, 1, 1, tzinfo=UTC)  # a Thursday, midnight: fire times come after it


def fires(expression: str, count: int = 2) -> list[str]:
    instants, after = [], AFTER
    for _ in range(count):
        after = next_fire(expression, after)
        instants.append(after.strftime("%Y-%m-%d %H:%M:%S"))
    return instants


@pytest.mark.parametrize("expression", [
    "0  3 * * *", " 0 3 * * *", "0 3 * * * ", "0\t3 * * *",  # single spaces only
    "TZ=Europe/Amsterdam  0 3 * * *",
    "0 0 * * SAT-SUN", "0 0 * * FRI-MON", "0 0 1 DEC-JAN *",  # reversed ranges by name
    "0 0 30 2-2 *",  # 30 February never comes, however the month is written
    "0 0 * * 8", "0 0 1 13 *", "1,,2 * * * *", "*/ * * * *",
])
def test_invalid_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValueError):
        parse_cron(expression)


@pytest.mark.parametrize(("expression", "expected"), [
    ("0 0 * * 7-7", ["2026-01-04 00:00:00", "2026-01-11 00:00:00"]),  # Sunday, not daily
    ("0 0 1 JAN-1 *", ["2027-01-01 00:00:00", "2028-01-01 00:00:00"]),  # January only
    ("0 0 1-31 * MON", ["2026-01-02 00:00:00", "2026-01-03 00:00:00"]),  # either: every day
    ("0 0 13 * */1", ["2026-01-02 00:00:00", "2026-01-03 00:00:00"]),
    ("0 0 13 * FRI", ["2026-01-02 00:00:00", "2026-01-09 00:00:00"]),
    ("0 0 13 * *", ["2026-01-13 00:00:00", "2026-02-13 00:00:00"]),
    ("0 0 * * mon-fri", ["2026-01-02 00:00:00", "2026-01-05 00:00:00"]),
    ("30 5/20 * * * *", ["2026-01-01 00:05:30", "2026-01-01 00:25:30"]),
])
def test_fire_times_follow_the_spec_grammar(expression: str, expected: list[str]) -> None:
    assert fires(expression) == expected
