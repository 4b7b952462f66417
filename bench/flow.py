"""Flow control: throughput with a concurrency rule (and a throttle, once the engine honours
it) against the same runs without, and the claim's cost with many runs queued across many
keys. Each rule is first probed: a rule the engine does not enforce yet gives
"not available: <reason>", never a figure."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from bench import throughput
from bench.common import Postgres, engine

PROBES = [
    {"id": "slow_conc", "trigger": {"event": "bench.conc"}, "retries": 0,
     "concurrency": {"limit": 1}},
    {"id": "slow_thr", "trigger": {"event": "bench.thr"}, "retries": 0,
     "throttle": {"limit": 2, "periodMs": 4000}},
]
# Statements of the claim path (by what they contain), for the claim's cost.
CLAIM_MARKERS = ("SKIP LOCKED", "pg_advisory_xact_lock", "unnest(flow_keys)")


def probe(pg: Postgres) -> dict[str, Any]:
    """Is each rule enforced? Concurrency 1: never two in flight. Throttle 2 per 4 s: of 6
    runs sent at once, no more than 2 start within the first 2 s."""
    with engine(pg, PROBES) as eng:
        eng.send("bench.conc", [{"i": i, "ms": 300} for i in range(4)])
        sent = time.time()
        eng.send("bench.thr", [{"i": i, "ms": 10} for i in range(6)])
        eng.wait_until(lambda: eng.count("workspace_id = %s AND function_id = 'slow_conc'"
                                         " AND status = 'completed'", (eng.workspace,)) >= 4,
                       60, "concurrency probe")
        time.sleep(max(0.0, sent + 2 - time.time()))
        stats = eng.app_stats()
    started_early = sum(1 for r in stats["records"]
                        if r["fn"] == "slow_thr" and r["t"] - sent < 2)
    conc_max = stats["maxInFlight"].get("slow_conc", 0)
    return {
        "concurrency": {"honoured": conc_max == 1, "maxInFlightWithLimit1": conc_max,
                        "reason": None if conc_max == 1 else
                        f"limit 1 but {conc_max} invocations were in flight at once"},
        "throttle": {"honoured": started_early <= 2, "startedWithin2s": started_early,
                     "reason": None if started_early <= 2 else
                     f"throttle 2 per 4 s, yet {started_early} of 6 runs started within 2 s"
                     " (the engine stores throttle but does not enforce it yet)"},
    }


def claim_statements(pg: Postgres, database: str) -> list[dict[str, Any]]:
    if not pg.statements:
        return []
    with psycopg.connect(pg.url) as conn:
        rows = conn.execute(
            "SELECT calls, mean_exec_time, max_exec_time, total_exec_time, query"
            " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = %s ORDER BY total_exec_time DESC", (database,)).fetchall()
    return [{"calls": r[0], "meanMs": round(r[1], 3), "maxMs": round(r[2], 2),
             "totalMs": round(r[3], 1), "query": " ".join(r[4].split())[:90],
             "claim": "gen_random_uuid" in r[4]}
            for r in rows if any(m in r[4] for m in CLAIM_MARKERS)]


def drain(pg: Postgres, functions: list[dict[str, Any]], function: str, event: str,
          runs: int, keys: int) -> dict[str, Any]:
    """Queue `runs` one-invoke runs across `keys` keys while no worker claims (the API
    process has 0 slots), then start one worker with 16 slots: the rate the queue drains at
    and the claim statements' database time per claim round while it is deep."""
    with engine(pg, functions, steps=0, slots=0) as eng:
        t0 = time.monotonic()
        eng.send(event, [{"i": i, "k": f"key-{i % keys}", "steps": 0} for i in range(runs)])
        sent = time.monotonic() - t0
        with eng.connect() as conn:
            row = conn.execute("SELECT count(*) FROM queue WHERE lease_token IS NULL").fetchone()
        queued = int(row[0]) if row else 0
        eng.pg.reset_statements()
        started = time.monotonic()
        eng.add_worker(16)
        eng.wait_until(lambda: eng.count("workspace_id = %s AND function_id = %s AND status IN"
                                         " ('completed', 'failed')", (eng.workspace, function))
                       >= runs, 1800, f"{runs} runs of {function}", every=0.25)
        elapsed = time.monotonic() - started
        statements = claim_statements(eng.pg, eng.database)
    rounds = sum(s["calls"] for s in statements if s["claim"])
    total = sum(s["totalMs"] for s in statements)
    return {"runs": runs, "keys": keys, "sendSeconds": round(sent, 1), "queuedAtStart": queued,
            "seconds": round(elapsed, 1), "runsPerSecond": round(runs / elapsed, 1),
            "claimRounds": rounds,
            # database time of one claim round: every claim-path statement, per claim
            "claimRoundMeanMs": round(total / rounds, 3) if rounds else None,
            "claimStatementMaxMs": max((s["maxMs"] for s in statements), default=None),
            "claimStatements": statements}


def run(pg: Postgres, runs: int, steps: int, queued: int, keys: int) -> dict[str, Any]:
    probes = probe(pg)
    conc, thr = probes["concurrency"], probes["throttle"]
    result: dict[str, Any] = {"probes": probes}
    rules: dict[str, Any] = {}
    if conc["honoured"]:
        rules["concurrency"] = {"limit": 4, "key": "k"}  # 100 keys: a rule, not a bottleneck
    if thr["honoured"]:
        rules["throttle"] = {"limit": 100000, "periodMs": 1000, "key": "k"}
    functions = [{"id": "noop", "trigger": {"event": "bench.go"}, "retries": 0},
                 {"id": "noop_flow", "trigger": {"event": "bench.flow"}, "retries": 0,
                  **rules},
                 {"id": "noop_keyed", "trigger": {"event": "bench.keyed"}, "retries": 0,
                  "concurrency": {"limit": 1, "key": "k"}},
                 {"id": "noop_plain", "trigger": {"event": "bench.plain"}, "retries": 0}]
    if not rules:
        result["withRulesOverWithout"] = "not available: " + "; ".join(
            p["reason"] for p in (conc, thr) if p["reason"])
        return result
    with engine(pg, functions, steps=steps) as eng:
        throughput.warm_up(eng, steps)
        without = throughput.drive(eng, runs, steps)
        with_rules = throughput.drive(eng, runs, steps, function="noop_flow",
                                      event="bench.flow",
                                      extra=lambda i: {"k": f"key-{i % 100}"})
    for figures in (without, with_rules):
        figures.pop("topStatements", None)
    result.update({
        "rules": rules, "without": without, "withRules": with_rules,
        "withRulesOverWithout": round(with_rules["stepsPerSecond"]
                                      / without["stepsPerSecond"], 3)})
    if not thr["honoured"]:
        result["throttle"] = f"not available: {thr['reason']}"
    if conc["honoured"]:
        result["claimPlain"] = drain(pg, functions, "noop_plain", "bench.plain", queued, keys)
        result["claimKeyed"] = drain(pg, functions, "noop_keyed", "bench.keyed", queued, keys)
    else:
        result["claimKeyed"] = f"not available: {conc['reason']}"
    return result
