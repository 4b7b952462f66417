"""Latency on an otherwise idle engine: event accepted -> the app receiving the first invoke,
and timer precision (runs sleeping 1 s: the app receiving the post-sleep invoke - `until`)."""

from __future__ import annotations

import time
from typing import Any

from bench.common import Engine, Postgres, engine, percentiles, rounded

FUNCTIONS = [{"id": "ping", "trigger": {"event": "bench.ping"}, "retries": 0},
             {"id": "sleeper", "trigger": {"event": "bench.sleep"}, "retries": 0},
             {"id": "sleeper_spread", "trigger": {"event": "bench.sleep.spread"}, "retries": 0}]


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
            # the engine's own stamp just before it POSTs: splits claim from HTTP
            sent = [row[0] for row in conn.execute(
                "SELECT extract(epoch FROM min(d.at) - e.received_at)::float8 * 1000"
                " FROM runs r JOIN events e ON e.workspace_id = r.workspace_id"
                " AND e.id = r.event_id JOIN deliveries d ON d.run_id = r.id"
                " WHERE r.workspace_id = %s AND r.function_id = 'ping' GROUP BY r.id,"
                " e.received_at", (eng.workspace,)).fetchall()]
        first = [1000 * (rec["t"] - accepted[rec["run"]]) for rec in eng.app_stats()["records"]
                 if rec["fn"] == "ping" and rec["run"] in accepted]
        p50, p99 = percentiles(first, 0.5, 0.99)
        s50, s99 = percentiles(sent, 0.5, 0.99)

        # Timer precision, twice: all runs sent at once (a burst the engine must also work
        # through), then the same number spread at 100 runs/s (timers alone).
        burst = sleep_phase(eng, sleepers, "sleeper", "bench.sleep", chunk=100, pause=0.0)
        spread = sleep_phase(eng, sleepers, "sleeper_spread", "bench.sleep.spread", chunk=10,
                             pause=0.1)
    return {"events": events, "eventToFirstInvokeMsP50": rounded(p50, 2),
            "eventToFirstInvokeMsP99": rounded(p99, 2), "eventSamples": len(first),
            "eventToInvokeSentMsP50": rounded(s50, 2), "eventToInvokeSentMsP99": rounded(s99, 2),
            "sleepers": sleepers, "sleepSeconds": 1, **burst,
            "spread": spread}


def sleep_phase(eng: Engine, sleepers: int, function: str, event: str, chunk: int,
                pause: float) -> dict[str, Any]:
    started = time.monotonic()
    for offset in range(0, sleepers, chunk):
        eng.send(event, [{"i": i, "sleepMs": 1000}
                         for i in range(offset, min(sleepers, offset + chunk))])
        time.sleep(pause)
    eng.wait_until(lambda: eng.count("workspace_id = %s AND function_id = %s AND"
                                     " status = 'completed'", (eng.workspace, function))
                   >= sleepers, 300, f"{sleepers} runs of {function}")
    elapsed = time.monotonic() - started
    late = [1000 * (rec["t"] - rec["until"]) for rec in eng.app_stats()["records"]
            if rec["fn"] == function and rec.get("until") is not None]
    l50, l99, lmax = percentiles(late, 0.5, 0.99, 1.0)
    return {"sleepLatenessMsP50": rounded(l50), "sleepLatenessMsP99": rounded(l99),
            "sleepLatenessMsMax": rounded(lmax), "sleepersWokenEarly": sum(v < 0 for v in late),
            "sleepSamples": len(late), "sleepPhaseSeconds": round(elapsed, 1)}
