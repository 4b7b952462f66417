"""Engine scenarios: definitions and cron validity through `/fn/sync`, cron ticks, the
engine API (openapi, bulk operations, versions), key rotation limits, the callback URL,
API signatures and dev discovery.

Every case runs in a workspace of its own (`workspace.py`), so what it syncs, sends or
cancels cannot disturb another group.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import signing
from ..client import Reply, call
from ..fake_app import TERMINAL, Answer, FakeApp
from ..harness import HarnessError, free_port
from ..paths import repo_root, reports_dir
from ..results import ERROR, Result
from .workspace import Workspace, WorkspaceError, workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite

SDK_VERSION = "conformance/1.0.0"
# A valid definition placed before the one under test, so the error path's index is checked.
FIRST = {"id": "conf-first", "trigger": {"event": "conf.api.never"}}
CRON_VALIDITY = {"CRON-1", "CRON-2", "CRON-3"}
EVERY_SECOND = "* * * * * *"
FREEZE_S = 3.0  # engine "downtime" for the cron catch-up check


def run(suite: EngineSuite) -> list[Result]:
    results: list[Result] = []
    cases: list[tuple[str, Callable[[EngineSuite], list[Result]]]] = [
        ("definitions", definition_vectors), ("cron-validity", cron_vectors),
        ("cron-ticks", cron_ticks), ("openapi", openapi), ("bulk", bulk_operations),
        ("versions", versions), ("keys", key_limits), ("callback-url", callback_url),
        ("signatures", api_signatures), ("discovery", discovery),
    ]
    for name, case in cases:
        began = time.monotonic()
        try:
            results += case(suite)
        except (WorkspaceError, HarnessError) as error:
            broken = Result(f"api-{name}", "engine", [], status=ERROR)
            broken.failures.append(f"could not set up the {name} scenario: {error}")
            results.append(broken)
        except Exception as error:  # noqa: BLE001 - an odd answer must not hide other cases
            broken = Result(f"api-{name}", "engine", [], status=ERROR)
            broken.failures.append(f"the {name} scenario crashed: {error!r}")
            results.append(broken)
        suite.log(f"api: {name} took {time.monotonic() - began:.1f} s")
    return results


# ---- helpers -----------------------------------------------------------------------------

def iso(ms: int) -> str:
    stamp = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso_ms(text: Any) -> int | None:
    try:
        return int(datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def in_ms(ms: int) -> str:
    return iso(signing.now_ms() + ms)


def error_of(reply: Reply) -> tuple[str | None, str | None]:
    """(error.code, error.path) of an engine error answer, (None, None) when it has none."""
    try:
        error = reply.json().get("error")
    except (ValueError, AttributeError):
        return None, None
    if not isinstance(error, dict):
        return None, None
    return error.get("code"), error.get("path")


def seen(reply: Reply) -> str:
    return f"{reply.status} {reply.text(160)!r}"


def sync_body(functions: list[Any], **extra: Any) -> dict[str, Any]:
    return {"sdkVersion": SDK_VERSION, "functions": functions, **extra}


def definitions_of(ws: Workspace, **changes: dict[str, Any]) -> list[dict[str, Any]]:
    """The fake app's definitions, with members changed per runtime id."""
    out = []
    for definition in ws.app.definitions():
        runtime = f"{definition['id']}@{definition['version']}" if definition.get(
            "version") else definition["id"]
        out.append({**definition, **changes.get(runtime, {})})
    return out


def wait_until(check: Callable[[], Any], timeout_s: float, every_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every_s)


def skipped(suite: EngineSuite, result: Result) -> bool:
    """A case the harness leaves out ("skipCases": {"case-id": "reason"}) is skipped."""
    reason = suite.harness.raw.get("skipCases", {}).get(result.case)
    if reason is not None:
        result.skip(str(reason))
    return reason is not None


def done(request: dict[str, Any]) -> Answer:
    return Answer(op={"op": "done", "data": {"runId": request.get("runId")}})


# ---- DEF-*: definitions through /fn/sync -------------------------------------------------

