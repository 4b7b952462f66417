"""Engine scenarios: cancelOn (wire-protocol §19.2, [CANCEL-1..4]).

Runs are put in each live state (sleeping, waiting, running: an invocation the fake app
holds), then events are sent that do and do not meet their rules. What is checked: the
status and `cancelledBy` in `/runs/get`, and that a cancelled run is invoked no more (the
fake app's tape). Windows ([CANCEL-3] `timeoutMs`) are judged from the suite's send times,
which bound the engine's acceptance times; a send too slow to decide is skipped, never passed.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..fake_app import Answer, Script
from ..results import Result
from .flow_common import (
    ENGINE,
    Context,
    Tape,
    case_results,
    done,
    poll,
    refused,
    send,
    sleep_op,
    status_of,
    step,
    wait_op,
)
from .workspace import workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite

HOLD_S = 4.0  # how long the fake app holds the "running" run's invocation
WINDOW_MS = 1500


def functions(tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    def live(request: dict[str, Any]) -> Answer:
        """Parks or holds per the event's `state`: sleeping, waiting or running."""
        steps = request.get("steps") or {}
        state = (request["event"].get("data") or {}).get("state")
        if state == "sleeping" and "s" not in steps:
            return sleep_op("s", 60_000)
        if state == "waiting" and "w" not in steps:
            return wait_op("w", "co.never", None, time.time() + 60)
        if state == "running" and "r" not in steps:
            return step("r", "late", hold_s=HOLD_S)
        return done("finished")

    def parked(request: dict[str, Any]) -> Answer:
        if "s" not in (request.get("steps") or {}):
            return sleep_op("s", 60_000)
        return done("finished")

    return {
        "co-live": ({"trigger": {"event": "co.start"},
                     "cancelOn": [{"event": "co.stop", "match": {"orderId": "order.id"}}]},
                    tape.wrap(live)),
        "co-window": ({"trigger": {"event": "co.w.start"},
                       "cancelOn": [{"event": "co.w.stop", "match": {"orderId": "order.id"}},
                                    {"event": "co.w.halt", "timeoutMs": WINDOW_MS}]},
                      tape.wrap(parked)),
        "co-self": ({"trigger": {"event": "co.self"}, "cancelOn": [{"event": "co.self"}]},
                    tape.wrap(parked)),
    }


def _started(ctx: Context, result: Result, datas: list[dict[str, Any]], name: str
             ) -> list[str] | None:
    sent = [send(ctx.ws, name, data) for data in datas]
    if refused(result, ["CANCEL-1"], sent):
        return None
    run_ids = [s.run_ids[0] if s.run_ids else "" for s in sent]
    if not all(run_ids):
        result.fail(["CANCEL-3"], f"a receipt of {name} listed no run")
        return None
    return run_ids


def _cancelled_by(ctx: Context, result: Result, run_id: str, event_id: str, label: str
                  ) -> None:
    if not poll(lambda: status_of(ctx.ws, run_id) == "cancelled", 10):
        result.fail(["CANCEL-3"], f"the {label} run {run_id} is"
                                  f" {status_of(ctx.ws, run_id)!r}, not cancelled, after a"
                                  " matching event")
        return
    run = ctx.ws.run(run_id) or {}
    if run.get("cancelledBy") != {"eventId": event_id}:
        result.fail(["CANCEL-4"], f"the {label} run shows cancelledBy"
                                  f" {run.get('cancelledBy')!r}, expected"
                                  f" {{'eventId': {event_id!r}}}")


def case_live_states(ctx: Context) -> list[Result]:
    """Sleeping, waiting and running runs are cancelled by a matching event, with the event
    recorded; another order's run, a non-matching event and a duplicate event change
    nothing; a cancelled running run's late answer is void."""
    result = Result("cancel-on-live-states", ENGINE,
                    ["CANCEL-1", "CANCEL-2", "CANCEL-3", "CANCEL-4", "STATUS-2"])
    states = ["sleeping", "waiting", "running", "sleeping"]
    orders = ["o-sleep", "o-wait", "o-run", "o-other"]
    run_ids = _started(ctx, result, [{"state": s, "order": {"id": o}}
                                     for s, o in zip(states, orders, strict=True)], "co.start")
    if run_ids is None:
        return [result]
    parked = poll(lambda: [status_of(ctx.ws, r) for r in run_ids]
                  == ["sleeping", "waiting", "running", "sleeping"], 15)
    if not parked:
        return [result.skip("the runs did not reach sleeping/waiting/running in time"
                            f" (now {[status_of(ctx.ws, r) for r in run_ids]})")]
    held_since = min(s.start for s in ctx.tape.of("co-live") if s.run_id == run_ids[2])
    miss = send(ctx.ws, "co.stop", {"orderId": "o-nobody"})
    typed = send(ctx.ws, "co.stop", {"orderId": ["o-sleep"]})  # no coercion ([MATCH-2])
    stops = [send(ctx.ws, "co.stop", {"orderId": o}) for o in orders[:3]]
    if refused(result, ["CANCEL-3"], [miss, typed, *stops]):
        return [result]
    if stops[2].t1 > held_since + HOLD_S - 0.5:
        return [result.skip("the stop event for the running run was accepted only as its"
                            " invocation ended (machine too slow for this scenario)")]
    for run_id, stop, label in zip(run_ids[:3], stops, states[:3], strict=True):
        _cancelled_by(ctx, result, run_id, stop.id, label)
    again = send(ctx.ws, "co.stop", {"orderId": "o-other"}, event_id=stops[0].id)
    if refused(result, ["CANCEL-4"], [again]):
        return [result]
    if not isinstance(again.receipt, dict) or again.receipt.get("duplicate") is not True:
        result.fail(["CANCEL-4"], f"a resent event id was not a duplicate: {again.receipt!r}")
    time.sleep(HOLD_S + 1.0)  # the held answer of the running run has come back by now
    if status_of(ctx.ws, run_ids[3]) != "sleeping":
        result.fail(["CANCEL-2", "CANCEL-4"], "the run of another order is"
                    f" {status_of(ctx.ws, run_ids[3])!r}: an event for another order, a"
                    " value of another type or a duplicate event cancelled it")
    if status_of(ctx.ws, run_ids[2]) != "cancelled":
        result.fail(["STATUS-2"], "the running run's late answer changed its status to"
                                  f" {status_of(ctx.ws, run_ids[2])!r}")
    invoked = {r: len(ctx.tape.by_run("co-live").get(r, [])) for r in run_ids[:3]}
    if any(n != 1 for n in invoked.values()):
        result.fail(["STATUS-2"], f"cancelled runs were invoked again: {invoked}")
    ctx.ws.api("/runs/cancel", {"runId": run_ids[3]})
    return [result]


