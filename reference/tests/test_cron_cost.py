"""An every-second cron costs a few iterations per round, not an hour of them; DST
zones keep their one-hour margin (the cron vectors check the fire times)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from durable_engine.cron import latest_fire, next_fire
from durable_engine.validation import spec_dir


def test_every_second_cron_is_cheap_in_utc() -> None:
    now = datetime(2026, 3, 1, 12, 0, 7, 500_000, tzinfo=UTC)
    started = time.perf_counter()
    for _ in range(20):
        assert latest_fire("* * * * * *", now, now - timedelta(days=3)) == now.replace(
            microsecond=0)
        assert next_fire("* * * * * *", now) == now.replace(microsecond=0) + timedelta(
            seconds=1)
    assert (time.perf_counter() - started) / 20 < 0.02  # was ~0.3 s per pair


def test_fire_times_of_the_cron_vectors() -> None:
    base = spec_dir()
    assert base is not None
    cases = json.loads((base / "vectors" / "cron" / "cron.json").read_text())["cases"]
    for case in cases:
        if not case["valid"]:
            continue
        at = datetime.fromisoformat(case["after"].replace("Z", "+00:00"))
        fired = []
        for _ in case["next"]:
            at = next_fire(case["expr"], at)
            fired.append(at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        assert fired == case["next"], case["id"]
        # The latest fire at or before each fire time is that fire time itself.
        first = datetime.fromisoformat(case["next"][0].replace("Z", "+00:00"))
        assert latest_fire(case["expr"], first, first - timedelta(days=400)) == first, case["id"]


def test_dst_zone_walks_through_the_repeated_hour() -> None:
    # Amsterdam falls back on 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 fires once, first.
    expr = "TZ=Europe/Amsterdam 30 2 * * *"
    after = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)  # 02:00 CEST
    assert next_fire(expr, after) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert next_fire(expr, datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) == datetime(
        2026, 10, 26, 1, 30, tzinfo=UTC)