def definition_vectors(suite: EngineSuite) -> list[Result]:
    """Each case of spec/vectors/definitions synced behind a valid definition: valid → 200
    listing its runtime id; invalid → 400 INVALID_REQUEST at /functions/1 + errorPath."""
    results: list[Result] = []
    with workspace(suite, {}, sync=False) as ws:
        for case in suite.spec.vectors("definitions"):
            data = case.data
            result = Result(f"sync-{case.id}", "engine", list(dict.fromkeys(
                ["DEF-1", *case.requirements])))
            if skipped(suite, result):
                results.append(result)
                continue
            definition = data["definition"]
            reply = ws.post("/fn/sync", sync_body([FIRST, definition]))
            _judge_sync(result, reply, bool(data["valid"]), definition,
                        "/functions/1" + str(data.get("errorPath", "")))
            results.append(result)
        results += duplicate_ids(ws)
        results += invalid_sync_changes_nothing(ws)
        ws.post("/fn/sync", sync_body([]))
    return results


def _judge_sync(result: Result, reply: Reply, valid: bool, definition: Any,
                want_path: str) -> None:
    if valid:
        if reply.status != 200:
            result.fail([], f"a valid definition was refused: {seen(reply)}")
            return
        runtime = f"{definition['id']}@{definition['version']}" if definition.get(
            "version") else definition["id"]
        answer = reply.json()
        if answer.get("ok") is not True or answer.get("functions") != [FIRST["id"], runtime]:
            result.fail(["DEF-1"], f"sync answered {json.dumps(answer)[:200]}, expected ok and"
                                   f" functions {[FIRST['id'], runtime]}")
        return
    code, path = error_of(reply)
    if reply.status != 400 or code != "INVALID_REQUEST":
        result.fail([], f"an invalid definition was answered {seen(reply)}, expected 400"
                        " INVALID_REQUEST")
    elif path != want_path:
        result.fail([], f"error.path {path!r}, expected {want_path!r}")


def invalid_sync_changes_nothing(ws: Workspace) -> list[Result]:
    """[DEF-1]: one invalid definition refuses the whole set; the live set stays as it was."""
    result = Result("sync-invalid-set-changes-nothing", "engine", ["DEF-1", "API-6"])
    kept = {"id": "conf-kept", "trigger": {"event": "conf.api.kept"}}
    fresh = {"id": "conf-fresh", "trigger": {"event": "conf.api.fresh"}}
    reply = ws.post("/fn/sync", sync_body([kept]))
    if reply.status != 200:
        result.fail([], f"sync of one valid definition answered {seen(reply)}")
        return [result]
    reply = ws.post("/fn/sync", sync_body([fresh, {**kept, "retries": 99}]))
    if reply.status != 400:
        result.fail([], f"a set with an invalid definition answered {seen(reply)}")
    for function_id, active in (("conf-kept", True), ("conf-fresh", None)):
        code, answer = ws.api("/versions/status", {"functionId": function_id})
        versions = answer.get("versions", []) if code == 200 else []
        now = versions[0].get("active") if len(versions) == 1 else None
        if (active is None and code != 404) or (active is not None and now is not active):
            result.fail(["DEF-1"], f"after the refused sync /versions/status {function_id}"
                                   f" answered {code} {json.dumps(answer)[:200]}; expected"
                                   f" {'404' if active is None else 'it still active'}")
    return [result]


def duplicate_ids(ws: Workspace) -> list[Result]:
    """[DEF-15]: runtime ids are unique per sync; one id in two versions is fine ([DEF-4])."""
    result = Result("sync-duplicate-runtime-ids", "engine", ["DEF-15", "DEF-4"])
    same = {"id": "dup", "trigger": {"event": "conf.api.dup"}}
    reply = ws.post("/fn/sync", sync_body([FIRST, same, dict(same)]))
    code, path = error_of(reply)
    if reply.status != 400 or code != "INVALID_REQUEST" or path != "/functions/2/id":
        result.fail(["DEF-15"], f"two functions 'dup' answered {seen(reply)}, expected 400"
                                " INVALID_REQUEST at /functions/2/id")
    versioned = [{**same, "version": "1"}, {**same, "version": "1"}]
    reply = ws.post("/fn/sync", sync_body([FIRST, *versioned]))
    code, path = error_of(reply)
    if reply.status != 400 or code != "INVALID_REQUEST" or path != "/functions/2/id":
        result.fail(["DEF-15"], f"two functions 'dup@1' answered {seen(reply)}, expected 400"
                                " INVALID_REQUEST at /functions/2/id")
    versions = [same, {**same, "version": "1"}, {**same, "version": "2"}]
    reply = ws.post("/fn/sync", sync_body(versions))
    if reply.status != 200 or reply.json().get("functions") != ["dup", "dup@1", "dup@2"]:
        result.fail(["DEF-4"], f"'dup', 'dup@1' and 'dup@2' answered {seen(reply)}, expected"
                               " 200 with the three runtime ids")
    return [result]


