"""The metrics sampler's cost (decision 0040) with many runs in the database: ms per sample
(backlog sample + totals read) and statements per second at the default interval, ms to roll
an hour of minutes and one minute, the read model's ms per window, the /metrics render, and
what the BRIN indexes the roller reads cost each step insert (with vs without them).

The runs are written straight into the database (as the engine writes them), so the figures
are the sampler's alone: `runs` runs over the last hour, 5 steps each for the ended ones, and
a third of them live (due, sleeping, waiting) for the backlog sample.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from durable_engine.db import open_pool
from durable_engine.engine import Config, Engine
from durable_engine.metrics import Sampler, floor_minute
from durable_engine.prometheus import registry_for, render
from durable_engine.service import Service
from durable_engine.service.metrics import MetricsQuery

from bench.common import Postgres

STEPS = 5
FUNCTIONS = 20


def _fill(url: str, runs: int, start: datetime) -> None:
    """`runs` runs over the hour after `start`: two thirds ended with STEPS steps each, a
    third live (due, sleeping or waiting) with a queue row."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO workspaces (id, name, environment, app_url, keys) VALUES "
                     "('bench', 'bench', 'test', 'http://127.0.0.1:1/x', '{k}')")
        conn.execute("""
            INSERT INTO runs (id, workspace_id, function_id, event, status, created_at,
                              started_at, ended_at)
            SELECT 'r' || i, 'bench', 'fn' || (i %% %(functions)s), '{}',
                   CASE WHEN i %% 3 = 0
                        THEN (ARRAY['queued', 'sleeping', 'waiting'])[1 + i %% 9 / 3]
                        WHEN i %% 7 = 0 THEN 'failed' ELSE 'completed' END,
                   t, t, CASE WHEN i %% 3 <> 0 THEN t + interval '2 seconds' END
            FROM generate_series(1, %(runs)s) AS i,
                 LATERAL (SELECT %(start)s::timestamptz
                                 + make_interval(secs => i * 3600.0 / %(runs)s) AS t) x
            """, {"runs": runs, "start": start, "functions": FUNCTIONS})
        conn.execute("""
            INSERT INTO steps (run_id, namespace, step_id, type, position, queued_at, started_at,
                               app_ms, ended_at)
            SELECT r.id, 'main', 's' || k, 'run', k, r.started_at + make_interval(secs => k * 0.2),
                   r.started_at + make_interval(secs => k * 0.2 + 0.003), 1 + (k * 37 %% 200),
                   r.started_at + make_interval(secs => k * 0.2 + 0.01)
            FROM runs r, generate_series(0, %(steps)s - 1) AS k
            WHERE r.ended_at IS NOT NULL
            """, {"steps": STEPS})
        conn.execute("""
            INSERT INTO queue (run_id, workspace_id, due_at, kind)
            SELECT id, workspace_id,
                   CASE status WHEN 'queued' THEN now() ELSE now() + interval '1 hour' END,
                   CASE status WHEN 'waiting' THEN 'wait_timeout' ELSE 'invoke' END
            FROM runs WHERE status IN ('queued', 'sleeping', 'waiting')
            """)
        conn.execute("UPDATE metrics_state SET rolled_to = %s", (start,))
        conn.execute("VACUUM ANALYZE runs")
        conn.execute("VACUUM ANALYZE steps")
        conn.execute("VACUUM ANALYZE queue")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def _measure(url: str, samples: int) -> dict[str, Any]:
    pool = await open_pool(url, 4)
    try:
        engine = Engine(Config(database_url=url), pool)
        sampler = Sampler(engine)
        t0 = time.perf_counter()
        rolled = await sampler.roll_once()  # the hour of minutes not rolled yet
        roll_hour_ms = (time.perf_counter() - t0) * 1000
        per_sample: list[float] = []
        queries: list[int] = []
        for _ in range(samples):
            snap = await sampler.sample_once()
            per_sample.append(snap.duration_ms)
            queries.append(snap.queries)
        # one more minute to roll: move the watermark back one minute and roll it again
        async with pool.connection() as conn:
            row = await (await conn.execute("SELECT rolled_to FROM metrics_state")).fetchone()
            minute = row["rolled_to"] - timedelta(minutes=1)
            await conn.execute("DELETE FROM metrics_minutes WHERE minute = %s", (minute,))
            await conn.execute("UPDATE metrics_state SET rolled_to = %s", (minute,))
        t0 = time.perf_counter()
        await sampler.roll_once()
        roll_minute_ms = (time.perf_counter() - t0) * 1000
        service = Service(engine)
        series_ms = {}
        for window in ("hour", "day", "week"):
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                await service.metrics_series("bench", MetricsQuery(window))
                times.append((time.perf_counter() - t0) * 1000)
            series_ms[window] = round(statistics.median(times), 2)
        registry = registry_for(sampler)
        t0 = time.perf_counter()
        for _ in range(20):
            page = render(registry)
        render_ms = (time.perf_counter() - t0) * 1000 / 20
        backlog = sum(r["due"] + r["sleeping"] + r["waiting"] for r in sampler.last.backlog) \
            if sampler.last else 0
        per = statistics.median(queries)
        return {"rollupRowsFirstHour": rolled, "rollHourMs": round(roll_hour_ms, 1),
                "rollMinuteMs": round(roll_minute_ms, 1),
                "sampleMsP50": _pct(per_sample, 0.5), "sampleMsP99": _pct(per_sample, 0.99),
                "statementsPerSample": per,
                "statementsPerSecondAtDefaultInterval": round(per / sampler.sample_s, 2),
                "dbMsPerSecondAtDefaultInterval": round(
                    statistics.median(per_sample) / sampler.sample_s, 2),
                "seriesMs": series_ms, "metricsRenderMs": round(render_ms, 2),
                "metricsPageBytes": len(page), "liveRunsSampled": backlog}
    finally:
        await pool.close()


