"""Scale in state: the engine's RSS with many sleeping (and waiting) runs, and the rate at
which sleeping runs fire when they all come due at once, against a small batch's rate.

Every run goes through the engine (event -> invoke -> `sleep` op); the sleepers of a batch
share one absolute `until`, so the firing rate is runs / (last post-sleep invoke - until)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import Engine, Postgres, engine, percentiles, rounded

FUNCTIONS = [{"id": "sleeper", "trigger": {"event": "bench.sleep"}, "retries": 0},
             {"id": "waiter", "trigger": {"event": "bench.wait"}, "retries": 0}]


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class RssSampler(threading.Thread):
    def __init__(self, eng: Engine) -> None:
        super().__init__(daemon=True)
        self.eng, self.peak, self.stopped = eng, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            self.peak = max(self.peak, self.eng.engine_rss())


def parked_count(eng: Engine) -> int:
    with eng.connect() as conn:
        row = conn.execute("SELECT count(*) FROM steps s JOIN runs r ON r.id = s.run_id"
                           " WHERE r.workspace_id = %s AND r.function_id = 'sleeper'"
                           " AND s.step_id = 'nap'", (eng.workspace,)).fetchone()
    return int(row[0]) if row else 0


def batch(eng: Engine, sleepers: int, rate_guess: float, tag: str) -> dict[str, Any]:
    """`sleepers` runs that all sleep until one instant; how fast they park and fire."""
    before = eng.count("workspace_id = %s AND function_id = 'sleeper'", (eng.workspace,))
    fired_before = len([r for r in eng.app_stats()["records"] if r["fn"] == "sleeper"])
    started = time.time()
    began = time.monotonic()
    until = started + sleepers / rate_guess + 15
    eng.send("bench.sleep", [{"i": i, "until": iso(until), "tag": tag}
                             for i in range(sleepers)])
    # Parked = its sleep memo is committed (some may already have fired if parking is slow).
    eng.wait_until(lambda: parked_count(eng) >= before + sleepers, 3600,
                   f"{sleepers} runs parked", every=0.5)
    parked = time.monotonic() - began  # events sent, runs created, invoked and parked
    rss_parked = eng.engine_rss()
    overlapped = time.time() > until
    idle = idle_window(eng, min(20.0, until - time.time() - 3))
    eng.wait_until(lambda: eng.count("workspace_id = %s AND function_id = 'sleeper' AND status"
                                     " = 'completed'", (eng.workspace,)) >= before + sleepers,
                   3600, f"{sleepers} sleepers fired", every=0.5)
    fired = [r["t"] for r in eng.app_stats()["records"] if r["fn"] == "sleeper"][fired_before:]
    span = max(fired) - until if fired else None
    return {"sleepers": sleepers, "parkSeconds": round(parked, 1),
            "parkRunsPerSecond": round(sleepers / parked, 1),
            "engineRssParkedMiB": round(rss_parked, 1),
            "firstFireLateMs": rounded(1000 * (min(fired) - until)) if fired else None,
            "fireSeconds": rounded(span, 2),
            "firingRunsPerSecond": rounded(len(fired) / span if span else None),
            "parkingOverlappedFiring": overlapped,
            "firingLatenessMsP99": rounded(percentiles([1000 * (t - until) for t in fired],
                                                       0.99)[0]),
            **idle}


def idle_window(eng: Engine, seconds: float) -> dict[str, Any]:
    """Statements and transactions per second while every run sleeps or waits."""
    if seconds < 2:
        return {"idleWindowS": None, "idleStatementsPerSecond": None,
                "idleTransactionsPerSecond": None}
    calls0, xacts0 = eng.pg.statement_calls(eng.database), eng.pg.xact_commits(eng.database)
    began = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - began
    calls1, xacts1 = eng.pg.statement_calls(eng.database), eng.pg.xact_commits(eng.database)
    return {"idleWindowS": round(wall, 1),
            "idleStatementsPerSecond": (round((calls1 - calls0) / wall, 2)
                                        if calls0 is not None and calls1 is not None else None),
            "idleTransactionsPerSecond": round((xacts1 - xacts0) / wall, 2)}


def run(pg: Postgres, sleepers: int, waiters: int) -> dict[str, Any]:
    with engine(pg, FUNCTIONS) as eng:
        time.sleep(2)
        rss_start = eng.engine_rss()
        sampler = RssSampler(eng)
        sampler.start()
        small = batch(eng, max(sleepers // 10, 200), 100, "small")
        rate = small["parkRunsPerSecond"] * 0.4
        eng.send("bench.wait", [{"i": i, "waitS": 7200} for i in range(waiters)])
        eng.wait_until(lambda: eng.count("workspace_id = %s AND status = 'waiting'",
                                         (eng.workspace,)) >= waiters, 3600,
                       f"{waiters} runs waiting", every=0.5)
        big = batch(eng, sleepers, rate, "big")
        waiting = eng.count("workspace_id = %s AND status = 'waiting'", (eng.workspace,))
        rss_end = eng.engine_rss()
        sampler.stopped.set()
        sampler.join()
    ratio = (big["firingRunsPerSecond"] / small["firingRunsPerSecond"]
             if big["firingRunsPerSecond"] and small["firingRunsPerSecond"] else None)
    return {"sleepers": sleepers, "waiters": waiters, "engineRssStartMiB": round(rss_start, 1),
            "engineRssWithStateMiB": big["engineRssParkedMiB"],
            "engineRssPeakMiB": round(sampler.peak, 1), "engineRssEndMiB": round(rss_end, 1),
            "waitingDuringFiring": waiting, "small": small, "big": big,
            "firingRateBigOverSmall": rounded(ratio, 2)}