def cron_vectors(suite: EngineSuite) -> list[Result]:
    """Each case of spec/vectors/cron as a (disabled, so it never fires) cron trigger."""
    results: list[Result] = []
    with workspace(suite, {}, sync=False) as ws:
        for case in suite.spec.vectors("cron"):
            data = case.data
            cited = [r for r in case.requirements if r in CRON_VALIDITY] or ["CRON-1"]
            result = Result(f"sync-{case.id}", "engine", ["DEF-14", *cited])
            if skipped(suite, result):
                results.append(result)
                continue
            definition = {"id": "conf-cron", "trigger": {"cron": data["expr"]},
                          "enabled": False}
            reply = ws.post("/fn/sync", sync_body([FIRST, definition]))
            _judge_sync(result, reply, bool(data["valid"]), definition,
                        "/functions/1/trigger/cron")
            results.append(result)
        ws.post("/fn/sync", sync_body([]))
    return results


# ---- a second engine process (reference CLI only) ----------------------------------------

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


# ---- CRON-7/8/9: ticks, and DISC-3 of a production engine ---------------------------------

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


# ---- API-15: the OpenAPI document --------------------------------------------------------

def openapi(suite: EngineSuite) -> list[Result]:
    result = Result("openapi-served-unchanged", "engine", ["API-15"])
    reply = call(suite.base + "/openapi.yaml", "GET")
    spec_file = repo_root() / "spec" / "openapi.yaml"
    content_type = reply.headers.get("content-type", "").split(";")[0].strip()
    if reply.status != 200:
        result.fail([], f"GET /openapi.yaml without credentials answered {seen(reply)}")
    elif content_type != "application/yaml":
        result.fail([], f"GET /openapi.yaml is {content_type!r}, expected application/yaml")
    elif reply.body != spec_file.read_bytes():
        result.fail([], f"GET /openapi.yaml ({len(reply.body)} bytes) differs from"
                        f" spec/openapi.yaml ({spec_file.stat().st_size} bytes)")
    return [result]


# ---- API-16/17/18: bulk cancel and rerun -------------------------------------------------

def _hold(request: dict[str, Any]) -> Answer:
    event = request.get("event") or {}
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    if data.get("finish") or "release" in (request.get("steps") or {}):
        return done(request)
    return Answer(op={"op": "wait", "id": "release", "event": "conf.api.release",
                      "match": {"k": data.get("k")}, "until": in_ms(60_000)})


def bulk_operations(suite: EngineSuite) -> list[Result]:
    scripts = {"hold": ({"trigger": {"event": "conf.api.hold"}}, _hold),
               "quick": ({"trigger": {"event": "conf.api.quick"}}, done)}
    filters = Result("bulk-needs-a-filter", "engine", ["API-16"])
    cancel = Result("bulk-cancel-pages-live-runs", "engine", ["API-16", "API-17"])
    rerun = Result("bulk-rerun-idempotent-per-run", "engine", ["API-16", "API-18"])
    with workspace(suite, scripts) as ws:
        for path, body in (("/runs/bulk-cancel", {}), ("/runs/bulk-cancel", {"limit": 5}),
                           ("/runs/bulk-rerun", {"idempotencyKey": "k"})):
            reply = ws.post(path, body)
            if reply.status != 400 or error_of(reply)[0] != "INVALID_REQUEST":
                filters.fail([], f"{path} {json.dumps(body)} (no filter member) answered"
                                 f" {seen(reply)}, expected 400 INVALID_REQUEST")
        _bulk_cancel(ws, cancel)
        _bulk_rerun(ws, rerun)
    return [filters, cancel, rerun]


