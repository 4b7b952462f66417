"""Flow scenarios: concurrency slots per key [FLOW-1] and priority [FLOW-2]."""

from __future__ import annotations

import time
from typing import Any

from ..fake_app import Answer, Script
from ..results import Result
from .flow_common import (
    ENGINE,
    Context,
    Tape,
    done,
    max_in_flight,
    ms,
    poll,
    refused,
    send,
    sleep_op,
    status_of,
    wait_op,
)


def concurrency_functions(tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    def held(request: dict[str, Any]) -> Answer:
        return done("ok", hold_s=0.5)

    def parker(request: dict[str, Any]) -> Answer:
        role = request["event"]["data"].get("role")
        steps = request.get("steps") or {}
        if role == "sleeper" and "nap" not in steps:
            return sleep_op("nap", 3000)
        if role == "waiter" and "w" not in steps:
            return wait_op("w", "flow.conc-park.never", None, time.time() + 3.0)
        return done(role, hold_s=0.2)

    def slow_once(request: dict[str, Any]) -> Answer:
        if request["event"]["data"].get("role") == "slow" and request.get("attempt") == 0:
            return done("late", hold_s=SLOW_HOLD_S)  # beyond timeoutMs: the engine gives up
        return done("ok", hold_s=0.1)

    def fails_once(request: dict[str, Any]) -> Answer:
        if request["event"]["data"].get("role") == "err" and request.get("attempt") == 0:
            return Answer(op={"op": "error", "id": None, "message": "again", "name": "Error",
                              "retryable": True})
        return done("ok", hold_s=0.1)

    return {
        "conc-timeout": ({"trigger": {"event": "flow.conc-timeout"}, "timeoutMs": 400,
                          "retries": 1, "concurrency": {"limit": 1}}, tape.wrap(slow_once)),
        "conc-error": ({"trigger": {"event": "flow.conc-error"}, "retries": 1,
                        "concurrency": {"limit": 1}}, tape.wrap(fails_once)),
        "conc": ({"trigger": {"event": "flow.conc"},
                  "concurrency": {"limit": 2, "key": "tenant"}}, tape.wrap(held)),
        "conc-park": ({"trigger": {"event": "flow.conc-park"}, "concurrency": {"limit": 1}},
                      tape.wrap(parker)),
        "conc-multi": ({"trigger": {"event": "flow.conc-multi"},
                        "concurrency": [{"limit": 2}, {"limit": 1, "key": "tenant"}]},
                       tape.wrap(held)),
    }


def case_concurrency(ctx: Context) -> list[Result]:
    result = Result("flow-concurrency-per-key", ENGINE, ["FLOW-1", "FLOW-7"])
    tenants = ["a", "a", "a", "b", "a", "a", "b", "a", "b"]
    sent = [send(ctx.ws, "flow.conc", {"tenant": t, "n": n}) for n, t in enumerate(tenants)]
    multi_sent = [send(ctx.ws, "flow.conc-multi", {"tenant": t})
                  for t in ("a", "a", "b", "b", "c", "a")]
    if refused(result, ["FLOW-1"], sent + multi_sent):
        return [result]
    poll(lambda: len(ctx.tape.by_run("conc")) >= len(tenants), 30)
    time.sleep(0.6)  # the last ones answer; a run too many would show up now
    spans = ctx.tape.of("conc")
    runs = ctx.tape.by_run("conc")
    if len(runs) != len(tenants) or len(spans) != len(tenants):
        result.fail(["FLOW-1"], f"{len(tenants)} events should give {len(tenants)} runs of one"
                                f" invocation each; the app saw {len(spans)} invocations of"
                                f" {len(runs)} runs")
    for tenant in ("a", "b"):
        most = max_in_flight([s for s in spans if s.data.get("tenant") == tenant])
        if most > 2:
            result.fail(["FLOW-1"], f"{most} invocations of key tenant={tenant!r} were in"
                                    " flight at once; the limit is 2")
    overall = max_in_flight(spans)
    if overall < 3:
        result.fail(["FLOW-1", "FLOW-7"],
                    f"at most {overall} invocations were in flight across both tenants: key"
                    " 'b' waited for key 'a' (a limit per function, not per key value)")
    # Two rules, all must have room: 2 per function and 1 per tenant.
    poll(lambda: len(ctx.tape.of("conc-multi")) >= len(multi_sent), 20)
    time.sleep(0.6)
    multi = ctx.tape.of("conc-multi")
    if len(multi) != len(multi_sent):
        result.fail(["FLOW-1"], f"two rules: {len(multi_sent)} events gave {len(multi)}"
                                " invocations")
    if max_in_flight(multi) > 2:
        result.fail(["FLOW-1"], f"two rules: {max_in_flight(multi)} in flight at once; rule"
                                " {limit: 2} allows 2")
    for tenant in ("a", "b", "c"):
        most = max_in_flight([s for s in multi if s.data.get("tenant") == tenant])
        if most > 1:
            result.fail(["FLOW-1"], f"two rules: {most} of tenant {tenant!r} in flight at"
                                    " once; rule {limit: 1, key: tenant} allows 1")
    return [result]


SLOW_HOLD_S = 2.5


def case_slot_freed_when_invocation_ends(ctx: Context) -> list[Result]:
    """[FLOW-1] a slot is freed when its invocation ends in any way: a timed-out invocation
    (timeoutMs 400 while the app holds its answer 2.5 s) and a retryable error (the run
    waits out its backoff without the slot) both let the next run of a limit-1 function
    start at once."""
    result = Result("flow-concurrency-slot-freed-on-timeout-and-error", ENGINE, ["FLOW-1"])
    for function_id, event, first_role in (("conc-timeout", "flow.conc-timeout", "slow"),
                                           ("conc-error", "flow.conc-error", "err")):
        holder = send(ctx.ws, event, {"role": first_role})
        if refused(result, ["FLOW-1"], [holder]):
            return [result]
        if not poll(lambda f=function_id: ctx.tape.of(f), 20):
            result.fail(["FLOW-1"], f"{function_id}: the first run was never invoked")
            continue
        first = ctx.tape.of(function_id)[0]
        other = send(ctx.ws, event, {"role": "next"})
        if refused(result, ["FLOW-1"], [other]):
            return [result]
        poll(lambda f=function_id: len(ctx.tape.by_run(f)) >= 2
             and len(ctx.tape.of(f)) >= 3, 20)
        runs = ctx.tape.by_run(function_id)
        later = [spans[0] for run_id, spans in runs.items() if run_id != first.run_id]
        retry = [s for s in runs.get(first.run_id, []) if s.request.get("attempt") == 1]
        if not later or not retry:
            result.fail(["FLOW-1"], f"{function_id}: saw {len(later)} other run(s) and"
                                    f" {len(retry)} retry of the first; expected 1 and 1")
            continue
        started = later[0].start
        if function_id == "conc-timeout" and started >= first.start + SLOW_HOLD_S - 0.2:
            result.fail(["FLOW-1"], f"the next run started {started - first.start:.2f} s"
                                    " after a run whose invocation timed out at 0.4 s: the"
                                    " slot was held until the app answered")
        if function_id == "conc-error" and started > retry[0].start:
            result.fail(["FLOW-1"], "the next run started only after the failed run's retry:"
                                    " the slot was held through the backoff")
    return [result]


def case_parked_runs_hold_no_slot(ctx: Context) -> list[Result]:
    result = Result("flow-concurrency-parked-runs-free-the-slot", ENGINE, ["FLOW-1"])
    sleeper = send(ctx.ws, "flow.conc-park", {"role": "sleeper"})
    if refused(result, ["FLOW-1"], [sleeper]) or not sleeper.run_ids:
        return [result] if result.failures else [result.skip("no run id in the receipt")]
    if poll(lambda: status_of(ctx.ws, sleeper.run_ids[0]) == "sleeping", 15) is not True:
        result.fail(["FLOW-1"], "the sleeper run never showed status sleeping")
        return [result]
    waiter = send(ctx.ws, "flow.conc-park", {"role": "waiter"})
    if refused(result, ["FLOW-1"], [waiter]) or not waiter.run_ids:
        return [result] if result.failures else [result.skip("no run id in the receipt")]
    if poll(lambda: status_of(ctx.ws, waiter.run_ids[0]) == "waiting", 15) is not True:
        result.fail(["FLOW-1"], "with limit 1 and the only other run sleeping, the waiter"
                                " run never started and reached status waiting")
        return [result]
    other = send(ctx.ws, "flow.conc-park", {"role": "other"})
    if refused(result, ["FLOW-1"], [other]) or not other.run_ids:
        return [result] if result.failures else [result.skip("no run id in the receipt")]
    poll(lambda: all(len(ctx.tape.by_run("conc-park").get(r, [])) >= 2
                     for r in (sleeper.run_ids[0], waiter.run_ids[0])), 20)
    runs = ctx.tape.by_run("conc-park")
    resumed = [runs.get(r, [None, None])[1:2] for r in (sleeper.run_ids[0], waiter.run_ids[0])]
    if not all(resumed) or not runs.get(other.run_ids[0]):
        result.fail(["FLOW-1"], "the runs did not all get invoked (sleeper and waiter resumed,"
                                " other started)")
        return [result]
    first_resume = min(r[0].start for r in resumed if r[0] is not None)
    if other.t1 >= first_resume:
        return [result.skip("the third event was accepted only after a parked run resumed"
                            " (machine too slow for this scenario)")]
    started = runs[other.run_ids[0]][0].start
    if started >= first_resume:
        result.fail(["FLOW-1"], "with limit 1 and the two other runs sleeping and waiting, a"
                                f" new run started only {ms(started - other.t1)} ms after its"
                                " event, once a parked run had resumed: parked runs held the"
                                " slot")
    most = max_in_flight(ctx.tape.of("conc-park"))
    if most > 1:
        result.fail(["FLOW-1"], f"{most} invocations in flight at once; the limit is 1")
    return [result]


def priority_functions(tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    def script(request: dict[str, Any]) -> Answer:
        blocker = request["event"]["data"].get("role") == "blocker"
        return done("ok", hold_s=3.0 if blocker else 0.1)

    shared = {"id": "prio", "concurrency": {"limit": 1}}
    return {
        "prio@1": ({**shared, "version": "1", "trigger": {"event": "flow.prio.low"},
                    "priority": 0}, tape.wrap(script)),
        "prio@2": ({**shared, "version": "2", "trigger": {"event": "flow.prio.high"},
                    "priority": 1}, tape.wrap(script)),
    }


def case_priority(ctx: Context) -> list[Result]:
    """Version 2 has priority 1 (s): it jumps a low run queued less than 1 s before it, not
    one queued more than 1 s before. Both versions share one concurrency slot ([FLOW-8])."""
    result = Result("flow-priority-bounded-jump", ENGINE, ["FLOW-2", "FLOW-8", "FLOW-1"])
    blocker = send(ctx.ws, "flow.prio.low", {"role": "blocker"})
    if refused(result, ["FLOW-2"], [blocker]):
        return [result]
    held = poll(lambda: ctx.tape.of("prio@1"), 15)
    if not held:
        result.fail(["FLOW-2"], "the blocker run was never invoked")
        return [result]
    low1 = send(ctx.ws, "flow.prio.low", {"role": "low1"})
    time.sleep(1.6)
    low2 = send(ctx.ws, "flow.prio.low", {"role": "low2"})
    high = send(ctx.ws, "flow.prio.high", {"role": "high"})
    if refused(result, ["FLOW-2"], [low1, low2, high]):
        return [result]
    if high.t1 >= held[0].end - 0.1 or high.t1 - low2.t0 >= 1.0 or low2.t0 - low1.t1 <= 1.0:
        return [result.skip("the events were not accepted in time while the blocker held"
                            " the slot (machine too slow for this scenario)")]
    poll(lambda: len(ctx.tape.of("prio@1", "prio@2")) >= 4, 20)
    order = [s.data.get("role") for s in sorted(ctx.tape.of("prio@1", "prio@2"),
                                                key=lambda s: s.start)]
    if order != ["blocker", "low1", "high", "low2"]:
        result.fail(["FLOW-2"], f"invocations came in order {order}; expected blocker, low1"
                                " (queued > 1 s before high), high (priority 1 s jumps low2,"
                                " queued just before it), low2")
    most = max_in_flight(ctx.tape.of("prio@1", "prio@2"))
    if most > 1:
        result.fail(["FLOW-8", "FLOW-1"], f"{most} invocations of prio@1 and prio@2 in flight"
                                          " at once: versions of one id share limit 1")
    return [result]
