"""`python -m bench [--full] [--only a,b]`: every benchmark of quality.md, figures printed as
tables and written to bench/results/*.json. The default is a quick mode (a few minutes on two
cores); `--full` uses the sizes quality.md names."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import (
    backlog,
    dashboard,
    flow,
    idle,
    ingest,
    latency,
    metrics,
    peers,
    profile,
    replay,
    scale,
    throughput,
)
from bench.common import Postgres, free_port, machine, table, write_result

SECTIONS = ("throughput", "peers", "recovery", "backlog", "latency", "idle", "scale", "flow",
            "profile", "replay", "metrics", "dashboard", "ingest")
QUICK = {"pgbenchSeconds": 5, "runs": 300, "steps": 10, "processes": [1, 2, 4], "slots": 16,
         "events": 100, "sleepers": 1000, "idleSeconds": 30, "stateSleepers": 5000,
         "stateWaiters": 500, "queued": 2000, "keys": 200, "peerRuns": 300,
         "recoverySamples": 1, "perKey": 10, "holdMs": 50, "hotRuns": 5200, "otherRuns": 20,
         "metricsRuns": 10_000, "dashboardSeconds": 20, "sseClients": 50, "dashboardRate": 20,
         "ingestEvents": 2000, "watchRuns": 20}
FULL = {**QUICK, "pgbenchSeconds": 10, "runs": 1000, "idleSeconds": 60,
        "stateSleepers": 100_000, "stateWaiters": 10_000, "queued": 10_000, "keys": 1000,
        "peerRuns": 1000, "recoverySamples": 3, "perKey": 50, "hotRuns": 6000}


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}" if abs(value) < 100 else f"{value:,.0f}{unit}"
    return f"{value}{unit}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--full", action="store_true", help="the sizes quality.md names")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections ({', '.join(SECTIONS)})")
    parser.add_argument("--size", action="append", default=[], metavar="NAME=N",
                        help=f"override one size ({', '.join(QUICK)})")
    parser.add_argument("--via-pgbouncer", action="store_true",
                        help="engine processes reach Postgres through PgBouncer (transaction"
                        " pooling; apt-get install pgbouncer)")
    args = parser.parse_args(argv)
    sizes = dict(FULL if args.full else QUICK)
    for item in args.size:
        name, _, value = item.partition("=")
        if name not in sizes:
            parser.error(f"unknown size {name}")
        sizes[name] = [int(v) for v in value.split(",")] if name == "processes" else int(value)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    # SIGTERM (nox or a CI timeout) unwinds through the finally blocks: no orphan engines.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="durable-bench-"))
    pg = Postgres(workdir)
    report: dict[str, Any] = {"mode": "full" if args.full else "quick", "sizes": sizes,
                              "startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    began = time.monotonic()
    pg.start()
    bouncer = None
    try:
        if args.via_pgbouncer:
            from bench.pgbouncer import PgBouncer  # noqa: PLC0415

            bouncer = PgBouncer(pg.host, pg.port, free_port())
            pg.engine_url_for = bouncer.url
            # engines started by the fault suite's measures reach LISTEN and migrations direct
            os.environ["DURABLE_DIRECT_URL"] = pg.database_url("postgres")
            report["pgbouncer"] = {"port": bouncer.port, "poolMode": "transaction"}
        report["machine"] = machine(pg.url)
        m = report["machine"]
        print(f"machine: {m['cores']} cores ({m['cpu']}), {m['ramMiB']:,} MiB RAM, "
              f"Postgres {m['postgres']} (fsync={m['fsync']}, synchronous_commit="
              f"{m['synchronousCommit']}){' via PgBouncer' if bouncer else ''}, "
              f"Python {m['python']}, load {m['loadAverage1m']}, "
              f"pg_stat_statements {'on' if pg.statements else 'unavailable'}; "
              f"mode {report['mode']}\n", flush=True)
        for section in only:
            t0 = time.monotonic()
            print(f"== {section}", flush=True)
            try:
                report[section] = run_section(section, pg, sizes, workdir, report)
            except Exception as error:  # noqa: BLE001 - one broken benchmark must not hide the rest
                traceback.print_exc()
                report[section] = {"error": f"{type(error).__name__}: {error}"}
                print(f"{section}: failed: {error}")
            report[section]["sectionSeconds"] = round(time.monotonic() - t0, 1)
            report[section]["mode"] = report["mode"]
            report[section]["machine"] = report["machine"]
            write_result(section, report[section])
            print(flush=True)
    finally:
        if bouncer is not None:
            report["pgbouncer"]["logged"] = bouncer.warnings()
            print(f"pgbouncer logged: {report['pgbouncer']['logged'] or 'no warnings'}")
            bouncer.stop()
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report["totalSeconds"] = round(time.monotonic() - began, 1)
    print_summary(report)
    out = write_result("summary", {k: v for k, v in report.items()})
    print(f"\nwritten to bench/results/ ({', '.join(only)}, summary) in "
          f"{report['totalSeconds']:.0f} s; last: {out.name}")
    return 0


def run_section(section: str, pg: Postgres, sizes: dict[str, Any], workdir: Path,
                report: dict[str, Any]) -> dict[str, Any]:
    if section == "throughput":
        throughput.pgbench_init(pg)
        tps1 = throughput.pgbench(pg, 1, sizes["pgbenchSeconds"], workdir)
        tps16 = throughput.pgbench(pg, 16, sizes["pgbenchSeconds"], workdir)
        print(f"pgbench two-statement write (UPDATE + INSERT), {sizes['pgbenchSeconds']} s: "
              f"{tps1:,.0f} tps with 1 client, {tps16:,.0f} tps with 16", flush=True)
        engines = throughput.run(pg, sizes["runs"], sizes["steps"], sizes["processes"],
                                 sizes["slots"])
        for r in engines:
            r["fractionOfPgbench1"] = round(r["stepsPerSecond"] / tps1, 3)
            r["fractionOfPgbench16"] = round(r["stepsPerSecond"] / tps16, 3)
        print(table(["procs", "slots", "runs×steps", "s", "steps/s", "÷pgb1", "÷pgb16",
                     "overhead p50 ms", "p99 ms", "engine CPU%", "app CPU%", "pg CPU%",
                     "engine CPU ms/step", "pg CPU ms/step"],
                    [[r["processes"], r["workerSlots"], f"{r['runs']}×{r['stepsPerRun']}",
                      r["seconds"], fmt(r["stepsPerSecond"]), f"{r['fractionOfPgbench1']:.1%}",
                      f"{r['fractionOfPgbench16']:.1%}", r["stepOverheadMsP50"],
                      r["stepOverheadMsP99"], r["engineCpuPct"], r["appCpuPct"],
                      r["postgresCpuPct"], r["engineCpuMsPerStep"], r["postgresCpuMsPerStep"]]
                     for r in engines]))
        alone = throughput.solo(pg, max(20, sizes["runs"] // 15), sizes["steps"])
        print(f"one run in flight (1 slot, {alone['runs']}×{alone['stepsPerRun']}): step overhead "
              f"p50 {alone['stepOverheadMsP50']} ms, p99 {alone['stepOverheadMsP99']} ms, "
              f"{fmt(alone['stepsPerSecond'])} steps/s")
        top = engines[0].get("topStatements") or []
        if top:
            print("\nwhere the database time goes (1 process, pg_stat_statements):")
            print(table(["calls", "total ms", "mean ms", "statement"],
                        [[s["calls"], s["totalMs"], s["meanMs"], s["query"][:80]]
                         for s in top]))
        return {"pgbench": {"script": "UPDATE + INSERT (two-statement write)",
                            "seconds": sizes["pgbenchSeconds"], "tps1Client": tps1,
                            "tps16Clients": tps16}, "engines": engines, "solo": alone}
    if section == "peers":
        tps16 = report.get("throughput", {}).get("pgbench", {}).get("tps16Clients")
        if not tps16:
            throughput.pgbench_init(pg)
            tps16 = throughput.pgbench(pg, 16, sizes["pgbenchSeconds"], workdir)
        r = peers.run(pg, sizes["peerRuns"], tps16, sizes["slots"])
        d, o = r["dbos"], r["durable"]
        print(table(["3-step workflow, 16 in flight", "pgbench-16 (the limit)", "durable",
                     "DBOS Transact"],
                    [["steps/s", fmt(tps16), fmt(o["stepsPerSecond"]),
                      fmt(d.get("stepsPerSecond")) if "stepsPerSecond" in d else d["error"]],
                     ["÷ pgbench-16", "100%", f"{o['fractionOfPgbench16']:.1%}",
                      f"{d['fractionOfPgbench16']:.1%}" if "stepsPerSecond" in d else "—"],
                     ["durable ÷ DBOS", "", fmt(r.get("durableOverDbos")), ""],
                     ["runs, seconds", "", f"{o['runs']}, {o['seconds']}",
                      f"{d['workflows']}, {d['seconds']} (dbos {d.get('dbosVersion')})"
                      if "stepsPerSecond" in d else ""]]))
        return r
    if section == "recovery":
        try:
            from durable_faults import recovery  # noqa: PLC0415 - optional: faults installed
        except ImportError:
            return {"error": "not available: install faults (pip install -e faults)"}
        (workdir / "recovery").mkdir(exist_ok=True)
        r = recovery.measure(workdir / "recovery",
                             (pg.engine_url_for or pg.database_url)("postgres"),
                             sizes["recoverySamples"])
        print(recovery.describe(r))
        return r
    if section == "backlog":
        keys = 30
        d = backlog.drain(pg, keys, sizes["perKey"], sizes["holdMs"], 32)
        st = backlog.starvation(pg, sizes["hotRuns"], sizes["otherRuns"], 60)
        print(table(["backlog", "runs", "drain runs/s", "app allows", "share",
                     "fairness (min/max per key, first half)", "max in flight"],
                    [[f"{keys} keys × concurrency 1, {d['holdMs']} ms each", keys * d["runsPerKey"],
                      d["runsPerSecond"], d["appAllowsRunsPerSecond"],
                      f"{d['shareOfAllowed']:.0%}", d["fairness"], d["maxInFlight"]]]))
        print(f"starvation: {st['otherRuns']} runs of other keys behind {st['hotRuns']:,} runs "
              f"of one blocked key ended after {st['othersEndedAfterS']} s"
              + (f" — STARVED (not within {st['limitS']:.0f} s)" if st["starved"] else ""))
        return {"drain": d, "starvation": st}
    if section == "profile":
        r = profile.run(pg, sizes["runs"], sizes["steps"], workdir)
        if "error" in r:
            print(r["error"])
            return r
        print(f"{r['stepsPerSecond']} steps/s; step overhead p50 {r['stepOverheadMsP50']} ms, "
              f"p99 {r['stepOverheadMsP99']} ms; CPU per step: engine "
              f"{r['engineCpuMsPerStep']} ms, Postgres {r['postgresCpuMsPerStep']} ms; CPU % "
              f"engine {r['engineCpuPct']}, app {r['appCpuPct']}, Postgres {r['postgresCpuPct']}")
        if "engineWaitingShare" in r and r["profiler"] != "py-spy":
            print(f"profiler: {r['profiler']}; the engine's main thread waited in select "
                  f"{r['engineWaitingShare']:.0%} of the time (for the app or Postgres)")
        print(table([f"engine CPU ({r.get('profiler', 'py-spy')}, on-CPU samples)", "share",
                     "ms per step"],
                    [[b["what"], f"{b['share']:.0%}", b["msPerStep"]]
                     for b in r["engineCpuBreakdown"]]))
        parts, off = r["stepParts"], r.get("withoutFsync") or {}
        names = {"httpMs": "POST → answer read (HTTP round trip, app included)",
                 "answerToCommitMs": "answer read → commit sent (verify, parse, schedule)",
                 "commitToNextPostMs": "commit sent → next POST (commit, fsync, next request)"}
        print(table(["one step, engine's stamps", "p50 ms", "p99 ms",
                     "p50 ms, synchronous_commit off"],
                    [[names[k], *(v + [None, None])[:2], (off.get(k) or [None])[0]]
                     for k, v in parts.items()]))
        print(table(["database time per step (pg_stat_statements)", "calls", "ms per step"],
                    [[d["query"], d["calls"], d["msPerStep"]] for d in r["dbMsPerStep"]]))
        return r
    if section == "latency":
        r = latency.run(pg, sizes["events"], sizes["sleepers"])
        print(table(["figure", "p50 ms", "p99 ms", "max ms", "samples"], [
            ["event accepted → app receives first invoke", r["eventToFirstInvokeMsP50"],
             r["eventToFirstInvokeMsP99"], None, r["eventSamples"]],
            ["event accepted → engine sends the invoke (its stamp)", r["eventToInvokeSentMsP50"],
             r["eventToInvokeSentMsP99"], None, r["eventSamples"]],
            [f"sleep 1 s lateness ({r['sleepers']} runs at once)", r["sleepLatenessMsP50"],
             r["sleepLatenessMsP99"], r["sleepLatenessMsMax"], r["sleepSamples"]],
            [f"sleep 1 s lateness ({r['sleepers']} runs, 100/s)",
             r["spread"]["sleepLatenessMsP50"], r["spread"]["sleepLatenessMsP99"],
             r["spread"]["sleepLatenessMsMax"], r["spread"]["sleepSamples"]]]))
        early = r["sleepersWokenEarly"] + r["spread"]["sleepersWokenEarly"]
        if early:
            print(f"WARNING: {early} sleepers were invoked before their until")
        return r
    if section == "ingest":
        r = ingest.run(pg, sizes["ingestEvents"], sizes["watchRuns"])
        rates = r["eventsPerSecond"]
        print(table(["transport", "call", "events", "events/s"], [
            ["HTTP", "POST /e, one event a call", r["singleEvents"], rates["httpSingle"]],
            ["gRPC", "SendEvent, one event a call", r["singleEvents"], rates["grpcSingle"]],
            ["HTTP", "POST /e/bulk, 100 a call", r["events"], rates["httpBulk"]],
            ["gRPC", "SendEvents, 100 a call", r["events"], rates["grpcBulk"]],
            ["gRPC", "IngestEvents stream, a receipt each", r["events"], rates["grpcStream"]]]))
        print(f"WatchRun: run stored as ended → the client has the last message: p50 "
              f"{r['watchRunDelayMsP50']} ms, p99 {r['watchRunDelayMsP99']} ms "
              f"({r['watchRuns']} runs, one at a time)")
        return r
    if section == "dashboard":
        r = dashboard.run(pg, sizes["dashboardSeconds"], sizes["sseClients"],
                          sizes["dashboardRate"])
        print(table(["open SSE streams", "statements/s", "transactions/s", "engine CPU %"],
                    [[0, r["without"]["statementsPerSecond"],
                      r["without"]["transactionsPerSecond"], r["without"]["engineCpuPct"]],
                     [r["clients"], r["withClients"]["statementsPerSecond"],
                      r["withClients"]["transactionsPerSecond"],
                      r["withClients"]["engineCpuPct"]]]))
        share = r["extraEngineCpuShare"]
        print(f"{r['runsPerSecond']} runs/s of {r['stepsPerRun']} steps; {r['clients']} "
              f"streams add {r['extraEngineCpuPct']} CPU points"
              + (f" ({share:.1%} of the engine's CPU)" if share is not None else "")
              + f" and {r['extraStatementsPerSecond']} statements/s; "
              f"{r['extraEngineCpuUsPerDelivery']} µs of engine CPU per event delivered")
        print(f"SSE delivery latency (status change -> stream client): p50 "
              f"{r['latencyMsP50']} ms, p99 {r['latencyMsP99']} ms over "
              f"{r['eventsReceived']} events")
        return r
    if section == "idle":
        r = idle.run(pg, sizes["idleSeconds"])
        print(table(["idle window s", "statements/s", "transactions/s", "engine CPU %",
                     "engine RSS MiB"],
                    [[r["seconds"], r["statementsPerSecond"], r["transactionsPerSecond"],
                      r["engineCpuPct"], r["engineRssMiB"]]]))
        if r["statements"]:
            print(table(["calls", "per s", "statement while idle"],
                        [[st["calls"], st["perSecond"], st["query"][:90]]
                         for st in r["statements"]]))
        return r
    if section == "scale":
        r = scale.run(pg, sizes["stateSleepers"], sizes["stateWaiters"])
        print(table(["batch", "sleepers", "park runs/s", "RSS parked MiB", "first fire late ms",
                     "fire s", "firing runs/s", "park overlapped fire"],
                    [[name, b["sleepers"], b["parkRunsPerSecond"], b["engineRssParkedMiB"],
                      b["firstFireLateMs"], b["fireSeconds"], b["firingRunsPerSecond"],
                      b["parkingOverlappedFiring"]]
                     for name, b in (("small", r["small"]), ("big", r["big"]))]))
        print(f"engine RSS: {r['engineRssStartMiB']} MiB at start, "
              f"{r['engineRssWithStateMiB']} MiB with {r['sleepers']:,} sleeping + "
              f"{r['waiters']:,} waiting runs, peak {r['engineRssPeakMiB']} MiB, "
              f"{r['engineRssEndMiB']} MiB at the end; firing rate big/small "
              f"{r['firingRateBigOverSmall']}")
        return r
    if section == "flow":
        r = flow.run(pg, sizes["runs"], sizes["steps"], sizes["queued"], sizes["keys"])
        for name, p in r["probes"].items():
            print(f"probe {name}: {'enforced' if p['honoured'] else 'NOT enforced'}"
                  + (f" ({p['reason']})" if p["reason"] else ""))
        if isinstance(r["withRulesOverWithout"], str):
            print(f"with rules vs without: {r['withRulesOverWithout']}")
        else:
            print(table(["runs", "rules", "steps/s", "s", "overhead p50 ms", "p99 ms"], [
                ["without", "none", fmt(r["without"]["stepsPerSecond"]), r["without"]["seconds"],
                 r["without"]["stepOverheadMsP50"], r["without"]["stepOverheadMsP99"]],
                ["with", ", ".join(r["rules"]), fmt(r["withRules"]["stepsPerSecond"]),
                 r["withRules"]["seconds"], r["withRules"]["stepOverheadMsP50"],
                 r["withRules"]["stepOverheadMsP99"]]]))
            print(f"with rules / without: {r['withRulesOverWithout']:.1%}")
            if "throttle" in r:
                print(f"throttle: {r['throttle']}")
        rows = [[name, c["runs"], c["keys"], c["queuedAtStart"], c["runsPerSecond"],
                 c["claimRounds"], c["claimRoundMeanMs"], c["claimStatementMaxMs"]]
                for name, c in (("no rule", r.get("claimPlain")),
                                ("concurrency 1 per key", r.get("claimKeyed")))
                if isinstance(c, dict)]
        if rows:
            print(table(["queued runs", "runs", "keys", "queued at worker start", "drain runs/s",
                         "claim rounds", "db ms per claim round", "max statement ms"], rows))
        elif isinstance(r.get("claimKeyed"), str):
            print(f"claim latency: {r['claimKeyed']}")
        return r
    if section == "metrics":
        r = metrics.run(pg, sizes["metricsRuns"])
        print(table(["runs", "steps", "live", "sample ms p50", "p99", "stmts/sample",
                     "stmts/s (10 s)", "roll 1 h ms", "roll 1 min ms", "series h/d/w ms",
                     "/metrics render ms", "step insert µs (BRIN / none)",
                     "run insert+start+end µs (BRIN / none)"],
                    [[r["runs"], r["steps"], r["liveRunsSampled"], r["sampleMsP50"],
                      r["sampleMsP99"], r["statementsPerSample"],
                      r["statementsPerSecondAtDefaultInterval"], r["rollHourMs"],
                      r["rollMinuteMs"], "/".join(str(v) for v in r["seriesMs"].values()),
                      r["metricsRenderMs"],
                      f"{r['stepInsertUsWithBrin']} / {r['stepInsertUsWithoutBrin']}",
                      f"{r['runLifecycleUsWithBrin']} / {r['runLifecycleUsWithoutBrin']}"]]))
        return r
    if section == "replay":
        r = replay.run()
        print(table(["SDK", "replay of 1,000 memoized steps: median ms", "p90 ms"],
                    [[sdk, v["medianMs"], v["p90Ms"]] if isinstance(v, dict) else [sdk, v, None]
                     for sdk, v in r.items()]))
        return r
    raise ValueError(section)


def status(ok: bool | None) -> str:
    return "—" if ok is None else ("meets" if ok else "misses")


def print_summary(report: dict[str, Any]) -> None:
    rows: list[list[Any]] = []
    t = report.get("throughput", {})
    if "engines" in t:
        one = t["engines"][0]
        best = max(t["engines"], key=lambda e: e["stepsPerSecond"])
        rows.append(["throughput (1 process)", f"{fmt(one['stepsPerSecond'])} steps/s = "
                     f"{one['fractionOfPgbench16']:.0%} of pgbench-16, "
                     f"{one['fractionOfPgbench1']:.0%} of pgbench-1",
                     "≥ 35% of pgbench tps (moonshot 50%)",
                     f"{status(one['fractionOfPgbench1'] >= 0.35)} vs 1 client, "
                     f"{status(one['fractionOfPgbench16'] >= 0.35)} vs 16"])
        rows.append(["overhead per step, 16 runs in flight", f"p50 {one['stepOverheadMsP50']} ms, "
                     f"p99 {one['stepOverheadMsP99']} ms", "p50 < 2 ms, p99 < 20 ms",
                     status(one["stepOverheadMsP50"] is not None
                            and one["stepOverheadMsP50"] < 2
                            and one["stepOverheadMsP99"] < 20)])
        alone = t.get("solo")
        if alone:
            rows.append(["overhead per step, one run in flight",
                         f"p50 {alone['stepOverheadMsP50']} ms, "
                         f"p99 {alone['stepOverheadMsP99']} ms", "p50 < 2 ms, p99 < 20 ms",
                         status(alone["stepOverheadMsP50"] is not None
                                and alone["stepOverheadMsP50"] < 2
                                and alone["stepOverheadMsP99"] < 20)])
        rows.append(["horizontal (1/2/4 procs)", " / ".join(
            fmt(e["stepsPerSecond"]) for e in t["engines"]) + " steps/s",
            "grows until the database is the limit",
            f"best {best['processes']} procs = {best['fractionOfPgbench16']:.0%} of pgb16"])
    p = report.get("peers", {})
    if "durable" in p:
        d = p["dbos"]
        rows.append(["3-step workflow: pgbench-16 / durable / DBOS",
                     f"{fmt(p['pgbenchTps16'])} / {fmt(p['durable']['stepsPerSecond'])} / "
                     + (f"{fmt(d['stepsPerSecond'])} steps/s; durable = "
                        f"{p['durable']['fractionOfPgbench16']:.0%} of pgbench, DBOS = "
                        f"{d['fractionOfPgbench16']:.0%}, durable ÷ DBOS ×{p['durableOverDbos']}"
                        if "stepsPerSecond" in d else d["error"][:60]),
                     "≥ 35% of pgbench", status(p["durable"]["fractionOfPgbench16"] >= 0.35)])
    rec = report.get("recovery", {})
    if "samples" in rec:
        rows.append(["run held by a killed engine resumes after",
                     f"{rec['recoveryS']} s (samples {rec['samples']})"
                     if rec["recoveryS"] is not None else "not within "
                     f"{rec['gaveUpAfterS']:.0f} s", "< 15 s whatever the timeout",
                     status(rec["meets"])])
    b = report.get("backlog", {})
    if "drain" in b:
        d, st = b["drain"], b["starvation"]
        rows.append([f"backlog {d['keys']} keys × concurrency 1 drains at",
                     f"{d['runsPerSecond']} runs/s = {d['shareOfAllowed']:.0%} of the "
                     f"{d['appAllowsRunsPerSecond']} the app allows; fairness {d['fairness']}",
                     "the rate the app allows, fair across keys",
                     status(d["shareOfAllowed"] >= 0.8 and (d["fairness"] or 0) >= 0.8)])
        rows.append([f"runs behind {st['hotRuns']:,} rows of a blocked key",
                     "starved" if st["starved"] else f"ended after {st['othersEndedAfterS']} s",
                     "never starve", status(not st["starved"])])
    lat = report.get("latency", {})
    if "sleepLatenessMsP99" in lat:
        rows.append([f"{lat['sleepers']:,} sleeps due at once: lateness p99",
                     f"{lat['sleepLatenessMsP99']} ms", "< 200 ms",
                     status(lat["sleepLatenessMsP99"] < 200)])
    if "eventToFirstInvokeMsP50" in lat:
        rows.append(["event → first invoke", f"p50 {lat['eventToFirstInvokeMsP50']} ms, "
                     f"p99 {lat['eventToFirstInvokeMsP99']} ms", "p50 < 5 ms",
                     status(lat["eventToFirstInvokeMsP50"] < 5)])
        rows.append([f"sleep 1 s lateness ({lat['sleepers']} runs)",
                     f"p99 {lat['sleepLatenessMsP99']} ms all at once, "
                     f"{lat['spread']['sleepLatenessMsP99']} ms at 100 runs/s", "p99 < 50 ms",
                     f"{status(lat['sleepLatenessMsP99'] < 50)} / "
                     f"{status(lat['spread']['sleepLatenessMsP99'] < 50)}"])
    idle_r = report.get("idle", {})
    if "transactionsPerSecond" in idle_r:
        polls = max((st["perSecond"] for st in idle_r.get("statements", [])
                     if "WITH ready" in st["query"]), default=None)
        heartbeat = f", one claim poll every {1 / polls:.1f} s" if polls else ""
        rows.append([f"idle cost ({idle_r['seconds']:.0f} s)",
                     f"{idle_r['statementsPerSecond']} stmt/s, "
                     f"{idle_r['transactionsPerSecond']} xact/s{heartbeat}, "
                     f"CPU {idle_r['engineCpuPct']}%",
                     "~0 queries/s beyond a slow heartbeat",
                     status(polls is not None and polls <= 0.5
                            and (idle_r["statementsPerSecond"] or 0) <= 2
                            and idle_r["engineCpuPct"] < 1)])
    s = report.get("scale", {})
    if "big" in s:
        flat = s["engineRssWithStateMiB"] <= s["engineRssStartMiB"] * 1.25 + 10
        rows.append([f"RSS with {s['sleepers']:,} sleeping + {s['waiters']:,} waiting",
                     f"{s['engineRssStartMiB']} → {s['engineRssWithStateMiB']} MiB "
                     f"(peak {s['engineRssPeakMiB']})", "flat", status(flat)])
        big = s["big"]
        rows.append([f"idle with {s['sleepers']:,} sleeping + {s['waiters']:,} waiting",
                     f"{big['idleStatementsPerSecond']} stmt/s, "
                     f"{big['idleTransactionsPerSecond']} xact/s over {big['idleWindowS']} s",
                     "~0 queries/s", status(big["idleStatementsPerSecond"] is not None
                                            and big["idleStatementsPerSecond"] <= 2)])
        # All come due at one instant: the last fires after sleepers / firing rate, so the
        # p99 is a measure of that rate (the row below), not of timer precision (latency).
        rows.append([f"{s['sleepers']:,} sleepers wake at once: lateness",
                     f"first {big['firstFireLateMs']} ms, p99 {big['firingLatenessMsP99']} ms",
                     "measured (the rate below drains them)", status(None)])
        ratio = s["firingRateBigOverSmall"]
        rows.append(["firing rate when due", f"{fmt(s['big']['firingRunsPerSecond'])} runs/s"
                     f" (×{ratio} of a {s['small']['sleepers']:,} batch)", "unchanged",
                     status(ratio is not None and ratio >= 0.8)])
    f = report.get("flow", {})
    if "withRulesOverWithout" in f:
        value = f["withRulesOverWithout"]
        rows.append(["with flow rules / without", value if isinstance(value, str) else
                     f"{value:.0%} ({', '.join(f['rules'])})"
                     + ("; throttle not available" if "throttle" in f else ""),
                     "(figure asked by issue 9)", "—"])
        keyed = f.get("claimKeyed")
        rows.append([f"claim with {report['sizes']['queued']:,} queued / "
                     f"{report['sizes']['keys']:,} keys", keyed if isinstance(keyed, str) else
                     f"{keyed['claimRoundMeanMs']} ms db/claim round, "
                     f"{keyed['runsPerSecond']} runs/s" if keyed else "—",
                     "(figure asked by issue 9)", "—"])
    r = report.get("replay", {})
    for sdk in ("python", "php"):
        v = r.get(sdk)
        if v is not None:
            rows.append([f"SDK replay {sdk}", f"median {v['medianMs']} ms"
                         if isinstance(v, dict) else v, "< 5 ms",
                         status(v["medianMs"] < 5) if isinstance(v, dict) else "—"])
    mt = report.get("metrics", {})
    if "sampleMsP50" in mt:
        rows.append([f"metrics sampler ({mt['runs']:,} runs)", f"{mt['sampleMsP50']} ms a "
                     f"sample, {mt['statementsPerSecondAtDefaultInterval']} stmt/s, roll "
                     f"{mt['rollMinuteMs']} ms a minute", "(figure asked by issue 15)", "—"])
    for section in SECTIONS:
        if isinstance(report.get(section), dict) and "error" in report[section]:
            rows.append([section, report[section]["error"][:70], "", "FAILED"])
    print("== summary against quality.md and the engine's targets")
    print(table(["figure", "measured", "target", "status"], rows))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
