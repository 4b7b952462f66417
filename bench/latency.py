"""Latency on an otherwise idle engine: event accepted -> the app receiving the first invoke,
and timer precision (runs sleeping 1 s: the app receiving the post-sleep invoke - `until`)."""

from __future__ import annotations

import time
from typing import Any

from bench.common import Postgres, engine, percentiles, rounded

FUNCTIONS = [{"id": "ping", "trigger": {"event": "bench.ping"}, "retries": 0},
             {"id": "sleeper", "trigger": {"event": "bench.sleep"}, "retries": 0}]


def run(pg: Postgres, events: int, sleepers: int) -> dict[str, Any]:
    with engine(pg, FUNCTIONS) as eng:
        # One event at a time, 20 ms apart, as a user's app would send them.
        for i in range(events):
            eng.signed("/e", {"name": "bench.ping", "data": {"i": i}})
            time.sleep(0.02)
        eng.wait_until(lambda: eng.count("workspace_id = %s AND function_id = 'ping' AND"
                                         " status = 'completed'", (eng.workspace,)) >= events,
                       120, f"{events} ping runs")
        with eng.connect() as conn:
            accepted = dict(conn.execute(
                "SELECT r.id, extract(epoch FROM e.received_at)::float8 FROM runs r"
                " JOIN events e ON e.workspace_id = r.workspace_id AND e.id = r.event_id"
                " WHERE r.workspace_id = %s AND r.function_id = 'ping'",
                (eng.workspace,)).fetchall())
        first = [1000 * (rec["t"] - accepted[rec["run"]]) for rec in eng.app_stats()["records"]
                 if rec["fn"] == "ping" and rec["run"] in accepted]
        p50, p99 = percentiles(first, 0.5, 0.99)

        # Timer precision: every run sleeps 1 s from its first invoke, all sent at once.
        started = time.monotonic()
        eng.send("bench.sleep", [{"i": i, "sleepMs": 1000} for i in range(sleepers)])
        eng.wait_until(lambda: eng.count("workspace_id = %s AND function_id = 'sleeper' AND"
                                         " status = 'completed'", (eng.workspace,)) >= sleepers,
                       300, f"{sleepers} sleeping runs")
        elapsed = time.monotonic() - started
        late = [1000 * (rec["t"] - rec["until"]) for rec in eng.app_stats()["records"]
                if rec["fn"] == "sleeper" and rec.get("until") is not None]
        l50, l99, lmax = percentiles(late, 0.5, 0.99, 1.0)
        early = sum(1 for v in late if v < 0)
    return {"events": events, "eventToFirstInvokeMsP50": rounded(p50, 2),
            "eventToFirstInvokeMsP99": rounded(p99, 2), "eventSamples": len(first),
            "sleepers": sleepers, "sleepSeconds": 1, "sleepLatenessMsP50": rounded(l50),
            "sleepLatenessMsP99": rounded(l99), "sleepLatenessMsMax": rounded(lmax),
            "sleepersWokenEarly": early, "sleepSamples": len(late),
            "sleepPhaseSeconds": round(elapsed, 1)}
