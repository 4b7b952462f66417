"""Flow scenarios: where keys come from [FLOW-7], versions sharing buckets [FLOW-8], fan-out,
disabled functions [FLOW-9] and workspaces kept apart [ROLE-2].
"""

from __future__ import annotations

import json
import secrets
import time
from typing import TYPE_CHECKING, Any

from ..fake_app import Answer, Script
from ..results import Result
from .flow_common import (
    ENGINE,
    JITTER_S,
    LATE_S,
    Context,
    Tape,
    done,
    first_sends,
    ms,
    poll,
    quick,
    refused,
    send,
    sleep_op,
    status_of,
    wait_op,
)
from .flow_rates import check_skips
from .workspace import workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite


def key_source_functions(tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    def script(request: dict[str, Any]) -> Answer:
        role = request["event"]["data"].get("role")
        return done(role, hold_s=5.0 if role == "hold" else 0.1)

    return {
        "deb-conc": ({"trigger": {"event": "flow.deb-conc"},
                      "debounce": {"periodMs": 300, "key": "d"},
                      "concurrency": {"limit": 1, "key": "c"}}, tape.wrap(script)),
        "bat-conc": ({"trigger": {"event": "flow.bat-conc"},
                      "batch": {"maxSize": 2, "timeoutMs": 20_000},
                      "concurrency": {"limit": 1, "key": "c"}}, tape.wrap(script)),
    }


def case_key_source(ctx: Context) -> list[Result]:
    """A run holds concurrency key c="x" for 5 s. A debounced run whose LAST event has c="y"
    (and a batch whose FIRST event has c="y") must start meanwhile; ones keyed "x" by that
    event must wait for the holder."""
    result = Result("flow-key-of-deferred-runs", ENGINE, ["FLOW-7", "FLOW-1"])
    hold_deb = send(ctx.ws, "flow.deb-conc", {"d": 1, "c": "x", "role": "hold"})
    hold_bat = [send(ctx.ws, "flow.bat-conc", {"c": "x", "role": "hold"}),
                send(ctx.ws, "flow.bat-conc", {"c": "x", "role": "hold"})]
    if refused(result, ["FLOW-7"], [hold_deb, *hold_bat]):
        return [result]
    holders = poll(lambda: len(ctx.tape.of("deb-conc", "bat-conc")) >= 2 and
                   ctx.tape.of("deb-conc", "bat-conc"), 15)
    if not holders:
        result.fail(["FLOW-7"], "the holding runs never started")
        return [result]
    sent = [
        send(ctx.ws, "flow.deb-conc", {"d": 2, "c": "x", "role": "deb-free"}),
        send(ctx.ws, "flow.deb-conc", {"d": 2, "c": "y", "role": "deb-free"}),
        send(ctx.ws, "flow.deb-conc", {"d": 3, "c": "y", "role": "deb-blocked"}),
        send(ctx.ws, "flow.deb-conc", {"d": 3, "c": "x", "role": "deb-blocked"}),
        send(ctx.ws, "flow.bat-conc", {"c": "y", "role": "bat-free"}),
        send(ctx.ws, "flow.bat-conc", {"c": "x", "role": "bat-free"}),
        send(ctx.ws, "flow.bat-conc", {"c": "x", "role": "bat-blocked"}),
        send(ctx.ws, "flow.bat-conc", {"c": "y", "role": "bat-blocked"}),
    ]
    if refused(result, ["FLOW-7"], sent):
        return [result]
    held_until = {s.function_id: s.end for s in holders}
    # the free runs need time to start before the holders end (debounce 300 ms + latency)
    if sent[-1].t1 >= min(held_until.values()) - 2.5:
        return [result.skip("the events were accepted too late while the holders held key"
                            " x (machine too slow for this scenario)")]
    poll(lambda: len(ctx.tape.of("deb-conc", "bat-conc")) >= 6, 15)
    seen = {s.data.get("role"): s for s in ctx.tape.of("deb-conc", "bat-conc")}
    for role, fid, source in (("deb-free", "deb-conc", "last"), ("bat-free", "bat-conc", "first"),
                              ("deb-blocked", "deb-conc", "last"),
                              ("bat-blocked", "bat-conc", "first")):
        span = seen.get(role)
        if span is None:
            states = sorted(str(r.get("status")) for r in ctx.ws.runs(function_id=fid))
            result.fail(["FLOW-7"], f"the {role} run never started ({fid} runs: {states})")
            continue
        during = span.start < held_until[fid]
        if role.endswith("-free") and not during:
            result.fail(["FLOW-7"], f"{fid}: the run whose {source} event has key c='y' waited"
                                    " for the run holding c='x'")
        if role.endswith("-blocked") and during:
            result.fail(["FLOW-7", "FLOW-1"], f"{fid}: the run whose {source} event has key"
                                              " c='x' started while another run held c='x'"
                                              " (limit 1)")
    return [result]


def version_functions(tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    out: dict[str, tuple[dict[str, Any], Script]] = {}
    for v in ("1", "2"):
        out[f"ver-rate@{v}"] = ({"id": "ver-rate", "version": v,
                                 "trigger": {"event": f"flow.ver-rate.{v}"},
                                 "rateLimit": {"limit": 1, "periodMs": 600_000}},
                                tape.wrap(quick))
        out[f"ver-thr@{v}"] = ({"id": "ver-thr", "version": v,
                                "trigger": {"event": f"flow.ver-thr.{v}"},
                                "throttle": {"limit": 1, "periodMs": 2500}}, tape.wrap(quick))
        out[f"ver-deb@{v}"] = ({"id": "ver-deb", "version": v,
                                "trigger": {"event": "flow.ver-deb"},
                                "debounce": {"periodMs": 400}}, tape.wrap(quick))
        out[f"ver-bat@{v}"] = ({"id": "ver-bat", "version": v,
                                "trigger": {"event": "flow.ver-bat"},
                                "batch": {"maxSize": 2, "timeoutMs": 20_000}}, tape.wrap(quick))
    return out


def case_versions_share(ctx: Context) -> list[Result]:
    result = Result("flow-versions-share-buckets", ENGINE, ["FLOW-8"])
    one = send(ctx.ws, "flow.ver-rate.1", {})
    two = send(ctx.ws, "flow.ver-rate.2", {})
    thr = [send(ctx.ws, "flow.ver-thr.1", {}), send(ctx.ws, "flow.ver-thr.2", {})]
    deb = [send(ctx.ws, "flow.ver-deb", {"n": n}) for n in range(2)]
    bat = [send(ctx.ws, "flow.ver-bat", {"n": n}) for n in range(2)]
    if refused(result, ["FLOW-8"], [one, two, *thr, *deb, *bat]):
        return [result]
    check_skips(result, ["FLOW-8"], ctx.ws, [one, two], [False, True],
                "rate limit 1 shared by ver-rate@1 and @2")
    poll(lambda: len(ctx.tape.of("ver-thr@1", "ver-thr@2")) >= 2 and
         ctx.tape.of("ver-deb@1", "ver-deb@2") and ctx.tape.of("ver-bat@1", "ver-bat@2"), 15)
    time.sleep(max(0.0, deb[-1].t1 + 0.4 + LATE_S - time.time()))
    starts = sorted(first_sends(ctx.ws, "ver-thr@1", "ver-thr@2").values())
    if len(starts) != 2:
        result.fail(["FLOW-8"], f"ver-thr: {len(starts)} runs started, expected 2")
    elif starts[1] - starts[0] < 2.5 - JITTER_S:
        result.fail(["FLOW-8"], f"ver-thr@1 and @2 started {ms(starts[1] - starts[0])} ms"
                                " apart; they share throttle limit 1 per 2500 ms")
    for fid, events in (("ver-deb", deb), ("ver-bat", bat)):
        runs = ctx.tape.by_run(f"{fid}@1", f"{fid}@2")
        if len(runs) != 1:
            result.fail(["FLOW-8"], f"{fid}: {len(runs)} runs across versions 1 and 2, expected"
                                    " one from the shared bucket")
            continue
        first = next(iter(runs.values()))[0]
        got = (first.request.get("event") or {}).get("id")
        want = events[-1].id if fid == "ver-deb" else events[0].id
        if got != want:
            result.fail(["FLOW-8"], f"{fid}: the run carries event {got}, expected {want}")
    return [result]


def fanout_functions(tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    return {
        "fan-a": ({"trigger": {"event": "flow.fan"}}, tape.wrap(quick)),
        "fan-b": ({"trigger": {"event": "flow.fan"}, "priority": 5}, tape.wrap(quick)),
        "fan-off": ({"trigger": {"event": "flow.fan"}, "enabled": False}, tape.wrap(quick)),
        "fan-other": ({"trigger": {"event": "flow.fan.other"}}, tape.wrap(quick)),
    }


def case_fanout(ctx: Context) -> list[Result]:
    result = Result("events-fan-out-to-enabled-functions", ENGINE, ["EVT-5", "FLOW-9"])
    sent = send(ctx.ws, "flow.fan", {"n": 1})
    if refused(result, ["EVT-5"], [sent]):
        return [result]
    if len(sent.run_ids) != 2:
        result.fail(["EVT-5", "FLOW-9"], f"the receipt lists runs {sent.run_ids}; two enabled"
                                         " functions (of three) are triggered by the name")
    poll(lambda: len(ctx.tape.by_run("fan-a", "fan-b")) >= 2, 15)
    time.sleep(0.5)
    invoked = {s.function_id: s.request.get("event", {}).get("id")
               for s in ctx.tape.of("fan-a", "fan-b", "fan-off", "fan-other")}
    if invoked != {"fan-a": sent.id, "fan-b": sent.id}:
        result.fail(["EVT-5"], f"the app was invoked as {invoked}; expected fan-a and fan-b"
                               f" with event {sent.id}")
    if ctx.ws.runs(function_id="fan-off"):
        result.fail(["FLOW-9"], "a disabled function got a run")
    return [result]


def case_disable(suite: EngineSuite) -> list[Result]:
    """Disable a function while its run sleeps: no new runs, the sleeping one completes."""
    result = Result("flow-disabled-function", ENGINE, ["FLOW-9"])
    tape = Tape()

    def napper(request: dict[str, Any]) -> Answer:
        if "nap" not in (request.get("steps") or {}):
            return sleep_op("nap", 1500)
        return done("woke")

    scripts = {"toggle": ({"trigger": {"event": "flow.toggle"}}, tape.wrap(napper)),
               "always": ({"trigger": {"event": "flow.toggle"}}, tape.wrap(quick))}
    with workspace(suite, scripts) as ws:
        first = send(ws, "flow.toggle", {"n": 1})
        if refused(result, ["FLOW-9"], [first]):
            return [result]
        toggle_run = poll(lambda: next((s.run_id for s in tape.of("toggle")), None), 15)
        if toggle_run is None or poll(lambda: status_of(ws, toggle_run) == "sleeping",
                                      15) is not True:
            result.fail(["FLOW-9"], "the toggle run never reached status sleeping")
            return [result]
        manifest = ws.app.manifest()
        for definition in manifest["functions"]:
            if definition["id"] == "toggle":
                definition["enabled"] = False
        code, answer = ws.api("/fn/sync", manifest)
        if code != 200:
            result.fail(["FLOW-9"], f"/fn/sync with enabled: false answered {code} {answer!r}")
            return [result]
        second = send(ws, "flow.toggle", {"n": 2})
        if refused(result, ["FLOW-9"], [second]):
            return [result]
        final = ws.wait_run(toggle_run, timeout_s=15)
        if not final or final.get("status") != "completed":
            result.fail(["FLOW-9"], "the run started before the function was disabled did not"
                                    f" continue to completion: {final and final.get('status')}")
        poll(lambda: len(tape.of("always")) >= 2, 10)
        runs = ws.runs(function_id="toggle")
        if [r.get("runId") for r in runs] != [toggle_run]:
            result.fail(["FLOW-9"], f"the disabled function has runs {runs}; expected only"
                                    f" {toggle_run}")
        if len(second.run_ids) != 1 or len(tape.by_run("always")) != 2:
            result.fail(["FLOW-9"], f"the second event's receipt lists {second.run_ids}; only"
                                    " the enabled function 'always' gets a run")
    return [result]


def case_workspaces_apart(suite: EngineSuite) -> list[Result]:
    result = Result("workspaces-kept-apart", ENGINE, ["ROLE-2"])
    tapes = [Tape(), Tape()]
    defs = {"trigger": {"event": "flow.iso"}, "rateLimit": {"limit": 1, "periodMs": 600_000}}

    def waiter(request: dict[str, Any]) -> Answer:
        steps = request.get("steps") or {}
        if "w" not in steps:
            return wait_op("w", "flow.iso.go", None, time.time() + 10)
        return done(steps["w"]["data"])

    def scripts(tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
        return {"iso": (defs, tape.wrap(quick)),
                "iso-wait": ({"trigger": {"event": "flow.iso-wait"}}, tape.wrap(waiter))}

    with workspace(suite, scripts(tapes[0])) as one, workspace(suite, scripts(tapes[1])) as two:
        event_id = f"flow-shared-{secrets.token_hex(6)}"
        first = [send(one, "flow.iso", {"n": 1}, event_id), send(two, "flow.iso", {"n": 1},
                                                                 event_id)]
        if refused(result, ["ROLE-2"], first):
            return [result]
        for s, ws in zip(first, (one, two), strict=True):
            if not isinstance(s.receipt, dict) or s.receipt.get("duplicate") is not False:
                result.fail(["ROLE-2"], f"event id {event_id} sent to a second workspace"
                                        f" answered {s.receipt!r}; idempotency is per"
                                        " workspace")
            elif len(s.run_ids) != 1 or status_of(ws, s.run_ids[0]) in (None, "skipped"):
                result.fail(["ROLE-2"], f"the event created {s.run_ids} in one workspace, the"
                                        " rate-limit bucket of the other must not count")
        if result.failures:
            return [result]
        run_one, run_two = first[0].run_ids[0], first[1].run_ids[0]
        code, _ = one.api("/runs/get", {"runId": run_two})
        if code != 404:
            result.fail(["ROLE-2"], f"/runs/get of the other workspace's run answered {code},"
                                    " not 404")
        if run_two in {r.get("runId") for r in one.runs()}:
            result.fail(["ROLE-2"], "/runs/search lists the other workspace's run")
        again = send(two, "flow.iso", {"n": 2})
        check_skips(result, ["ROLE-2"], two, [again], [True],
                    "the bucket still counts within its workspace")
        poll(lambda: tapes[0].of("iso") and tapes[1].of("iso"), 15)
        for tape, run_id in ((tapes[0], run_one), (tapes[1], run_two)):
            if {s.run_id for s in tape.of("iso")} != {run_id}:
                result.fail(["ROLE-2"], f"an app was invoked for runs"
                                        f" {sorted({s.run_id for s in tape.of('iso')})},"
                                        f" expected only its own {run_id}")
        # Events belong to one workspace: the other's event does not satisfy a wait here.
        started = send(one, "flow.iso-wait", {})
        if refused(result, ["ROLE-2"], [started]) or len(started.run_ids) != 1:
            result.fail(["ROLE-2"], f"the waiting run was not created: {started.receipt!r}")
            return [result]
        waiting = started.run_ids[0]
        if poll(lambda: status_of(one, waiting) == "waiting", 15) is not True:
            result.fail(["ROLE-2"], "the run never reached status waiting")
            return [result]
        foreign = send(two, "flow.iso.go", {"from": "two"})
        time.sleep(0.5)
        own = send(one, "flow.iso.go", {"from": "one"})
        if refused(result, ["ROLE-2"], [foreign, own]):
            return [result]
        poll(lambda: len(tapes[0].by_run("iso-wait").get(waiting, [])) >= 2, 10)
        spans = tapes[0].by_run("iso-wait").get(waiting, [])
        memo = spans[1].steps.get("w") if len(spans) >= 2 else None
        got = memo.get("data") if isinstance(memo, dict) else None
        if not isinstance(got, dict) or got.get("id") != own.id:
            result.fail(["ROLE-2"], f"the wait resumed with {json.dumps(got)[:160]}; expected"
                                    f" its own workspace's event {own.id}, not {foreign.id}")
    return [result]