def _send_all(ws: Workspace, name: str, datas: list[dict[str, Any]]) -> list[str] | None:
    run_ids = []
    for data in datas:
        code, receipt = ws.send(name, data)
        if code != 200 or len(receipt.get("runIds", [])) != 1:
            return None
        run_ids += receipt["runIds"]
    return run_ids


def _bulk_cancel(ws: Workspace, result: Result) -> None:
    finished = _send_all(ws, "conf.api.hold", [{"finish": True}])
    held = _send_all(ws, "conf.api.hold", [{"k": n} for n in range(5)])
    if finished is None or held is None:
        result.fail([], "the events for the bulk cancel were refused")
        return
    if (ws.wait_run(finished[0]) or {}).get("status") != "completed" or not all(
            (ws.wait_run(r, {"waiting"}, 15) or {}).get("status") == "waiting" for r in held):
        result.fail([], "the runs to cancel never reached completed / waiting")
        return
    order = [r["runId"] for r in ws.runs("hold") if r["runId"] in held]  # [API-8] order
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(4):
        body: dict[str, Any] = {"functionId": "hold", "limit": 2}
        if cursor:
            body["cursor"] = cursor
        reply = ws.post("/runs/bulk-cancel", body)
        if reply.status != 200:
            result.fail([], f"/runs/bulk-cancel {json.dumps(body)} answered {seen(reply)}")
            return
        answer = reply.json()
        pages.append(answer.get("cancelled"))
        cursor = answer.get("nextCursor")
        if not cursor:
            break
    want = [order[0:2], order[2:4], order[4:5]]
    if pages != want:
        result.fail(["API-16", "API-17"], f"pages of 2 cancelled {pages}, expected the live"
                                          f" runs newest first {want} (the completed run"
                                          f" {finished[0]} never listed) with nextCursor"
                                          " until the last")
    statuses = {r: (ws.run(r) or {}).get("status") for r in [*held, *finished]}
    if any(statuses[r] != "cancelled" for r in held) or statuses[finished[0]] != "completed":
        result.fail(["API-17"], f"after the bulk cancel the statuses are {statuses}")
    for body in ({"functionId": "hold"}, {"functionId": "hold", "status": "completed"}):
        reply = ws.post("/runs/bulk-cancel", body)
        answer = reply.json() if reply.status == 200 else {}
        if answer.get("cancelled") != [] or answer.get("nextCursor", "absent") is not None:
            result.fail(["API-17"], f"bulk cancel {json.dumps(body)} over terminal runs only"
                                    f" answered {seen(reply)}, expected nothing cancelled")
    if (ws.run(finished[0]) or {}).get("status") != "completed":
        result.fail(["API-17"], "a bulk cancel changed the status of a completed run")


