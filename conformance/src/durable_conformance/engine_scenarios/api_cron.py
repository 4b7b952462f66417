"""Engine API scenarios: cron ticks, once per tick across two engines [CRON-8], the catch-up
after downtime [CRON-7] and the cron event [CRON-9].
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .. import signing
from ..client import call
from ..fake_app import TERMINAL, FakeApp
from ..harness import free_port
from ..paths import reports_dir
from ..results import Result
from .api_common import done, iso, parse_iso_ms, sync_body, wait_until
from .api_workspaces import DevApp
from .workspace import Workspace, workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite


EVERY_SECOND = "* * * * * *"


FREEZE_S = 3.0  # engine "downtime" for the cron catch-up check


@contextmanager
def second_engine(suite: EngineSuite, dev_app_url: str) -> Iterator[subprocess.Popen[bytes] | str]:
    """A second process of the reference engine on the suite's database, in production mode
    (`--prod`) with DURABLE_DEV_APP_URL set: yields the process, or why there is none."""
    env = {**os.environ, **suite.harness.env}
    start = suite.harness.start
    executable = shutil.which(start[0]) if start else None
    if start[:2] != ["durable", "serve"] or executable is None or suite.engine is None:
        yield "the engine under test is not the reference CLI (`durable serve`)"
        return
    database = env.get("DATABASE_URL") or _embedded_database(suite.engine.scratch)
    if not database:
        yield "cannot tell the first engine's database (no DATABASE_URL, no embedded one)"
        return
    port = free_port()
    env.update({"DURABLE_DEV_APP_URL": dev_app_url, "DURABLE_ADMIN_TOKEN": suite.admin_token,
                "DURABLE_RETENTION": "0"})
    with (reports_dir() / "logs" / f"engine-second-{os.getpid()}.log").open("wb") as log:
        process = subprocess.Popen(
            [executable, "serve", "--prod", "--host", "127.0.0.1", "--port", str(port),
             "--database-url", database, "--drain-timeout", "2s"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    try:
        ready = wait_until(lambda: process.poll() is not None or call(
            f"http://127.0.0.1:{port}/health", "GET", timeout=2).status == 200, 30.0)
        if not ready or process.poll() is not None:
            yield f"the second engine did not start (exit {process.poll()})"
            return
        body = b"{}"
        known = call(f"http://127.0.0.1:{port}/runs/search", "POST", body, {
            "content-type": "application/json", "x-durable-app": suite.app_id,
            signing.SIG: signing.mac(suite.app.key, body)})
        if known.status != 200:
            yield f"the second engine does not share the first one's database ({known.status})"
            return
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _embedded_database(scratch: str | None) -> str | None:
    """The URL of the embedded Postgres the engine started in its scratch folder (the
    harness's `{tmp}/pgdata`), from its postmaster.pid: line 4 the port, 6 the address."""
    try:
        lines = open(os.path.join(scratch or "", "pgdata", "postmaster.pid")).read().split("\n")
    except OSError:
        return None
    if len(lines) < 6 or not lines[3].strip().isdigit():
        return None
    host = lines[5].strip().split(" ")[0] or "127.0.0.1"
    return f"postgresql://postgres@{host}:{lines[3].strip()}/postgres"


def cron_ticks(suite: EngineSuite) -> list[Result]:
    """An every-second cron function while two engine processes run: one run per
    whole-second tick with the tick event. The second one runs in production mode with a
    dev app URL, so it must not send discovery requests. Then, alone again, the engine
    process is frozen (SIGSTOP) for FREEZE_S, a real downtime for its scheduler, and must
    fire only the most recent missed tick before going on."""
    ticks = Result("cron-every-second-ticks", "engine", ["CRON-2", "CRON-8", "CRON-9"])
    catch_up = Result("cron-catch-up-after-downtime", "engine", ["CRON-7"])
    prod = Result("no-discovery-outside-dev", "engine", ["DISC-3"])
    runtime = "conf-tick@2"
    scripts = {runtime: ({"id": "conf-tick", "version": "2", "retries": 0,
                          "trigger": {"cron": EVERY_SECOND}}, done)}
    process = getattr(suite.engine, "process", None)
    freeze: tuple[int, int] | None = None
    watched = DevApp(key="conf-dev-key-" + secrets.token_hex(16), scripts={})
    watched.app_id = "conf-prod-" + secrets.token_hex(4)
    watched.app_name = watched.app_id
    watched.start()
    try:
        with workspace(suite, scripts) as ws:
            try:
                with second_engine(suite, watched.url) as other:
                    started = time.monotonic()
                    if isinstance(other, str):
                        prod.skip(other)
                    else:
                        ticks.cover(["CRON-8"])  # the ticks below came from two processes
                    first = wait_until(lambda: len({_tick_of(i.json())
                                                    for i in ws.invokes(runtime)}) >= 4, 8.0)
                    if not isinstance(other, str):  # longer than a dev engine's probe interval
                        time.sleep(max(0.0, 3.0 - (time.monotonic() - started)))
                if not isinstance(other, str):
                    _check_no_discovery(suite, prod, watched)
                if not first:
                    ticks.fail(["CRON-8"], f"{len(ws.invokes(runtime))} cron invocations in"
                                           f" 8 s of an every-second cron {EVERY_SECOND!r}")
                    catch_up.skip("no ticks to catch up on")
                    return [ticks, catch_up, prod]
                if process is None or not hasattr(signal, "SIGSTOP") or \
                        process.poll() is not None:
                    catch_up.skip("the engine process is not ours to pause")
                else:
                    freeze = _freeze(process.pid)
                    time.sleep(2.5)
            finally:
                ws.post("/fn/sync", sync_body([]))  # no more ticks
            # Runs of the last ticks may still be on their way to the app.
            wait_until(lambda: all(r.get("status") in TERMINAL for r in ws.runs(runtime)), 5.0,
                       0.2)
            invokes = ws.invokes(runtime)
            _check_tick_events(ws, ticks, runtime, invokes, ws.runs(runtime))
            fired = sorted({t for t in (_tick_of(i.json()) for i in invokes) if t is not None})
            before = [t for t in fired if freeze is None or t <= freeze[0]]
            gaps = [(iso(a), iso(b)) for a, b in zip(before, before[1:], strict=False)
                    if b - a != 1000]
            if gaps:
                ticks.fail(["CRON-2"], f"{EVERY_SECOND!r} (seconds first) skipped seconds:"
                                       f" {gaps}")
            if freeze is not None:
                _check_catch_up(catch_up, fired, *freeze)
            ws.post("/runs/bulk-cancel", {"functionId": runtime, "status": "queued"})
    finally:
        watched.stop()
    return [ticks, catch_up, prod]


def _freeze(pid: int) -> tuple[int, int]:
    """SIGSTOP the engine at .2 s into a second (so the most recent missed tick is
    unambiguous) for FREEZE_S; (stopped, resumed) in unix ms."""
    time.sleep(((1200 - signing.now_ms() % 1000) % 1000) / 1000)
    stopped_ms = signing.now_ms()
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(FREEZE_S)
    finally:
        resumed_ms = signing.now_ms()
        os.kill(pid, signal.SIGCONT)
    return stopped_ms, resumed_ms


def _check_no_discovery(suite: EngineSuite, result: Result, watched: FakeApp) -> None:
    probes = [r for r in watched.received if r.headers.get("x-durable-discovery")]
    if probes:
        result.fail([], f"an engine started with --prod sent {len(probes)} discovery"
                        f" request(s) to DURABLE_DEV_APP_URL {watched.url}")
    reply = call(suite.base + "/api/apps", "GET", None,
                 {"authorization": f"Bearer {suite.admin_token}"})
    if watched.app_id in reply.text(1_000_000):
        result.fail([], f"a workspace {watched.app_id} was created from a discovery answer"
                        " while no dev engine looked at that URL")


def _tick_of(invoke: dict[str, Any]) -> int | None:
    event = invoke.get("event") if isinstance(invoke, dict) else None
    ts = event.get("ts") if isinstance(event, dict) else None
    return ts if isinstance(ts, int) and not isinstance(ts, bool) else None


def _check_tick_events(ws: Workspace, result: Result, runtime: str,
                       invokes: list[Any], runs: list[dict[str, Any]]) -> None:
    first_invokes: dict[str, dict[str, Any]] = {}
    for item in invokes:
        body = item.json()
        first_invokes.setdefault(body.get("runId"), body)
    for run_id, body in first_invokes.items():
        event = body.get("event")
        tick = _tick_of(body)
        if tick is None:
            result.fail(["CRON-9"], f"run {run_id}: event {json.dumps(event)[:200]} has no"
                                    " integer ts")
            continue
        want = {"id": f"cron:{runtime}:{tick}", "name": "durable/cron",
                "data": {"cron": EVERY_SECOND, "scheduledAt": iso(tick)}, "ts": tick}
        if event != want:
            result.fail(["CRON-9"], f"run {run_id}: event {json.dumps(event)[:240]}, expected"
                                    f" {json.dumps(want)}")
        if tick % 1000:
            result.fail(["CRON-2"], f"tick {tick} of {EVERY_SECOND!r} is not a whole second")
    # Stored events equal the invoked ones, and no tick has two runs.
    by_event = Counter(r.get("eventId") for r in runs)
    by_tick = Counter(_tick_of(body) for body in first_invokes.values())
    doubled = {e: n for e, n in (by_event + by_tick).items() if n > 1}
    if any(n > 1 for n in by_event.values()) or any(n > 1 for n in by_tick.values()):
        result.fail(["CRON-8"], f"ticks with several runs (by event id / tick ms): {doubled}")
    for summary in runs[:3]:
        stored = ws.run(summary["runId"]) or {}
        invoked = first_invokes.get(summary["runId"], {}).get("event")
        if invoked is not None and stored.get("event") != invoked:
            result.fail(["CRON-9"], f"run {summary['runId']}: /runs/get event "
                                    f"{json.dumps(stored.get('event'))[:200]} differs from the"
                                    f" invoked {json.dumps(invoked)[:200]}")
        created = parse_iso_ms(summary.get("createdAt"))
        tick = first_invokes.get(summary["runId"], {}).get("event", {}).get("ts")
        if isinstance(tick, int) and created is not None and created < tick:
            result.fail(["CRON-9"], f"run for tick {iso(tick)} was created early, at"
                                    f" {summary.get('createdAt')}")


def _check_catch_up(result: Result, ticks: list[int], stopped_ms: int, resumed_ms: int
                    ) -> None:
    """Missed ticks are the whole seconds in (stopped, resumed]: the most recent one fires
    at once, the older ones never; then every second again."""
    last_missed = resumed_ms - resumed_ms % 1000
    fired_missed = [t for t in ticks if stopped_ms < t < last_missed]
    if fired_missed:
        result.fail(["CRON-7"], f"after {FREEZE_S:.0f} s of downtime (ticks "
                                f"{iso(stopped_ms)}..{iso(resumed_ms)} missed) the engine fired"
                                f" older missed ticks {[iso(t) for t in fired_missed]}; only the"
                                f" most recent, {iso(last_missed)}, may fire")
    after = [t for t in ticks if t >= last_missed]
    # The engine resumes .2 s into the second, so the most recent missed tick, when it
    # looks, is last_missed (unless it takes 800 ms to read its clock).
    if not after or after[0] != last_missed:
        result.fail(["CRON-7"], f"after the downtime the first tick was "
                                f"{iso(after[0]) if after else None}, expected the most recent"
                                f" missed one {iso(last_missed)} at once")
        return
    gaps = [(a, b) for a, b in zip(after, after[1:], strict=False) if b - a != 1000]
    if gaps:
        result.fail(["CRON-7"], f"after the catch-up tick the schedule has gaps: "
                                f"{[(iso(a), iso(b)) for a, b in gaps]}")
