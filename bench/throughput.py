"""Throughput: N runs x M no-op steps through the engine, against pgbench's commit rate.

Everything runs in one invocation on the same machine: an embedded Postgres (fsync on),
pgbench's two-statement write transaction with 1 and 16 clients, then the engine (its own
processes) driving the no-op app (its own process). The engine's figure is memoized steps per
second; its ratio to pgbench's tps is the number to compare across runs. The same runs give
the per-step overhead (step committed -> next invoke sent, from the steps table) and, with
1, 2 and 4 engine processes, the horizontal figure.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from durable_engine.pg import bin_path

from bench.common import CpuMeter, Engine, Postgres, engine, rounded

PGBENCH_SCRIPT = """\\set aid random(1, 100000)
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, :aid, 1, now());
"""

NOOP = [{"id": "noop", "trigger": {"event": "bench.go"}, "retries": 0}]

# Step committed -> the next invoke of that run sent. ended_at is stamped just before the
# commit statement is sent, so the interval includes the commit's round trip and fsync.
OVERHEAD_SQL = """
SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY ms), count(*) FROM (
    SELECT extract(epoch FROM lead(s.started_at) OVER w - s.ended_at) * 1000 AS ms
    FROM steps s JOIN runs r ON r.id = s.run_id
    WHERE r.workspace_id = %s AND r.function_id = %s
      AND r.event -> 'data' -> 'warmUp' IS NULL
    WINDOW w AS (PARTITION BY s.run_id, s.namespace ORDER BY s.position)) x
WHERE ms IS NOT NULL
"""


def pgbench(pg: Postgres, clients: int, seconds: int, workdir: Path) -> float:
    script = workdir / "write.sql"
    script.write_text(PGBENCH_SCRIPT)
    result = subprocess.run(
        [str(bin_path("pgbench")), "-h", pg.host, "-p", str(pg.port), "-U", "postgres",
         "-n", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
         "-f", str(script), "pgbench"], capture_output=True, text=True, check=True)
    match = re.search(r"tps = ([0-9.]+)", result.stdout)
    if match is None:
        raise RuntimeError(f"pgbench printed no tps:\n{result.stdout}\n{result.stderr}")
    return float(match.group(1))


def pgbench_init(pg: Postgres) -> None:
    import psycopg

    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE pgbench")
    subprocess.run([str(bin_path("pgbench")), "-h", pg.host, "-p", str(pg.port), "-U",
                    "postgres", "-i", "-q", "-s", "1", "pgbench"], capture_output=True,
                   check=True)


def step_overhead(eng: Engine, function: str) -> dict[str, Any]:
    with eng.connect() as conn:
        row = conn.execute(OVERHEAD_SQL, (eng.workspace, function)).fetchone()
    p50, p99 = (row[0] or [None, None]) if row else (None, None)
    return {"stepOverheadMsP50": rounded(p50, 2), "stepOverheadMsP99": rounded(p99, 2),
            "stepOverheadSamples": row[1] if row else 0}


def drive(eng: Engine, runs: int, steps: int, function: str = "noop",
          event: str = "bench.go",
          extra: Callable[[int], dict[str, Any]] | dict[str, Any] | None = None,
          timeout: float = 900) -> dict[str, Any]:
    """Send `runs` events and wait until every run ended; steps/s over that time."""
    ended_where = ("workspace_id = %s AND function_id = %s AND status IN ('completed', 'failed')")
    failed_where = "workspace_id = %s AND function_id = %s AND status = 'failed'"
    ended_before = eng.count(ended_where, (eng.workspace, function))
    failed_before = eng.count(failed_where, (eng.workspace, function))
    eng.pg.reset_statements()
    meter = CpuMeter(eng.pg, eng)
    started = time.monotonic()
    eng.send(event, [{"i": i, "steps": steps, **(extra(i) if callable(extra) else extra or {})}
                     for i in range(runs)])
    sent = time.monotonic() - started

    def ended() -> bool:
        return eng.count(ended_where, (eng.workspace, function)) >= ended_before + runs

    eng.wait_until(ended, timeout, f"{runs} runs of {function}", every=0.1)
    elapsed = time.monotonic() - started
    cpu = meter.read()
    failed = eng.count(failed_where, (eng.workspace, function)) - failed_before
    return {"runs": runs, "stepsPerRun": steps, "failed": failed,
            "seconds": round(elapsed, 2), "sendSeconds": round(sent, 2),
            "stepsPerSecond": round(runs * steps / elapsed, 1),
            "invocationsPerSecond": round(runs * (steps + 1) / elapsed, 1),
            "runsPerSecond": round(runs / elapsed, 1), **cpu,
            # CPU each part spends per step: what a step costs, whatever the machine's load
            "engineCpuMsPerStep": round(10 * cpu["engineCpuPct"] / (runs * steps / elapsed), 3)
            if steps else None,
            "postgresCpuMsPerStep": round(10 * cpu["postgresCpuPct"] / (runs * steps / elapsed),
                                          3) if steps else None,
            **step_overhead(eng, function),
            "topStatements": eng.pg.top_statements(eng.database, 6)}


def warm_up(eng: Engine, steps: int, runs: int = 30) -> None:
    """A first batch that is not measured: connection pools, caches and plans settle."""
    eng.send("bench.go", [{"i": i, "steps": steps, "warmUp": True} for i in range(runs)])
    eng.wait_until(lambda: eng.count("workspace_id = %s AND function_id = 'noop' AND status"
                                     " IN ('completed', 'failed')", (eng.workspace,)) >= runs,
                   300, "warm-up runs")


def solo(pg: Postgres, runs: int, steps: int) -> dict[str, Any]:
    """One run in flight (one slot): the step overhead of the engine itself, with no other
    run's work queued ahead of it on the event loop or in Postgres."""
    with engine(pg, NOOP, processes=1, slots=1, steps=steps) as eng:
        warm_up(eng, steps, runs=3)
        return {"processes": 1, "workerSlots": 1, **drive(eng, runs, steps)}


def run(pg: Postgres, runs: int, steps: int, processes: list[int], slots: int
        ) -> list[dict[str, Any]]:
    results = []
    for count in processes:
        with engine(pg, NOOP, processes=count, slots=slots, steps=steps) as eng:
            warm_up(eng, steps)
            result = drive(eng, runs, steps)
            results.append({"processes": count, "workerSlots": slots, **result})
    return results
