"""A backlog under per-key concurrency: how fast it drains against the rate the app allows,
how fair the drain is across keys, and whether runs behind a long blocked key still start.

- drain: `keys` keys × `per_key` runs of a function with concurrency 1 per key, queued while no
  worker claims, then one worker starts; timed from the first run's start to the last's end
  (the worker's boot is reported apart). The app holds each invoke `ms` ms, so the app allows
  min(keys, slots) / ms runs/s. Fairness: of the runs each key ended in the first half of the
  drain, the smallest count ÷ the largest (1.0: every key progressed alike).
- starvation: `hot` runs of one key (concurrency 1, each held 1 s) are queued first, then
  `others` runs of other keys; the others must all end within `limit_s` although more than
  5,000 rows of the blocked key sit before them (more than a page of candidates)."""

from __future__ import annotations

import time
from typing import Any

from bench.common import Postgres, engine, rounded

FUNCTIONS = [{"id": "slow_keyed", "trigger": {"event": "bench.keyed"}, "retries": 0,
              "concurrency": {"limit": 1, "key": "k"}}]


def ended_by_key(eng: Any, since: float, until: float) -> dict[str, int]:
    with eng.connect() as conn:
        rows = conn.execute(
            "SELECT e.data->>'k', count(*) FILTER (WHERE extract(epoch FROM r.ended_at)"
            " BETWEEN %s AND %s) FROM runs r JOIN events e ON e.workspace_id = r.workspace_id"
            " AND e.id = r.event_id WHERE r.workspace_id = %s GROUP BY 1",
            (since, until, eng.workspace)).fetchall()
    return {k: int(n) for k, n in rows}


def drain(pg: Postgres, keys: int, per_key: int, ms: int, slots: int) -> dict[str, Any]:
    runs = keys * per_key
    with engine(pg, FUNCTIONS, steps=0, slots=0) as eng:
        eng.send("bench.keyed", [{"i": i, "k": f"key-{i % keys}", "ms": ms}
                                 for i in range(runs)])
        started_wall, started = time.time(), time.monotonic()
        eng.add_worker(slots)
        eng.wait_until(lambda: eng.count("workspace_id = %s AND status IN ('completed',"
                                         " 'failed')", (eng.workspace,)) >= runs,
                       1800, f"{runs} keyed runs", every=0.1)
        # The drain is timed from its first run's start: the worker process's boot (an
        # interpreter, imports, connections) is reported apart, not counted as draining.
        with eng.connect() as conn:
            row = conn.execute("SELECT extract(epoch FROM min(started_at)),"
                               " extract(epoch FROM max(ended_at)) FROM runs"
                               " WHERE workspace_id = %s", (eng.workspace,)).fetchone()
        assert row is not None
        first, last = float(row[0]), float(row[1])
        boot = first - started_wall
        elapsed = last - first
        half = ended_by_key(eng, first, first + elapsed / 2)
        max_in_flight = eng.app_stats()["maxInFlight"].get("slow_keyed", 0)
    counts = [half.get(f"key-{k}", 0) for k in range(keys)]
    allowed = min(keys, slots) / (ms / 1000)
    rate = runs / elapsed
    return {"keys": keys, "runsPerKey": per_key, "holdMs": ms, "slots": slots,
            "seconds": round(elapsed, 2), "workerBootSeconds": round(boot, 2),
            "secondsWithBoot": round(time.monotonic() - started, 1),
            "runsPerSecond": round(rate, 1),
            "appAllowsRunsPerSecond": round(allowed, 1),
            "shareOfAllowed": round(rate / allowed, 3),
            "endedFirstHalfMinPerKey": min(counts), "endedFirstHalfMaxPerKey": max(counts),
            "fairness": round(min(counts) / max(counts), 2) if max(counts) else None,
            "maxInFlight": max_in_flight}


def starvation(pg: Postgres, hot: int, others: int, limit_s: float) -> dict[str, Any]:
    with engine(pg, FUNCTIONS, steps=0, slots=0) as eng:
        eng.send("bench.keyed", [{"i": i, "k": "hot", "ms": 1000} for i in range(hot)])
        eng.send("bench.keyed", [{"i": i, "k": f"other-{i}", "ms": 10} for i in range(others)])
        eng.add_worker(16)

        def others_ended() -> bool:
            with eng.connect() as conn:
                row = conn.execute(
                    "SELECT count(*) FROM runs r JOIN events e ON e.workspace_id ="
                    " r.workspace_id AND e.id = r.event_id WHERE r.workspace_id = %s AND"
                    " e.data->>'k' <> 'hot' AND r.status IN ('completed', 'failed')",
                    (eng.workspace,)).fetchone()
            return bool(row and row[0] >= others)

        try:
            took: float | None = eng.wait_until(others_ended, limit_s, "runs of other keys",
                                                every=0.2)
        except RuntimeError:
            took = None
    return {"hotRuns": hot, "otherRuns": others, "limitS": limit_s,
            "othersEndedAfterS": rounded(took, 2), "starved": took is None}
