"""Metrics rollups (decision 0040) over runs and steps written straight into a real Postgres at
chosen times, with an engine whose clock the test sets: percentiles come from summed
histograms and stay within one bucket of the exact figure, durable time counts queueing,
sleeps and waits, the roller rolls each minute once whoever rolls, retention prunes minutes
but not the totals, and the read model refuses bad input with typed errors."""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from conftest import fresh_database, query
from durable_engine.db import open_pool
from durable_engine.engine import Config, Engine
from durable_engine.metrics import BUCKETS, Sampler, bucket_of, floor_minute, percentile, upper_ms
from durable_engine.ops import prune_once
from durable_engine.service import Service, ServiceError
from durable_engine.service.metrics import MetricsQuery

WIDTH = math.sqrt(2)  # one bucket: the estimate and the exact figure share it


class World:
    """An engine (pool, sampler, service) on its own loop whose clock is `self.now`."""

    def __init__(self, database_url: str, now: datetime) -> None:
        self.url = database_url
        self.now = now
        self.loop = asyncio.new_event_loop()
        self.pool = self.run(open_pool(database_url, 4))
        self.engine = Engine(Config(database_url=database_url), self.pool,
                             clock=lambda: self.now)
        self.sampler = Sampler(self.engine, grace_s=0)
        self.service = Service(self.engine)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def series(self, **options: Any) -> dict[str, Any]:
        return self.run(self.service.metrics_series(
            self.workspace, MetricsQuery.from_json(options))).to_json()

    def close(self) -> None:
        self.run(self.pool.close())
        self.loop.close()

    # ---- data written as the engine writes it ---------------------------------------------

    workspace = "ws-metrics"

    def add_workspace(self, workspace: str | None = None) -> None:
        query(self.url, "INSERT INTO workspaces (id, name, environment, app_url, keys) "
              "VALUES (%s, %s, 'test', 'http://127.0.0.1:1/x', '{k}') RETURNING id",
              workspace or self.workspace, workspace or self.workspace)

    def add_run(self, function: str, *, status: str = "completed",
                started: datetime | None = None, ended: datetime | None = None,
                workspace: str | None = None) -> str:
        run_id = str(uuid.uuid4())
        query(self.url, "INSERT INTO runs (id, workspace_id, function_id, event, status, "
              "created_at, started_at, ended_at) VALUES (%s, %s, %s, '{}', %s, %s, %s, %s) "
              "RETURNING id", run_id, workspace or self.workspace, function, status,
              started or self.now, started, ended)
        return run_id

    def add_steps(self, run_id: str, steps: list[dict[str, Any]]) -> None:
        with psycopg.connect(self.url) as conn:
            for i, s in enumerate(steps):
                conn.execute(
                    "INSERT INTO steps (run_id, namespace, step_id, type, position, queued_at, "
                    "started_at, app_ms, ended_at, wake_at, copied_from) VALUES (%s, 'main', %s, "
                    "%s, %s, %s, %s, %s, %s, %s, %s)",
                    (run_id, s.get("id", f"s{i}"), s.get("type", "run"), i, s.get("queued"),
                     s.get("started"), s.get("app_ms"), s["ended"], s.get("wake"),
                     s.get("copied_from")))


@pytest.fixture
def world(server_url: str) -> Iterator[Callable[[], World]]:
    """A fresh database and an engine on it whose clock starts two minutes ahead (the rollups
    begin at migration time, so the test's minutes are all to come)."""
    worlds: list[World] = []
    with fresh_database(server_url) as url:
        def make() -> World:
            start = floor_minute(datetime.now(UTC)) + timedelta(minutes=2)
            w = World(url, start)
            w.add_workspace()
            worlds.append(w)
            return w

        yield make
        for w in worlds:
            w.close()