def _bulk_rerun(ws: Workspace, result: Result) -> None:
    sources = _send_all(ws, "conf.api.quick", [{"n": n} for n in range(3)])
    if sources is None or not all((ws.wait_run(r) or {}).get("status") == "completed"
                                  for r in sources):
        result.fail([], "the runs to rerun never completed")
        return
    time.sleep(0.01)
    created_to = iso(signing.now_ms())
    order = [r["runId"] for r in ws.runs("quick")]
    key = "conf-bulk-" + secrets.token_hex(4)
    base = {"functionId": "quick", "createdTo": created_to, "idempotencyKey": key, "limit": 2}

    def pages() -> list[dict[str, Any]] | None:
        answers, cursor = [], None
        for _ in range(3):
            reply = ws.post("/runs/bulk-rerun", {**base, **({"cursor": cursor} if cursor
                                                            else {})})
            if reply.status != 200:
                result.fail([], f"/runs/bulk-rerun answered {seen(reply)}")
                return None
            answers.append(reply.json())
            cursor = answers[-1].get("nextCursor")
            if not cursor:
                return answers
        return answers

    first = pages()
    again = pages() if first is not None else None
    if first is None or again is None:
        return
    reruns = [r for page in first for r in page.get("reruns", [])]
    if [r.get("rerunOf") for r in reruns] != order or len(first) != 2 or \
            any(r.get("duplicate") is not False for r in reruns):
        result.fail(["API-16", "API-18"], f"pages of 2 reran {json.dumps(first)[:300]},"
                                          f" expected {order} newest first in two pages,"
                                          " each duplicate false")
        return
    repeated = [r for page in again for r in page.get("reruns", [])]
    want = [{**r, "duplicate": True} for r in reruns]
    if repeated != want:
        result.fail(["API-18"], f"the same call again answered {json.dumps(repeated)[:300]},"
                                f" expected the first new runs with duplicate true {want}")
    for rerun in reruns:
        new = ws.wait_run(rerun["runId"]) or {}
        source = ws.run(rerun["rerunOf"]) or {}
        if new.get("functionId") != "quick" or new.get("eventId") != source.get("eventId") \
                or new.get("status") != "completed":
            result.fail(["API-18"], f"rerun {rerun['runId']} is {json.dumps(new)[:200]},"
                                    f" expected a completed run of quick for event"
                                    f" {source.get('eventId')}")
    total = len(ws.runs("quick"))
    if total != 6:
        result.fail(["API-18"], f"{total} runs of quick after two identical bulk reruns of"
                                " three runs, expected 6")


# ---- API-20: versions --------------------------------------------------------------------

def _v1(request: dict[str, Any]) -> Answer:
    if "nap" not in (request.get("steps") or {}):
        return Answer(op={"op": "sleep", "id": "nap", "until": in_ms(2500)})
    return Answer(op={"op": "error", "id": None, "message": "v1 fails", "name": "Error",
                      "retryable": True})


def versions(suite: EngineSuite) -> list[Result]:
    """A run of ver@1 sleeps while ver@1 is disabled, then retired: new events only start
    ver@2; the old run wakes as ver@1 and fails per ver@1's `retries: 0` (ver@2 has 2)."""
    result = Result("versions-disabled-retired-run-keeps-version", "engine", ["API-20"])
    trigger = {"event": "conf.api.ver"}
    scripts = {"ver@1": ({"id": "ver", "version": "1", "trigger": trigger, "retries": 0}, _v1),
               "ver@2": ({"id": "ver", "version": "2", "trigger": trigger, "retries": 2}, done)}
    with workspace(suite, scripts) as ws:
        code, receipt = ws.send("conf.api.ver", {"n": 1})
        runs = {(ws.run(r) or {}).get("functionId"): r for r in receipt.get("runIds", [])} \
            if code == 200 else {}
        if set(runs) != {"ver@1", "ver@2"}:
            result.fail([], f"an event for two live versions created runs {runs}, {code}")
            return [result]
        old = runs["ver@1"]
        if (ws.wait_run(old, {"sleeping"}, 10) or {}).get("status") != "sleeping":
            result.fail([], "the ver@1 run never slept")
            return [result]
        for step, functions in (
                ("disabled", definitions_of(ws, **{"ver@1": {"enabled": False}})),
                ("retired", definitions_of(ws)[1:])):
            reply = ws.post("/fn/sync", sync_body(functions))
            if reply.status != 200:
                result.fail([], f"sync with ver@1 {step} answered {seen(reply)}")
                continue
            if step == "retired" and reply.json().get("deactivated") != ["ver@1"]:
                result.fail([], f"sync without ver@1 answered {reply.text()}, expected"
                                " deactivated [ver@1]")
            code, receipt = ws.send("conf.api.ver", {"step": step})
            started = [(ws.run(r) or {}).get("functionId")
                       for r in (receipt.get("runIds", []) if code == 200 else [])]
            if code != 200 or started != ["ver@2"]:
                result.fail([], f"with ver@1 {step} an event started {started} ({code}),"
                                " expected only ver@2")
        final = ws.wait_run(old, timeout_s=15) or {}
        named = [i.json().get("functionId") for i in ws.invokes("ver@1")
                 if i.json().get("runId") == old]
        wrong = [i.json().get("functionId") for i in ws.invokes("ver@2")
                 if i.json().get("runId") == old]
        if final.get("functionId") != "ver@1" or named != ["ver@1", "ver@1"] or wrong or \
                final.get("status") != "failed":
            result.fail([], f"the ver@1 run after its version was retired: status"
                            f" {final.get('status')!r}, functionId {final.get('functionId')!r},"
                            f" invoked as {named + wrong}; expected two invocations as ver@1"
                            " and failed at once per ver@1's retries 0")
    return [result]


