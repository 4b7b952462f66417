"""Idle cost: an engine with a synced app and nothing to do, over a window: statements and
transactions per second against its database, and its CPU %."""

from __future__ import annotations

import time
from typing import Any

from bench.common import Postgres, engine

FUNCTIONS = [{"id": "noop", "trigger": {"event": "bench.go"}, "retries": 0}]


def run(pg: Postgres, seconds: int) -> dict[str, Any]:
    with engine(pg, FUNCTIONS, steps=1) as eng:
        # A little work first, so pools and listeners are in their steady state.
        eng.send("bench.go", [{"i": i, "steps": 1} for i in range(10)])
        eng.wait_until(lambda: eng.count("workspace_id = %s AND status = 'completed'",
                                         (eng.workspace,)) >= 10, 60, "warm-up runs")
        time.sleep(3)
        pg.reset_statements()
        calls0, xacts0 = pg.statement_calls(eng.database), pg.xact_commits(eng.database)
        cpu0, wall0 = eng.engine_cpu(), time.monotonic()
        rss0 = eng.engine_rss()
        time.sleep(seconds)
        wall = time.monotonic() - wall0
        cpu = eng.engine_cpu() - cpu0
        calls1, xacts1 = pg.statement_calls(eng.database), pg.xact_commits(eng.database)
        alive = eng.alive()
        statements = [{"calls": st["calls"], "perSecond": round(st["calls"] / wall, 2),
                       "query": st["query"]} for st in pg.top_statements(eng.database, 12)
                      if "pg_stat" not in st["query"]]
    return {"seconds": round(wall, 1),
            "statementsPerSecond": (round((calls1 - calls0) / wall, 2)
                                    if calls0 is not None and calls1 is not None else None),
            "transactionsPerSecond": round((xacts1 - xacts0) / wall, 2),
            "engineCpuPct": round(100 * cpu / wall, 2), "engineRssMiB": round(rss0, 1),
            "engineAlive": alive, "statements": statements,
            "source": "pg_stat_statements calls + pg_stat_database xact_commit/rollback"}