def exact(values: list[float], q: float) -> float:
    """The q-quantile as the value at rank ceil(q * n) (what the histogram estimates)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def close_to(estimate: float | None, truth: float) -> bool:
    return estimate is not None and truth / WIDTH <= estimate <= truth * WIDTH


def test_buckets_are_the_same_in_python_and_in_sql(database_url: str) -> None:
    values = [0.0, 0.1, 0.25, 0.26, 0.5, 0.7, 1.0, 3.3, 57.0, 1000.0, 1e5, 7.2e6, 1.7e8, 6e8,
              7.5e8, 1e9, 1e12]
    rows = query(database_url, "SELECT v, durable_metrics_bucket(v) AS b "
                 "FROM unnest(%s::float8[]) AS v", values)
    assert {r["v"]: r["b"] for r in rows} == {v: bucket_of(v) for v in values}
    for v in values:  # each value lies in its bucket's bounds
        b = bucket_of(v)
        assert (b == 0 or upper_ms(b - 1) < v) and v <= upper_ms(b)
    assert bucket_of(1e12) == BUCKETS - 1 and math.isinf(upper_ms(BUCKETS - 1))


def test_percentile_of_a_histogram() -> None:
    assert percentile({}, 0.5) is None
    hist = {bucket_of(10.0): 99, bucket_of(5000.0): 1}
    assert close_to(percentile(hist, 0.5), 10.0)
    assert close_to(percentile(hist, 0.99), 10.0)
    assert percentile(hist, 1.0, max_ms=5000.0) == pytest.approx(5000.0, rel=0.42)
    assert percentile({bucket_of(1e12): 3}, 0.5, max_ms=2e11) == 2e11  # beyond the last bound


def test_percentiles_over_any_window_come_from_summed_histograms(
        world: Callable[[], World]) -> None:
    w = world()
    base = w.now
    rng = random.Random(7)
    per_minute: dict[int, list[float]] = {}
    durable: list[float] = []
    for minute in range(10):  # 10 minutes, 60 steps each, app times log-uniform 1 ms .. 10 s
        at = base + timedelta(minutes=minute, seconds=5)
        run_id = w.add_run("spread", started=at)
        steps = []
        for i in range(60):
            app_ms = 10 ** rng.uniform(0, 4)
            wait_ms = 10 ** rng.uniform(-1, 2)
            started = at + timedelta(milliseconds=i * 100)
            steps.append({"queued": started - timedelta(milliseconds=wait_ms),
                          "started": started, "app_ms": app_ms,
                          "ended": started + timedelta(milliseconds=50)})
            per_minute.setdefault(minute, []).append(app_ms)
            durable.append(wait_ms)
        w.add_steps(run_id, steps)
    # minute 11: a spike of one slow step beside a hundred fast ones a minute before
    fast = w.add_run("spiky", started=base + timedelta(minutes=11))
    w.add_steps(fast, [{"queued": base + timedelta(minutes=11), "app_ms": 1.0 + i / 1000,
                        "started": base + timedelta(minutes=11),
                        "ended": base + timedelta(minutes=11, seconds=1)} for i in range(100)])
    slow = w.add_run("spiky", started=base + timedelta(minutes=12))
    w.add_steps(slow, [{"queued": base + timedelta(minutes=12), "app_ms": 1000.0,
                        "started": base + timedelta(minutes=12),
                        "ended": base + timedelta(minutes=12, seconds=1)}])

    w.now = base + timedelta(minutes=14)
    assert w.run(w.sampler.roll_once()) > 0
    everything = [v for values in per_minute.values() for v in values]
    for window in ("hour", "day", "week"):
        s = w.series(window=window, function="spread")
        assert len(s["timestamps"]) == {"hour": 60, "day": 144, "week": 168}[window]
        totals = s["totals"]
        assert totals["appMs"]["count"] == 600 and totals["durableMs"]["count"] == 600
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            assert close_to(totals["appMs"][name], exact(everything, q)), (window, name)
            assert close_to(totals["durableMs"][name], exact(durable, q)), (window, name)
    hourly = w.series(window="hour", function="spread")
    for minute, values in per_minute.items():
        i = hourly["timestamps"].index(int((base + timedelta(minutes=minute)).timestamp()))
        assert hourly["appMs"]["count"][i] == 60
        assert close_to(hourly["appMs"]["p50"][i], exact(values, 0.5))
        assert close_to(hourly["appMs"]["p99"][i], exact(values, 0.99))
    spiky = w.series(window="hour", function="spiky")["totals"]["appMs"]
    # 101 steps: the p99 is a fast one (averaging the two minutes' p99s would say ~500 ms)
    assert spiky["count"] == 101 and close_to(spiky["p99"], 1.0)
    assert spiky["p50"] is not None and spiky["p50"] < 1.5


def test_durable_time_counts_queueing_sleeps_and_waits_and_runs_count_by_minute(
        world: Callable[[], World]) -> None:
    w = world()
    base = w.now
    run_id = w.add_run("steps", started=base + timedelta(seconds=1), status="completed",
                       ended=base + timedelta(minutes=1, seconds=30))
    w.add_steps(run_id, [
        # queued 40 ms before the app was called, which took 12 ms
        {"id": "load", "queued": base + timedelta(seconds=2),
         "started": base + timedelta(seconds=2, milliseconds=40), "app_ms": 12.0,
         "ended": base + timedelta(seconds=2, milliseconds=60)},
        # a sleep of 2 hours, recorded when it began
        {"id": "nap", "type": "sleep", "queued": base + timedelta(seconds=3),
         "started": base + timedelta(seconds=3), "app_ms": 3.0,
         "ended": base + timedelta(seconds=3), "wake": base + timedelta(hours=2, seconds=3)},
        # a wait of 30 s for an event, recorded when it resumed
        {"id": "approve", "type": "wait", "queued": base + timedelta(seconds=4),
         "ended": base + timedelta(seconds=34)},
        # copied from another run by a rerun from a step: counted there, not here
        {"id": "copied", "queued": base, "started": base, "app_ms": 999.0,
         "ended": base + timedelta(seconds=5), "copied_from": "another-run"},
    ])
    w.add_run("steps", status="failed", started=base + timedelta(seconds=10),
              ended=base + timedelta(seconds=20))
    w.add_run("steps", status="cancelled", started=base + timedelta(seconds=10),
              ended=base + timedelta(minutes=1, seconds=5))
    w.add_run("steps", status="queued")  # never started: counts nowhere
    w.add_run("other", started=base + timedelta(seconds=7))
    w.now = base + timedelta(minutes=3)
    w.run(w.sampler.roll_once())
    rows = query(w.url, "SELECT * FROM metrics_minutes WHERE function_id = 'steps' "
                 "ORDER BY minute")
    assert [(r["minute"], r["started"], r["completed"], r["failed"], r["cancelled"])
            for r in rows] == [(base, 3, 0, 1, 0), (base + timedelta(minutes=1), 0, 1, 0, 1)]
    first = rows[0]
    assert first["app_sum_ms"] == pytest.approx(15.0) and first["app_max_ms"] == 12.0
    assert sorted(zip(first["app_buckets"], first["app_counts"], strict=True)) == sorted(
        [(bucket_of(12.0), 1), (bucket_of(3.0), 1)])
    assert first["durable_max_ms"] == pytest.approx(7_200_000.0)
    assert first["durable_sum_ms"] == pytest.approx(40.0 + 7_200_000.0 + 30_000.0)
    s = w.series(window="hour", function="steps")
    assert {k: s["totals"][k] for k in ("started", "completed", "failed", "cancelled")} == {
        "started": 3, "completed": 1, "failed": 1, "cancelled": 1}
    assert s["totals"]["durableMs"]["count"] == 3 and s["totals"]["appMs"]["count"] == 2
    assert s["totals"]["durableMs"]["p99"] == pytest.approx(7_200_000.0)
    everything = w.series(window="hour")["totals"]  # every function of the workspace
    assert everything["started"] == 4


def test_minutes_not_rolled_yet_are_computed_live_and_rolled_once(
        world: Callable[[], World]) -> None:
    w = world()
    base = w.now
    w.add_run("live", started=base + timedelta(seconds=5), status="completed",
              ended=base + timedelta(seconds=6))
    w.now = base + timedelta(seconds=30)  # the minute is not over: nothing to roll
    assert w.run(w.sampler.roll_once()) == 0
    s = w.series(window="hour")
    assert s["totals"]["started"] == 1 and s["totals"]["completed"] == 1
    assert s["rolledTo"] is not None
    w.now = base + timedelta(minutes=2)
    assert w.run(w.sampler.roll_once()) == 1
    assert w.run(w.sampler.roll_once()) == 0  # again: nothing left
    assert w.series(window="hour")["totals"]["started"] == 1  # rolled, not counted twice
    totals = query(w.url, "SELECT started, completed FROM metrics_totals "
                   "WHERE function_id = 'live'")
    assert totals == [{"started": 1, "completed": 1}]


def test_rollers_side_by_side_roll_each_minute_once(world: Callable[[], World]) -> None:
    first = world()
    base = first.now
    for minute in range(30):
        first.add_run("busy", started=base + timedelta(minutes=minute, seconds=1),
                      status="completed", ended=base + timedelta(minutes=minute, seconds=2))
    others = [World(first.url, first.now) for _ in range(3)]
    try:
        later = base + timedelta(minutes=31)

        async def roll(w: World) -> int:
            return await w.sampler.roll_once(later)

        def in_thread(w: World) -> int:
            return w.run(roll(w))

        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            written = list(pool.map(in_thread, [first, *others]))
        # whoever got the lock rolled; a process that found it taken rolls nothing
        rolled = query(first.url, "SELECT count(*) AS n, sum(started) AS started "
                       "FROM metrics_minutes WHERE function_id = 'busy'")[0]
        assert rolled["n"] == 30 and rolled["started"] == 30
        assert sum(written) == 30
        for w in [first, *others]:
            w.run(w.sampler.roll_once(later))
        assert query(first.url, "SELECT sum(started) AS n FROM metrics_minutes")[0]["n"] == 30
        assert query(first.url, "SELECT started FROM metrics_totals "
                     "WHERE function_id = 'busy'") == [{"started": 30}]
    finally:
        for w in others:
            w.close()


def test_retention_prunes_old_minutes_but_not_the_totals(world: Callable[[], World]) -> None:
    w = world()
    base = w.now
    w.add_run("kept", started=base + timedelta(seconds=1))
    w.now = base + timedelta(minutes=2)
    w.run(w.sampler.sample_once())
    assert query(w.url, "SELECT count(*) AS n FROM metrics_minutes")[0]["n"] == 1
    old = base - timedelta(days=40)
    query(w.url, "INSERT INTO metrics_minutes (workspace_id, function_id, minute, started) "
          "VALUES (%s, 'kept', %s, 5) RETURNING 1", w.workspace, old)
    query(w.url, "INSERT INTO metrics_backlog (workspace_id, function_id, minute, due) "
          "VALUES (%s, 'kept', %s, 5) RETURNING 1", w.workspace, old)
    query(w.url, "INSERT INTO metrics_sampled (minute) VALUES (%s) RETURNING 1", old)
    pruned = w.run(prune_once(w.engine, 30 * 86400))
    assert pruned["metricsRows"] == 2
    assert query(w.url, "SELECT minute FROM metrics_minutes") == [{"minute": base}]
    assert query(w.url, "SELECT count(*) AS n FROM metrics_backlog WHERE minute < %s",
                 base)[0]["n"] == 0
    assert query(w.url, "SELECT count(*) AS n FROM metrics_sampled WHERE minute < %s",
                 base)[0]["n"] == 0
    assert query(w.url, "SELECT started FROM metrics_totals") == [{"started": 1}]


def test_bad_input_is_a_typed_error(world: Callable[[], World]) -> None:
    w = world()
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        (w.workspace, {"window": "month"}, "INVALID_REQUEST", "/window"),
        (w.workspace, {"window": 3}, "INVALID_REQUEST", "/window"),
        (w.workspace, {"function": 5}, "INVALID_REQUEST", "/function"),
        (w.workspace, {"function": ""}, "INVALID_REQUEST", "/function"),
        (w.workspace, {"function": "a\x00b"}, "INVALID_REQUEST", "/function"),
        (w.workspace, {"colour": "red"}, "INVALID_REQUEST", "/colour"),
        ("no-such-workspace", {}, "NOT_FOUND", "/workspaceId"),
        ("nul\x00id", {}, "NOT_FOUND", "/workspaceId"),
    ]
    for workspace, options, code, path in cases:
        with pytest.raises(ServiceError) as caught:
            w.run(w.service.metrics_series(workspace, MetricsQuery.from_json(options)))
        assert (caught.value.code, caught.value.path) == (code, path), options
        assert caught.value.status in (400, 404)
    empty = w.series(window="week", function="nothing-ran")
    assert empty["totals"]["started"] == 0 and empty["totals"]["appMs"]["p50"] is None
    assert all(v is None for v in empty["backlog"]["due"])  # no engine sampled: unknown