def _insert_cost(url: str, rows: int) -> dict[str, float]:
    """What the roller's BRIN indexes cost the write path, with each and without it: `rows`
    step inserts (steps.ended_at), and `rows` runs inserted then started and ended as the
    engine does (runs.started_at), in one transaction each (no commit wait, so the index's
    share shows); the best of three rounds each, alternating."""
    def steps(conn: psycopg.Connection[Any], label: str) -> None:
        conn.execute("INSERT INTO runs (id, workspace_id, function_id, event, status, "
                     "created_at) VALUES (%s, 'bench', 'ins', '{}', 'running', now())", (label,))
        for k in range(rows):
            conn.execute("INSERT INTO steps (run_id, namespace, step_id, type, position, "
                         "queued_at, started_at, app_ms, ended_at) VALUES (%s, 'main', %s, "
                         "'run', %s, now(), now(), 1, clock_timestamp())", (label, f"s{k}", k))

    def runs(conn: psycopg.Connection[Any], label: str) -> None:
        for k in range(rows):
            run_id = f"{label}-{k}"
            conn.execute("INSERT INTO runs (id, workspace_id, function_id, event, status, "
                         "created_at) VALUES (%s, 'bench', 'ins', '{}', 'queued', now())",
                         (run_id,))
            conn.execute("UPDATE runs SET status = 'running', started_at = clock_timestamp() "
                         "WHERE id = %s", (run_id,))
            conn.execute("UPDATE runs SET status = 'completed', ended_at = clock_timestamp() "
                         "WHERE id = %s", (run_id,))

    indexes = {"steps": "steps_ended_brin ON steps USING brin (ended_at)",
               "runs": "runs_started_brin ON runs USING brin (started_at)"}
    figures: dict[str, float] = {}
    for table, write in (("steps", steps), ("runs", runs)):
        name = indexes[table].split()[0]
        timings: dict[bool, list[float]] = {True: [], False: []}
        for i in range(3):
            for brin in (False, True):
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"DROP INDEX IF EXISTS {name}")
                    if brin:
                        conn.execute(f"CREATE INDEX {indexes[table]} WITH (autosummarize = on)")
                with psycopg.connect(url) as conn:
                    t0 = time.perf_counter()
                    write(conn, f"{table}-{'with' if brin else 'without'}-{i}")
                    timings[brin].append((time.perf_counter() - t0) * 1e6 / rows)
        label = "stepInsert" if table == "steps" else "runLifecycle"
        figures[f"{label}UsWithBrin"] = round(min(timings[True]), 1)
        figures[f"{label}UsWithoutBrin"] = round(min(timings[False]), 1)
    return figures


def run(pg: Postgres, runs: int) -> dict[str, Any]:
    url = pg.database_url(pg.new_database())
    start = floor_minute(datetime.now(UTC)) - timedelta(minutes=60)
    t0 = time.perf_counter()
    _fill(url, runs, start)
    fill_s = time.perf_counter() - t0
    result = asyncio.run(_measure(url, 20))
    result.update(_insert_cost(url, 3000))
    result.update({"runs": runs, "steps": runs * 2 // 3 * STEPS, "functions": FUNCTIONS,
                   "fillSeconds": round(fill_s, 1)})
    return result