def case_missing_source_and_window(ctx: Context) -> list[Result]:
    """A rule whose source path is missing does not apply; a rule with timeoutMs cancels
    only within the window after the run's creation."""
    result = Result("cancel-on-missing-source-and-window", ENGINE,
                    ["CANCEL-2", "CANCEL-3"])
    t_created = time.time()
    run_ids = _started(ctx, result, [{}], "co.w.start")
    if run_ids is None:
        return [result]
    bare = run_ids[0]
    if not poll(lambda: status_of(ctx.ws, bare) == "sleeping", 15):
        return [result.skip("the run did not reach sleeping in time")]
    for data in ({}, {"orderId": None}):
        send(ctx.ws, "co.w.stop", data)
    time.sleep(max(0.0, t_created + WINDOW_MS / 1000 + 0.5 - time.time()))
    late = send(ctx.ws, "co.w.halt", {})
    if refused(result, ["CANCEL-3"], [late]):
        return [result]
    time.sleep(0.5)
    if status_of(ctx.ws, bare) != "sleeping":
        result.fail(["CANCEL-2", "CANCEL-3"], f"the run is {status_of(ctx.ws, bare)!r}: a"
                    " rule with a missing source path applied, or a rule cancelled after its"
                    " timeoutMs window")
    fresh = send(ctx.ws, "co.w.start", {"order": {"id": 7}})
    halt = send(ctx.ws, "co.w.halt", {})
    if refused(result, ["CANCEL-3"], [fresh, halt]) or not fresh.run_ids:
        return [result]
    if halt.t1 > fresh.t0 + WINDOW_MS / 1000:
        return [result.skip("the halt event was not surely accepted inside the window")]
    _cancelled_by(ctx, result, fresh.run_ids[0], halt.id, "fresh")
    ctx.ws.api("/runs/cancel", {"runId": bare})
    return [result]


def case_not_by_own_event(ctx: Context) -> list[Result]:
    """The event that starts a run does not cancel it; the next one of the name does."""
    result = Result("cancel-on-only-later-events", ENGINE, ["CANCEL-3", "CANCEL-4"])
    first = send(ctx.ws, "co.self", {})
    if refused(result, ["CANCEL-3"], [first]) or not first.run_ids:
        result.fail(["CANCEL-3"], "the first event started no run")
        return [result]
    time.sleep(0.5)
    if status_of(ctx.ws, first.run_ids[0]) not in ("queued", "running", "sleeping"):
        result.fail(["CANCEL-3"], "the run was ended by the event that started it:"
                                  f" {status_of(ctx.ws, first.run_ids[0])!r}")
        return [result]
    second = send(ctx.ws, "co.self", {})
    if refused(result, ["CANCEL-3"], [second]) or not second.run_ids:
        result.fail(["CANCEL-3"], "the second event started no run")
        return [result]
    _cancelled_by(ctx, result, first.run_ids[0], second.id, "first")
    if status_of(ctx.ws, second.run_ids[0]) == "cancelled":
        result.fail(["CANCEL-3"], "the second run was cancelled by its own event")
    ctx.ws.api("/runs/cancel", {"runId": second.run_ids[0]})
    return [result]


CASES = [case_live_states, case_missing_source_and_window, case_not_by_own_event]


def run(suite: EngineSuite) -> list[Result]:
    tape = Tape()
    results: list[Result] = []
    with workspace(suite, functions(tape)) as ws:
        ctx = Context(suite, ws, tape)
        with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
            futures = [(c.__name__, pool.submit(c, ctx)) for c in CASES]
            for name, future in futures:
                results += case_results(name, future.result)
    return results
