"""`python -m durable_faults`: the workload under faults, then the verdict.

Short form by default (CI); `--runs 500 --kills 20` is the full form.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from durable import Client, provision_app

from . import recovery
from .app import DOOMED_EVENT, EVENT, FaultyApp, Journal, doomed, workload
from .check import TERMINAL, Verdict, judge, progress
from .cluster import ADMIN_TOKEN, EngineProcess, Postgres, migrate
from .minor import Minor


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m durable_faults", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=60, help="runs started (one event each)")
    p.add_argument("--kills", type=int, default=4, help="kill -9 of an engine process")
    p.add_argument("--pg-restarts", type=int, default=1, help="Postgres stop/start cycles")
    p.add_argument("--fault-rate", type=float, default=0.15,
                   help="fraction of invocations the app answers badly")
    p.add_argument("--steps", type=int, default=4, help="step.runs per run (plus one sleep)")
    p.add_argument("--doomed-every", type=int, default=20,
                   help="every Nth run's step always fails: it must end failed, readably")
    p.add_argument("--app-outages", type=int, default=1,
                   help="times the app goes away for 1-3 s (connections refused)")
    p.add_argument("--workers", type=int, default=1,
                   help="`durable worker` processes beside the one `durable serve`")
    p.add_argument("--slots", type=int, default=8, help="concurrent invocations per process")
    p.add_argument("--window", type=float, default=None,
                   help="seconds during which events are sent and faults injected "
                        "(default: max(30, runs/4))")
    p.add_argument("--deadline", type=float, default=150.0,
                   help="seconds after the fault window for every run to end")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--parents", type=int, default=12,
                   help="step.invoke parents (protocol 1.1 workspace; 0: none)")
    p.add_argument("--singles", type=int, default=24,
                   help="events to a singleton function, over 3 keys (protocol 1.1)")
    p.add_argument("--recovery-samples", type=int, default=2,
                   help="kill -9 of the process holding a run, timed (0: skip)")
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                   help="external Postgres (no restart possible); default: an embedded one")
    p.add_argument("--keep", action="store_true", help="keep logs and data in the temp dir")
    p.add_argument("--no-tests", action="store_true",
                   help="skip the regression tests of the bugs this suite found (faults/tests)")
    p.add_argument("--json", type=Path, default=None,
                   help="results file (default: bench/results/faults.json if that folder "
                        "exists)")
    return p


def in_flight(url: str, workspace_id: str) -> int | None:
    """Runs not yet ended, or None while the database cannot be asked."""
    try:
        counts = progress(url, workspace_id)
    except Exception:  # noqa: BLE001 - Postgres may be the thing restarting
        return None
    return sum(n for status, n in counts.items() if status not in TERMINAL)


def say(line: str) -> None:
    print(f"faults: {line}", flush=True)


class Sender(threading.Thread):
    """Sends run n's event at its planned moment, retrying with the same id until acked."""

    def __init__(self, client: Client, plan: list[float], doomed: set[int], t0: float,
                 stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.client, self.plan, self.doomed, self.t0 = client, plan, doomed, t0
        self.stop = stop
        self.acked: set[int] = set()
        self.retries = 0

    def run(self) -> None:
        for n, at in enumerate(self.plan):
            delay = self.t0 + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            event_id = f"faults-{n}"
            while not self.stop.is_set():
                try:
                    name = DOOMED_EVENT if n in self.doomed else EVENT
                    self.client.send(name, {"n": n}, event_id=event_id, retries=0)
                    self.acked.add(n)
                    break
                except Exception:  # noqa: BLE001 - no ack yet: resend the same id
                    # The published client lets a dropped connection (an engine killed
                    # mid-request) escape as RemoteDisconnected / ConnectionResetError.
                    self.retries += 1
                    time.sleep(0.3)


TESTS = Path(__file__).resolve().parents[2] / "tests"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code = 0
    if args.recovery_samples > 0:
        base = Path(tempfile.mkdtemp(prefix="durable-recovery-"))
        say(f"recovery: {args.recovery_samples} kill(s) of the process holding a run; logs in "
            f"{base}")
        rec = recovery.measure(base, args.database_url, args.recovery_samples)
        say(recovery.describe(rec))
        results = Path.cwd() / "bench" / "results"
        if results.is_dir():
            (results / "recovery.json").write_text(json.dumps(rec, indent=2) + "\n")
        if not rec["meets"]:
            code = 1
        else:
            shutil.rmtree(base, ignore_errors=True)
    code = suite(args) or code
    if not args.no_tests and TESTS.is_dir():
        say(f"regression tests of the bugs found so far: pytest {TESTS}")
        tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-ra", str(TESTS)])
        code = code or tests.returncode
    return code


def suite(args: argparse.Namespace) -> int:
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    window = args.window or max(30.0, args.runs / 4)
    base = Path(tempfile.mkdtemp(prefix="durable-faults-"))
    say(f"seed {seed}; {args.runs} runs, {args.kills} kills, {args.pg_restarts} Postgres "
        f"restart(s), app fault rate {args.fault_rate:.0%}, window {window:.0f}s; logs in "
        f"{base}")
    pg = Postgres(base, args.database_url)
    journal = Journal(base / "journal.sqlite3")
    app = FaultyApp([workload(journal, args.steps), doomed(journal)], args.fault_rate, seed)
    doomed_runs = ({n for n in range(args.runs) if n % args.doomed_every == args.doomed_every - 1}
                   if args.doomed_every > 0 else set())
    engines: list[EngineProcess] = []
    stop = threading.Event()
    started = time.monotonic()
    verdict: Verdict | None = None
    figures: dict[str, Any] = {}
    minor = Minor("", args.parents, args.singles) if args.parents or args.singles else None
    sampling = threading.Event()  # the singleton sampler runs until the runs settled
    minor_problems: list[str] = []
    try:
        pg.start()
        migrate(pg.url, base / "migrate.log")
        engines.append(EngineProcess("serve", pg.url, base / "serve.log", args.slots))
        for i in range(args.workers):
            engines.append(EngineProcess("worker", pg.url, base / f"worker{i}.log", args.slots))
        for engine in engines:
            engine.start()
        api = engines[0]
        api.wait_ready()
        app.start()
        created = provision_app(base_url=api.base_url, name="faults", app_url=app.url,
                                environment="faults", admin_token=ADMIN_TOKEN)
        workspace_id = created["id"]
        app.signing_key = created["key"]
        client = Client(api.base_url, workspace_id, created["key"], timeout=5)
        client.sync(app.functions)
        if minor is not None:
            minor.url = pg.url
            minor.start(api.base_url, ADMIN_TOKEN, args.fault_rate, seed + 1)

        # The plan: events spread over 90% of the window so every fault meets work in
        # flight, kills anywhere in it, the Postgres restart somewhere in its middle.
        t0 = time.monotonic()
        send_plan = [i * window * 0.9 / max(args.runs, 1) for i in range(args.runs)]
        actions: list[tuple[float, str]] = [(rng.uniform(1.0, window), "kill")
                                            for _ in range(args.kills)]
        actions += [(rng.uniform(0.2 * window, 0.8 * window), "app")
                    for _ in range(args.app_outages)]
        if pg.restartable:
            actions += [(rng.uniform(0.3 * window, 0.7 * window), "pg")
                        for _ in range(args.pg_restarts)]
        elif args.pg_restarts:
            say("external database: Postgres restarts skipped")
        actions.sort()
        sender = Sender(client, send_plan, doomed_runs, t0, stop)
        sender.start()
        minor_threads = [] if minor is None else [minor.sender(window, stop),
                                                  minor.sampler(sampling)]
        kills = 0
        busy_at_kills = 0
        pending_restarts: list[tuple[float, EngineProcess]] = []
        unexpected = 0
        while actions or pending_restarts or sender.is_alive():
            now = time.monotonic() - t0
            if now > window + 120:
                say("events could not all be sent within the window + 120 s")
                break
            for at, engine in list(pending_restarts):
                if now >= at:
                    engine.start()
                    pending_restarts.remove((at, engine))
            for engine in engines:
                if not engine.alive() and all(e is not engine for _, e in pending_restarts):
                    unexpected += 1
                    say(f"durable {engine.role} exited by itself (code "
                        f"{engine.proc.returncode if engine.proc else '?'}); restarting")
                    engine.start()
            while actions and actions[0][0] <= now:
                _, kind = actions.pop(0)
                if kind == "kill":
                    alive = [e for e in engines if e.alive()]
                    if alive:
                        victim = rng.choice(alive)
                        victim.kill9()
                        kills += 1
                        pending_restarts.append((now + rng.uniform(0.2, 2.0), victim))
                        busy = in_flight(pg.url, workspace_id)
                        busy_at_kills += busy or 0
                        say(f"t={now:5.1f}s kill -9 durable {victim.role} "
                            f"({busy if busy is not None else '?'} runs in flight)")
                elif kind == "app":
                    down = rng.uniform(1.0, 3.0)
                    say(f"t={now:5.1f}s app outage ({down:.1f}s)")
                    app.outage(down)
                else:
                    down = rng.uniform(0.5, 2.0)
                    say(f"t={now:5.1f}s Postgres restart ({down:.1f}s down)")
                    pg.restart(down)
            time.sleep(0.05)
        stop.set()
        sender.join(5)
        fault_end = time.monotonic()
        say(f"fault window over after {fault_end - t0:.0f}s: {len(sender.acked)} events "
            f"acked ({sender.retries} send retries); waiting up to {args.deadline:.0f}s")

        last_print = 0.0
        while True:
            elapsed = time.monotonic() - fault_end
            for engine in engines:  # a process that died by itself is a finding; keep going
                if not engine.alive():
                    unexpected += 1
                    say(f"durable {engine.role} exited by itself; restarting")
                    engine.start()
            try:
                counts = progress(pg.url, workspace_id)
            except Exception as error:  # noqa: BLE001 - the database may be restarting
                say(f"progress query failed: {error}")
                counts = None
            if counts is not None:
                done = sum(counts[s] for s in TERMINAL)
                if done >= len(sender.acked) and sum(counts.values()) >= len(sender.acked) \
                        and (minor is None or minor.settled()):
                    break
                if elapsed - last_print >= 10:
                    last_print = elapsed
                    say(f"+{elapsed:4.0f}s {dict(counts)}")
            if elapsed > args.deadline:
                say("deadline passed with runs still going")
                break
            time.sleep(0.5)
        settle_s = time.monotonic() - fault_end
        sampling.set()
        for thread in minor_threads:
            thread.join(5)
        minor_figures: dict[str, Any] = {}
        if minor is not None:
            minor_problems, minor_figures = minor.judge()
        verdict = judge(pg.url, workspace_id, sender.acked, args.steps, journal.rows(),
                        doomed_runs)
        figures = {
            "seed": seed, "runs_requested": args.runs, "runs_started": len(sender.acked),
            "completed": verdict.completed, "failed": verdict.failed,
            "failed_as_designed": verdict.failed_as_designed,
            "unexpected_outcomes": verdict.unexpected,
            "cancelled": verdict.cancelled, "lost": verdict.lost, "stuck": verdict.stuck,
            "steps_committed_twice": verdict.twice, "duplicate_runs": verdict.duplicate_runs,
            "memos_without_execution": verdict.phantom_memos, "memos": verdict.memos,
            "step_executions": verdict.executions, "deliveries": verdict.deliveries,
            "failed_deliveries": verdict.failed_deliveries, "kills": kills,
            "unexpected_engine_exits": unexpected, "runs_in_flight_at_kills": busy_at_kills,
            "app_faults_injected": sum(app.injected.values()),
            "app_faults_by_kind": dict(app.injected), "app_invocations": app.invocations,
            "postgres_restarts": pg.restarts, "app_outages": app.outages,
            "window_s": round(window, 1),
            "settle_s": round(settle_s, 1), "total_s": round(time.monotonic() - started, 1),
            "ok": verdict.ok and not minor_problems, "protocol_1_1": minor_figures,
        }
    finally:
        stop.set()
        sampling.set()
        for engine in engines:
            engine.stop()
        app.close()
        if minor is not None:
            minor.close()
        journal.close()
        pg.close()
        if not args.keep and verdict is not None and verdict.ok:
            shutil.rmtree(base, ignore_errors=True)
    if verdict is None:
        return 2
    verdict.problems += [f"protocol 1.1: {p}" for p in minor_problems]
    report(verdict, figures, args.json)
    if figures["runs_started"] < args.runs:
        say(f"FAILED: only {figures['runs_started']} of {args.runs} events were accepted")
        return 1
    if not verdict.ok or minor_problems:
        say(f"FAILED; logs kept in {base}")
        return 1
    return 0


def report(verdict: Verdict, figures: dict[str, Any], json_path: Path | None) -> None:
    rows = [
        ("runs started", figures["runs_started"], ""),
        ("completed", figures["completed"], ""),
        ("failed", figures["failed"],
         f"{figures['failed_as_designed']} by design (a step that always throws)"),
        ("unexpected outcomes", figures["unexpected_outcomes"], "must be 0"),
        ("lost", figures["lost"], "must be 0"),
        ("stuck (not terminal)", figures["stuck"], "must be 0"),
        ("steps committed twice", figures["steps_committed_twice"], "must be 0"),
        ("duplicate runs", figures["duplicate_runs"], "must be 0"),
        ("memos without execution", figures["memos_without_execution"], "must be 0"),
        ("step executions / step memos", f"{figures['step_executions']} / {figures['memos']}",
         "re-executions are allowed"),
        ("kills (kill -9)", figures["kills"],
         f"{figures['runs_in_flight_at_kills']} runs in flight at those moments"),
        ("unexpected engine exits", figures["unexpected_engine_exits"], ""),
        ("app faults injected", figures["app_faults_injected"],
         ", ".join(f"{k} {v}" for k, v in sorted(figures["app_faults_by_kind"].items()))),
        ("app outages", figures["app_outages"], ""),
        ("Postgres restarts", figures["postgres_restarts"], ""),
        ("settle time after faults", f"{figures['settle_s']}s", ""),
        ("total time", f"{figures['total_s']}s", ""),
    ]
    extra = figures.get("protocol_1_1") or {}
    if extra:
        rows += [
            ("step.invoke parents / children", f"{extra['parents']} / {extra['children']}",
             "each parent exactly one child and its result"),
            ("singleton runs / skipped", f"{extra['singleton_runs']} /"
             f" {extra['singleton_skipped']}", f"{extra['singleton_samples']} samples"),
            ("two live runs of one key", extra["singleton_violations"], "must be 0"),
        ]
    width = max(len(r[0]) for r in rows)
    print()
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value!s:>10}  {note}")
    print()
    for problem in verdict.problems[:20]:
        print(f"  ! {problem}")
    if len(verdict.problems) > 20:
        print(f"  ! ... and {len(verdict.problems) - 20} more")
    target = json_path
    if target is None:
        results = Path.cwd() / "bench" / "results"
        target = results / "faults.json" if results.is_dir() else None
    if target is not None:
        target.write_text(json.dumps(figures, indent=2) + "\n")
        say(f"figures written to {target}")
    print(f"faults: {'PASS' if figures['ok'] else 'FAIL'}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