# ---- KEY-4/KEY-5: rotation limits --------------------------------------------------------

def key_limits(suite: EngineSuite) -> list[Result]:
    result = Result("rotate-and-retire-limits", "engine", ["KEY-4", "KEY-5"])
    with workspace(suite, {}, sync=False) as ws:
        original = ws.app.key
        rotate = ws.admin("POST", f"/api/apps/{ws.app_id}/rotate-key", {})
        rotated = rotate.json() if rotate.status == 200 else {}
        new_key = rotated.get("key")
        if not isinstance(new_key, str) or rotated.get("activeKeys") != 2:
            result.fail(["KEY-4"], f"rotate-key with one key answered {seen(rotate)}")
            return [result]
        again = ws.admin("POST", f"/api/apps/{ws.app_id}/rotate-key", {})
        if again.status != 409 or error_of(again)[0] != "CONFLICT":
            result.fail(["KEY-4"], f"rotate-key with two keys answered {seen(again)},"
                                   " expected 409 CONFLICT")
        retire = ws.admin("POST", f"/api/apps/{ws.app_id}/retire-key", {})
        if retire.status != 200 or retire.json().get("activeKeys") != 1:
            result.fail(["KEY-5"], f"retire-key with two keys answered {seen(retire)}")
            return [result]
        again = ws.admin("POST", f"/api/apps/{ws.app_id}/retire-key", {})
        if again.status != 409 or error_of(again)[0] != "CONFLICT":
            result.fail(["KEY-5"], f"retire-key with one key answered {seen(again)},"
                                   " expected 409 CONFLICT")
        old = ws.post("/runs/search", {"limit": 1}, key=original)
        new = ws.post("/runs/search", {"limit": 1}, key=new_key)
        if old.status != 401 or new.status != 200:
            result.fail(["KEY-5"], f"after retire-key a call signed with the retired key"
                                   f" answered {old.status}, with the remaining key"
                                   f" {new.status}; expected 401 and 200")
    return [result]


# ---- ROLE-3: the callback URL is not the app's to set ------------------------------------

def callback_url(suite: EngineSuite) -> list[Result]:
    result = Result("sync-never-sets-the-callback-url", "engine", ["ROLE-3"])
    scripts = {"role": ({"trigger": {"event": "conf.api.role"}}, done)}
    decoy = FakeApp(scripts=dict(scripts))
    decoy.start()
    try:
        with workspace(suite, scripts) as ws:
            decoy.key = ws.app.key
            for member in ("appUrl", "url"):
                reply = ws.post("/fn/sync", sync_body(ws.app.definitions(),
                                                      **{member: decoy.url}))
                # The sync request is closed ([API-3]): the member is refused, not used.
                if reply.status != 400 or error_of(reply) != ("INVALID_REQUEST", f"/{member}"):
                    result.fail(["ROLE-3", "API-3"], f"sync with an extra {member!r} answered"
                                                     f" {seen(reply)}, expected 400"
                                                     f" INVALID_REQUEST at /{member}")
                else:
                    result.cover(["API-3"])
            code, receipt = ws.send("conf.api.role", {})
            run_id = (receipt.get("runIds") or [None])[0] if code == 200 else None
            final = ws.wait_run(run_id, timeout_s=15) if run_id else None
            if (final or {}).get("status") != "completed" or not ws.invokes("role") or \
                    decoy.invokes("role") or decoy.received:
                result.fail([], f"after syncs naming another URL the run ended"
                                f" {(final or {}).get('status')!r}; the provisioned app got"
                                f" {len(ws.invokes('role'))} invokes, the other URL"
                                f" {len(decoy.received)} requests")
            listed = [a for a in ws.admin("GET", "/api/apps").json().get("apps", [])
                      if a.get("id") == ws.app_id]
            if not listed or listed[0].get("appUrl") != ws.app.url:
                result.fail([], f"GET /api/apps shows the workspace as {listed}, expected"
                                f" appUrl {ws.app.url}")
    finally:
        decoy.stop()
    return [result]


# ---- SIG-2/6/8/11: engine API signatures -------------------------------------------------

def api_signatures(suite: EngineSuite) -> list[Result]:
    v1 = Result("api-v1-signature-checks", "engine", ["SIG-2", "SIG-8"])
    v2 = Result("api-v2-signature-checks", "engine", ["SIG-6", "SIG-11", "LIMIT-1"])
    body = json.dumps({"limit": 1}, separators=(",", ":")).encode()
    with workspace(suite, {}, sync=False) as ws, workspace(suite, {}, sync=False) as other:
        key = ws.app.key
        good = signing.mac(key, body)

        def attempt(result: Result, ids: list[str], what: str, headers: dict[str, str],
                    want: int, payload: bytes = body) -> None:
            sent = {"content-type": "application/json", **headers}
            reply = call(suite.base + "/runs/search", "POST", payload, sent)
            if reply.status != want:
                result.fail(ids, f"{what}: answered {seen(reply)}, expected {want}")
            elif want == 401 and error_of(reply)[0] != "INVALID_SIGNATURE":
                result.fail(["SIG-8"], f"{what}: 401 without code INVALID_SIGNATURE:"
                                       f" {seen(reply)}")

        app = {"x-durable-app": ws.app_id}
        attempt(v1, [], "a correctly signed call", app | {signing.SIG: good}, 200)
        attempt(v1, ["SIG-8"], "no X-Durable-App", {signing.SIG: good}, 401)
        attempt(v1, ["SIG-8"], "an unknown X-Durable-App",
                {"x-durable-app": "conf-no-such-app", signing.SIG: good}, 401)
        attempt(v1, ["SIG-2", "SIG-8"], "no signature", app, 401)
        attempt(v1, ["SIG-2"], "a 63-character signature", app | {signing.SIG: good[:63]}, 401)
        attempt(v1, ["SIG-2"], "the signature in uppercase hex",
                app | {signing.SIG: good.upper()}, 401)
        attempt(v1, ["SIG-8"], "signed with another workspace's key",
                app | {signing.SIG: signing.mac(other.app.key, body)}, 401)
        attempt(v1, ["SIG-8"], "another workspace's id with this one's signature",
                {"x-durable-app": other.app_id, signing.SIG: good}, 401)
        garbage = b"{not json"
        attempt(v1, ["SIG-8"], "a wrongly signed body that is not JSON (signature first)",
                app | {signing.SIG: signing.mac(other.app.key, garbage)}, 401, garbage)

        def stamped(stamp: str, mac_key: str = key) -> dict[str, str]:
            return app | {signing.TIMESTAMP: stamp,
                          signing.SIG_V2: signing.mac(mac_key, signing.v2_input(stamp, body))}

        now = signing.now_ms()
        attempt(v2, ["SIG-11"], "v2 only", stamped(str(now)), 200)
        attempt(v2, ["SIG-11"], "v2 with a wrong v1 signature (ignored)",
                stamped(str(now)) | {signing.SIG: "0" * 64}, 200)
        attempt(v2, ["SIG-11", "LIMIT-1"], "v2 with a timestamp 250 s old",
                stamped(str(now - 250_000)), 200)
        attempt(v2, ["SIG-11"], "a wrong v2 signature with a correct v1 one",
                stamped(str(now), other.app.key) | {signing.SIG: good}, 401)
        attempt(v2, ["SIG-11"], "v2 without X-Durable-Timestamp, correct v1",
                {k: v for k, v in stamped(str(now)).items() if k != signing.TIMESTAMP}
                | {signing.SIG: good}, 401)
        attempt(v2, ["SIG-2", "SIG-11"], "v2 in uppercase hex",
                {**stamped(str(now)), signing.SIG_V2: stamped(str(now))[signing.SIG_V2].upper()},
                401)
        for stamp, what in ((str(now - 310_000), "310 s old"), (str(now + 310_000), "310 s ahead"),
                            (str(now // 1000), "in seconds")):
            attempt(v2, ["SIG-11", "LIMIT-1", "SIG-6"], f"v2 with a timestamp {what}",
                    stamped(stamp), 401)
        for stamp in (f"+{now}", f" {now}", f"{now}.0", f"{now}abc", iso(now), "-1"):
            attempt(v2, ["SIG-6"], f"v2 with timestamp {stamp!r}", stamped(stamp), 401)
    return [v1, v2]


# ---- DISC-1/DISC-3/ROLE-4: dev discovery -------------------------------------------------

class DevApp(FakeApp):
    """A fake app in dev mode: it answers discovery with its key, app id and name."""

    app_id: str = ""
    app_name: str = ""

    def manifest(self) -> dict[str, Any]:
        return {**super().manifest(), "signingKey": self.key, "appId": self.app_id,
                "appName": self.app_name}


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the fake app's server binds: a TIME_WAIT leftover does not make the port busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def discovery(suite: EngineSuite) -> list[Result]:
    result = Result("dev-discovery-creates-workspace", "engine", ["DISC-1", "DISC-3", "ROLE-4"])
    env = {**os.environ, **suite.harness.env}
    if env.get("DURABLE_ENV", "").lower() not in ("dev", "development"):
        return [result.skip("the engine under test is not in dev mode")]
    url = env.get("DURABLE_DEV_APP_URL") or "http://localhost:3000/api/durable"
    parts = urlsplit(url)
    if parts.hostname not in ("localhost", "127.0.0.1") or parts.path != "/api/durable" or \
            not parts.port:
        return [result.skip(f"the dev app URL {url} is not one the fake app can serve")]
    if not _port_free(parts.port):
        return [result.skip(f"port {parts.port} of the dev app URL {url} is in use")]
    tag = secrets.token_hex(4)
    app = DevApp(port=parts.port, key="conf-dev-key-" + secrets.token_hex(16),
                 scripts={"disc-fn": ({"trigger": {"event": "conf.api.disc"}}, done)})
    app.app_id, app.app_name = f"conf-dev-{tag}", f"conformance-dev-{tag}"
    app.start()
    try:
        def listed() -> dict[str, Any] | None:
            reply = call(suite.base + "/api/apps", "GET", None,
                         {"authorization": f"Bearer {suite.admin_token}"})
            try:
                apps = reply.json().get("apps", [])
            except (ValueError, AttributeError):
                return None
            return next((a for a in apps if a.get("id") == app.app_id), None)

        # A dev engine that already found an app probes again only every few seconds.
        found = wait_until(listed, 12.0, 0.2)
        probes = [r for r in app.received if r.method == "GET"
                  and r.headers.get("x-durable-discovery") == "true"]
        if not probes:  # discovery is a MAY ([DISC-1]), the default URL a SHOULD ([ROLE-4])
            return [result.skip(f"in 12 s the dev engine sent no discovery GET to {url}")]
        if found is None:
            result.fail(["DISC-3"], "the engine was answered a discovery manifest with appId"
                                    f" {app.app_id} but created no such workspace")
            return [result]
        want = {"id": app.app_id, "name": app.app_name, "environment": "dev", "appUrl": url}
        if {k: found.get(k) for k in want} != want:
            result.fail(["DISC-3"], f"the discovered workspace is {found}, expected {want}")
        body = json.dumps({"functionId": "disc-fn"}).encode()
        reply = call(suite.base + "/versions/status", "POST", body,
                     {"content-type": "application/json", "x-durable-app": app.app_id,
                      signing.SIG: signing.mac(app.key, body)})
        if reply.status != 200 or [v.get("runtimeId") for v in reply.json().get(
                "versions", [])] != ["disc-fn"]:
            result.fail(["DISC-3"], "the discovered workspace does not take the app's key or"
                                    f" lacks its function: /versions/status {seen(reply)}")
    finally:
        app.stop()
    return [result]
