"""Engine scenarios: flow control (§13), waits and match (§11), flow keys, workspaces.

Every scenario runs in parallel with the others, each on its own functions (and event
names), most in one shared workspace. What the engine did is read from the fake app's
side wherever possible: a `Tape` records every invocation the app received, when, and
how long the app held it, so "in flight" is what the app saw, not what the engine says.
Periods are short (hundreds of ms to a few s); timing checks never allow early (beyond
the clock resolution, or JITTER_S where two starts are compared by the engine's send
stamps) and allow late by LATE_S. A scenario whose own sends were too slow to set up the
situation it checks (a loaded machine) is skipped with that reason, never passed.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..fake_app import Answer, Script
from ..results import ERROR, Result
from ..signing import TIMESTAMP
from .workspace import Workspace, workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite

EARLY_S = 0.05  # clock resolution: never earlier than this
# Comparing two starts (throttle): each invoke's send stamp may lag the engine's decision to
# start it by a different amount on a loaded machine.
JITTER_S = 0.5
LATE_S = 2.5  # the engine's wake-up latency on a loaded machine
POLL_S = 0.15
ENGINE = "engine"


# ---- what the app saw ----------------------------------------------------------------------


@dataclass
class Span:
    """One invocation as the fake app saw it: arrival, and when it answered."""

    function_id: str
    run_id: str
    request: dict[str, Any]
    start: float
    end: float

    @property
    def data(self) -> Any:
        return (self.request.get("event") or {}).get("data")

    @property
    def steps(self) -> dict[str, Any]:
        return self.request.get("steps") or {}


@dataclass
class Tape:
    spans: list[Span] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    notes: dict[str, Any] = field(default_factory=dict)  # e.g. a wait's until, by run id

    def wrap(self, script: Callable[[dict[str, Any]], Answer]) -> Script:
        def recorded(request: dict[str, Any]) -> Answer:
            now = time.time()
            answer = script(request)
            with self.lock:
                self.spans.append(Span(str(request.get("functionId")),
                                       str(request.get("runId")), request, now,
                                       now + answer.delay_s))
            return answer
        return recorded

    def of(self, *function_ids: str) -> list[Span]:
        with self.lock:
            return [s for s in self.spans if s.function_id in function_ids]

    def by_run(self, *function_ids: str) -> dict[str, list[Span]]:
        runs: dict[str, list[Span]] = {}
        for span in self.of(*function_ids):
            runs.setdefault(span.run_id, []).append(span)
        return runs


def first_sends(ws: Workspace, *function_ids: str) -> dict[str, float]:
    """Per run: when the engine sent its first invocation (its X-Durable-Timestamp; the
    arrival when absent), so transport delays do not blur a comparison of starts."""
    firsts: dict[str, float] = {}
    for function_id in function_ids:
        for item in ws.invokes(function_id):
            run_id = str(item.json().get("runId"))
            stamp = item.headers.get(TIMESTAMP, "")
            at = int(stamp) / 1000 if stamp.isdigit() else item.at_ms / 1000
            firsts.setdefault(run_id, at)
    return firsts


def max_in_flight(spans: list[Span]) -> int:
    """The most invocations the app held at once."""
    return max((sum(1 for o in spans if o.start <= s.start < o.end) for s in spans),
               default=0)


# ---- answers -----------------------------------------------------------------------------


def iso_at(epoch_s: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s))
    return f"{stamp}.{int(epoch_s * 1000) % 1000:03d}Z"


def done(data: Any = None, hold_s: float = 0.0) -> Answer:
    return Answer(op={"op": "done", "data": data}, delay_s=hold_s)


def step(step_id: str, data: Any = None, hold_s: float = 0.0) -> Answer:
    return Answer(op={"op": "step", "id": step_id, "data": data}, delay_s=hold_s)


def sleep_op(step_id: str, ms: int) -> Answer:
    return Answer(op={"op": "sleep", "id": step_id, "until": iso_at(time.time() + ms / 1000)})


def wait_op(step_id: str, event: str, match: Any, until: float) -> Answer:
    return Answer(op={"op": "wait", "id": step_id, "event": event, "match": match,
                      "until": iso_at(until)})


def quick(request: dict[str, Any]) -> Answer:
    return done("ok")


# ---- what the suite sends ------------------------------------------------------------------


@dataclass
class Sent:
    id: str
    code: int
    receipt: Any
    t0: float  # before the request: the engine accepted the event no earlier
    t1: float  # after the answer: ... and no later

    @property
    def run_ids(self) -> list[str]:
        if isinstance(self.receipt, dict) and isinstance(self.receipt.get("runIds"), list):
            return [str(r) for r in self.receipt["runIds"]]
        return []


def send(ws: Workspace, name: str, data: Any, event_id: str | None = None) -> Sent:
    event_id = event_id or f"flow-{secrets.token_hex(8)}"
    t0 = time.time()
    code, answer = ws.api("/e", {"id": event_id, "name": name, "data": data})
    return Sent(event_id, code, answer, t0, time.time())


def poll(check: Callable[[], Any], timeout_s: float, interval_s: float = POLL_S) -> Any:
    """check()'s first truthy value within timeout_s, else its last value."""
    deadline = time.monotonic() + timeout_s
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval_s)
        value = check()
    return value


def status_of(ws: Workspace, run_id: str) -> str | None:
    run = ws.run(run_id)
    return run.get("status") if run else None


def refused(result: Result, requirement_ids: list[str], sent: list[Sent]) -> bool:
    """Fail (and say so) when the engine refused an event the scenario needs."""
    bad = [s for s in sent if s.code != 200]
    for s in bad:
        result.fail(requirement_ids, f"/e refused event {s.id}: {s.code} {s.receipt!r}")
    return bool(bad)


def ms(seconds: float) -> int:
    return round(seconds * 1000)


@dataclass
class Context:
    suite: EngineSuite
    ws: Workspace
    tape: Tape


# ---- FLOW-1, FLOW-7: concurrency per key -----------------------------------------------------


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


# ---- FLOW-2, FLOW-8: priority, across two versions sharing one concurrency slot --------------


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


# ---- FLOW-3: throttle ------------------------------------------------------------------------


def throttle_functions(tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    def script(request: dict[str, Any]) -> Answer:
        steps = request.get("steps") or {}
        if "s1" not in steps:
            return step("s1", 1)
        if "nap" not in steps:  # a resumed run comes back through the queue
            return sleep_op("nap", 100)
        return done("ok")

    return {"thr": ({"trigger": {"event": "flow.thr"},
                     "throttle": {"limit": 2, "periodMs": 3000, "key": "k"}},
                    tape.wrap(script))}


def case_throttle(ctx: Context) -> list[Result]:
    result = Result("flow-throttle-window-fifo", ENGINE, ["FLOW-3", "FLOW-7"])
    sent = [send(ctx.ws, "flow.thr", {"k": "a", "n": n}) for n in range(4)]
    other = send(ctx.ws, "flow.thr", {"k": "b"})  # its own window: starts at once
    if refused(result, ["FLOW-3"], [*sent, other]):
        return [result]
    order = [s.run_ids[0] if s.run_ids else None for s in sent]
    if None in order:
        result.fail(["FLOW-3"], "a receipt listed no run id for a throttled (not rate"
                                " limited) function")
        return [result]
    poll(lambda: sum(len(v) >= 3 for v in ctx.tape.by_run("thr").values()) >= 5, 25)
    everything = ctx.tape.by_run("thr")
    runs = {r: v for r, v in everything.items() if v[0].data.get("k") == "a"}
    b_runs = [v for v in everything.values() if v[0].data.get("k") == "b"]
    if len(runs) != 4 or any(len(v) != 3 for v in runs.values()):
        result.fail(["FLOW-3"], f"4 runs of 3 invocations expected; the app saw"
                                f" {sorted(len(v) for v in runs.values())}")
        return [result]
    sends = first_sends(ctx.ws, "thr")
    firsts = sorted((sends.get(run_id, v[0].start), run_id) for run_id, v in runs.items())
    for i in range(len(firsts) - 2):
        gap = firsts[i + 2][0] - firsts[i][0]
        if gap < 3.0 - JITTER_S:
            result.fail(["FLOW-3"], f"runs {i + 1} and {i + 3} started {ms(gap)} ms apart: 3"
                                    " starts in one 3000 ms window (limit 2)")
    if len(b_runs) != 1:
        result.fail(["FLOW-3", "FLOW-7"], f"key 'b': {len(b_runs)} runs, expected 1")
    elif sends.get(b_runs[0][0].run_id, b_runs[0][0].start) >= firsts[2][0]:
        result.fail(["FLOW-3", "FLOW-7"], "key 'b' waited for key 'a''s window: throttle"
                                          " windows are per key value")
    late = firsts[2][0] - firsts[0][0]
    if late > 3.0 + LATE_S:
        result.fail(["FLOW-3"], f"the third run started {ms(late)} ms after the first; the"
                                " window had room after 3000 ms")
    started = [run_id for _, run_id in firsts]
    if set(started[:2]) != set(order[:2]) or set(started[2:]) != set(order[2:]):
        result.fail(["FLOW-3"], "throttled runs did not start first in, first out")
    for run_id, spans in runs.items():
        for a, b in zip(spans, spans[1:], strict=False):
            if b.start - a.end > LATE_S:
                result.fail(["FLOW-3"], f"run {run_id} was invoked again {ms(b.start - a.end)}"
                                        " ms after its previous answer: later invocations of a"
                                        " started run are not throttled")
                break
    return [result]


# ---- FLOW-4: rate limit ----------------------------------------------------------------------


def rate_functions(tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    return {
        "rate": ({"trigger": {"event": "flow.rate"},
                  "rateLimit": {"limit": 2, "periodMs": 600_000, "key": "k"}},
                 tape.wrap(quick)),
        "rate-slide": ({"trigger": {"event": "flow.rate-slide"},
                        "rateLimit": {"limit": 1, "periodMs": 1500}}, tape.wrap(quick)),
    }


def skip_states(ws: Workspace, sent: list[Sent]) -> list[tuple[str | None, str | None]]:
    """(status, skipReason) of the run each event created."""
    states: list[tuple[str | None, str | None]] = []
    for s in sent:
        run = ws.run(s.run_ids[0]) if len(s.run_ids) == 1 else None
        states.append((run.get("status"), run.get("skipReason")) if run else (None, None))
    return states


def check_skips(result: Result, requirement_ids: list[str], ws: Workspace,
                sent: list[Sent], skipped: list[bool], what: str) -> None:
    for s, state, want in zip(sent, skip_states(ws, sent), skipped, strict=True):
        if len(s.run_ids) != 1:
            result.fail(requirement_ids, f"{what}: the receipt of event {s.id} lists"
                                         f" {s.run_ids}; every event creates one run,"
                                         " skipped or not")
        elif want and state != ("skipped", "rate_limited"):
            result.fail(requirement_ids, f"{what}: event {s.id} should create a skipped run"
                                         f" (rate_limited); its run is {state}")
        elif not want and state[0] in (None, "skipped"):
            result.fail(requirement_ids, f"{what}: event {s.id} should create a run; its run"
                                         f" is {state}")


def case_rate_limit(ctx: Context) -> list[Result]:
    result = Result("flow-rate-limit-skips", ENGINE, ["FLOW-4", "FLOW-7"])
    keys = ["a", "a", "a", "b", "a"]
    sent = [send(ctx.ws, "flow.rate", {"k": k, "n": n}) for n, k in enumerate(keys)]
    if refused(result, ["FLOW-4"], sent):
        return [result]
    check_skips(result, ["FLOW-4", "FLOW-7"], ctx.ws, sent,
                [False, False, True, False, True], "limit 2 per key in 10 min")
    live = {sent[i].run_ids[0] for i in (0, 1, 3) if sent[i].run_ids}
    poll(lambda: live <= set(ctx.tape.by_run("rate")), 15)
    time.sleep(0.5)
    invoked = set(ctx.tape.by_run("rate"))
    if invoked != live:
        result.fail(["FLOW-4"], f"the app was invoked for runs {sorted(invoked)}; expected"
                                f" exactly the runs not skipped {sorted(live)}")
    # The window slides: after 1500 ms a run is created again.
    first = send(ctx.ws, "flow.rate-slide", {"n": 1})
    second = send(ctx.ws, "flow.rate-slide", {"n": 2})
    time.sleep(max(0.0, first.t1 + 1.8 - time.time()))
    third = send(ctx.ws, "flow.rate-slide", {"n": 3})
    if refused(result, ["FLOW-4"], [first, second, third]):
        return [result]
    if second.t1 - first.t0 >= 1.5:
        return [result.skip("two events sent back to back were accepted 1500 ms apart"
                            " (machine too slow for this scenario)")]
    check_skips(result, ["FLOW-4"], ctx.ws, [first, second, third], [False, True, False],
                "limit 1 per sliding 1500 ms")
    return [result]


# ---- FLOW-5: debounce ------------------------------------------------------------------------


def debounce_functions(tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    return {"deb": ({"trigger": {"event": "flow.deb"},
                     "debounce": {"periodMs": 1000, "key": "k"}}, tape.wrap(quick))}


def case_debounce(ctx: Context) -> list[Result]:
    result = Result("flow-debounce-last-event", ENGINE, ["FLOW-5", "FLOW-7"])
    other = send(ctx.ws, "flow.deb", {"k": "b", "n": 0})
    chain: list[Sent] = []
    for n in range(4):
        if chain:
            time.sleep(max(0.0, chain[-1].t0 + 0.4 - time.time()))
        chain.append(send(ctx.ws, "flow.deb", {"k": "a", "n": n}))
    if refused(result, ["FLOW-5"], [other, *chain]):
        return [result]
    if any(b.t1 - a.t0 >= 1.0 for a, b in zip(chain, chain[1:], strict=False)):
        return [result.skip("consecutive events were not accepted within the 1000 ms period"
                            " (machine too slow for this scenario)")]
    time.sleep(max(0.0, chain[-1].t1 + 1.0 + LATE_S - time.time()))
    runs = ctx.tape.by_run("deb")
    by_key: dict[str, list[list[Span]]] = {}
    for spans in runs.values():
        by_key.setdefault(spans[0].data.get("k"), []).append(spans)
    for key, last in (("a", chain[-1]), ("b", other)):
        got = by_key.get(key, [])
        if len(got) != 1:
            result.fail(["FLOW-5", "FLOW-7"], f"key {key!r}: {len(got)} runs; expected exactly"
                                              " one (each event within the period restarts"
                                              " it)")
            continue
        first = got[0][0]
        if (first.request.get("event") or {}).get("id") != last.id:
            result.fail(["FLOW-5"], f"key {key!r}: the run carries event"
                                    f" {(first.request.get('event') or {}).get('id')}, not the"
                                    f" last one {last.id}")
        if first.start < last.t0 + 1.0 - EARLY_S:
            result.fail(["FLOW-5"], f"key {key!r}: the run started {ms(first.start - last.t0)}"
                                    " ms after the last event; the period is 1000 ms")
    listed = ctx.ws.runs(function_id="deb")
    if len(listed) != 2:
        result.fail(["FLOW-5"], f"/runs/search lists {len(listed)} runs of deb, expected 2")
    if any(s.run_ids for s in [other, *chain]):
        result.fail(["FLOW-5"], "a debounced event's receipt lists a run id (its run is"
                                " created later)")
    return [result]


# ---- FLOW-6: batch ---------------------------------------------------------------------------


def batch_functions(tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    def two_calls(request: dict[str, Any]) -> Answer:
        if "s" not in (request.get("steps") or {}):
            return step("s", len(request.get("events") or []))
        return done("ok")

    return {
        "bat-size": ({"trigger": {"event": "flow.bat-size"},
                      "batch": {"maxSize": 3, "timeoutMs": 20_000}}, tape.wrap(two_calls)),
        "bat-time": ({"trigger": {"event": "flow.bat-time"},
                      "batch": {"maxSize": 50, "timeoutMs": 800, "key": "k"}},
                     tape.wrap(two_calls)),
    }


def check_batch_run(result: Result, spans: list[Span], want: list[Sent], label: str) -> None:
    for span in spans:
        events = span.request.get("events")
        if not isinstance(events, list):
            result.fail(["INV-1", "FLOW-6"], f"{label}: an invocation of a batch run carries"
                                             f" no events list ({events!r})")
            return
        ids = [e.get("id") if isinstance(e, dict) else None for e in events]
        if ids != [s.id for s in want]:
            result.fail(["FLOW-6"], f"{label}: events {ids}, expected {[s.id for s in want]}"
                                    " (all, in arrival order)")
            return
        if span.request.get("event") != events[0]:
            result.fail(["INV-5", "FLOW-6"], f"{label}: event is not events[0]")
            return


def case_batch(ctx: Context) -> list[Result]:
    result = Result("flow-batch-size-and-timeout", ENGINE, ["FLOW-6", "FLOW-7", "INV-5",
                                                              "INV-1"])
    by_size = [send(ctx.ws, "flow.bat-size", {"n": n}) for n in range(6)]
    by_time = [send(ctx.ws, "flow.bat-time", {"k": k, "n": n})
               for n, k in enumerate(["a", "b", "a"])]
    if refused(result, ["FLOW-6"], by_size + by_time):
        return [result]
    poll(lambda: sum(len(v) >= 2 for v in ctx.tape.by_run("bat-size", "bat-time").values())
         >= 4, 15)
    time.sleep(0.3)
    sized = sorted(ctx.tape.by_run("bat-size").values(), key=lambda v: v[0].start)
    if len(sized) != 2:
        result.fail(["FLOW-6"], f"6 events with maxSize 3 gave {len(sized)} runs within 15 s"
                                " (timeout 20 s), expected 2 created by size")
    else:
        check_batch_run(result, sized[0], by_size[:3], "first full batch")
        check_batch_run(result, sized[1], by_size[3:], "second full batch")
    timed: dict[Any, list[Span]] = {}
    for spans in ctx.tape.by_run("bat-time").values():
        timed[spans[0].data.get("k")] = spans
    if sorted(timed) != ["a", "b"] or len(ctx.tape.by_run("bat-time")) != 2:
        result.fail(["FLOW-6", "FLOW-7"], f"batch by key k: runs for keys {sorted(timed)} of"
                                          f" {len(ctx.tape.by_run('bat-time'))} runs; expected"
                                          " one run for 'a' and one for 'b'")
    else:
        for key, want in (("a", [by_time[0], by_time[2]]), ("b", [by_time[1]])):
            check_batch_run(result, timed[key], want, f"key {key!r} batch")
            started = timed[key][0].start
            if started < want[0].t0 + 0.8 - EARLY_S:
                result.fail(["FLOW-6"], f"key {key!r}: the batch ran"
                                        f" {ms(started - want[0].t0)} ms after its first event;"
                                        " timeoutMs is 800")
            elif started > want[0].t1 + 0.8 + LATE_S:
                result.fail(["FLOW-6"], f"key {key!r}: the batch ran only"
                                        f" {ms(started - want[0].t1)} ms after its first event;"
                                        " timeoutMs is 800")
    plain = ctx.tape.of("thr", "rate", "conc")
    if any("events" in s.request for s in plain):
        result.fail(["INV-1"], "an invocation of a function without batch carries events")
    return [result]


# ---- FLOW-7: which event a deferred run's concurrency key comes from -------------------------


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


# ---- FLOW-8: versions share buckets ----------------------------------------------------------


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


# ---- FLOW-9, EVT-5: who gets runs ------------------------------------------------------------


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


# ---- ROLE-2: workspaces kept apart -----------------------------------------------------------


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


# ---- MATCH-4, MATCH-5 ------------------------------------------------------------------------


def wait_functions(tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    def m4(request: dict[str, Any]) -> Answer:
        steps = request.get("steps") or {}
        if "prep" not in steps:
            return step("prep", None, hold_s=1.0)
        if "w" not in steps:
            return wait_op("w", "flow.m4.go", {"k": request["event"]["data"]["k"]},
                           time.time() + 20)
        return done(steps["w"]["data"])

    def m5(request: dict[str, Any]) -> Answer:
        steps = request.get("steps") or {}
        if "w" not in steps:
            until = time.time() + 0.8
            tape.notes[request["runId"]] = until
            return wait_op("w", "flow.m5.never", {"k": 1}, until)
        return done(steps["w"]["data"])

    return {"m4": ({"trigger": {"event": "flow.m4"}}, tape.wrap(m4)),
            "m5": ({"trigger": {"event": "flow.m5"}}, tape.wrap(m5))}


def case_wait_after_commit(ctx: Context) -> list[Result]:
    result = Result("wait-only-later-events-first-wins", ENGINE, ["MATCH-4"])
    early = send(ctx.ws, "flow.m4.go", {"k": "x", "n": 0})
    runs = [send(ctx.ws, "flow.m4", {"k": "x"}) for _ in range(2)]
    if refused(result, ["MATCH-4"], [early, *runs]):
        return [result]
    run_ids = [s.run_ids[0] for s in runs if s.run_ids]
    if len(run_ids) != 2:
        result.fail(["MATCH-4"], "a receipt listed no run id")
        return [result]
    if not poll(lambda: len(ctx.tape.by_run("m4")) >= 2, 15):
        result.fail(["MATCH-4"], "the runs were never invoked")
        return [result]
    during = send(ctx.ws, "flow.m4.go", {"k": "x", "n": 1})  # before the wait is committed
    waiting = poll(lambda: all(status_of(ctx.ws, r) == "waiting" for r in run_ids), 15)
    spans = ctx.tape.by_run("m4")
    second = [spans.get(r, [])[1:2] for r in run_ids]
    if not waiting or not all(second):
        result.fail(["MATCH-4"], "the runs never reached status waiting (an event accepted"
                                 " before the wait op, or while the run was still on its"
                                 " previous step, satisfied it?)")
        return [result]
    if during.t1 >= min(s[0].start for s in second):
        return [result.skip("the in-between event was accepted only after a run's wait op"
                            " was requested (machine too slow for this scenario)")]
    winner = send(ctx.ws, "flow.m4.go", {"k": "x", "n": 2})
    loser = send(ctx.ws, "flow.m4.go", {"k": "x", "n": 3})
    if refused(result, ["MATCH-4"], [during, winner, loser]):
        return [result]
    poll(lambda: all(len(ctx.tape.by_run("m4").get(r, [])) >= 3 for r in run_ids), 15)
    for run_id in run_ids:
        spans = ctx.tape.by_run("m4").get(run_id, [])
        memo = spans[2].steps.get("w") if len(spans) >= 3 else None
        got = memo.get("data") if isinstance(memo, dict) else None
        got_id = got.get("id") if isinstance(got, dict) else got
        if got_id != winner.id:
            result.fail(["MATCH-4"], f"run {run_id} resumed with {got_id!r}; expected"
                                     f" {winner.id}, the first matching event accepted after"
                                     f" the wait (not {early.id} before the run, {during.id}"
                                     f" before the wait op, or {loser.id} after), and one"
                                     " event satisfies both runs")
    return [result]


def case_wait_timeout(ctx: Context) -> list[Result]:
    result = Result("wait-until-passes-first", ENGINE, ["MATCH-5", "OP-6"])
    sent = send(ctx.ws, "flow.m5", {})
    if refused(result, ["MATCH-5"], [sent]):
        return [result]
    poll(lambda: len(ctx.tape.of("m5")) >= 1, 15)
    spans = ctx.tape.of("m5")
    if not spans:
        result.fail(["MATCH-5"], "the run was never invoked")
        return [result]
    send(ctx.ws, "flow.m5.never", {"k": 2})  # not matching: changes nothing
    poll(lambda: len(ctx.tape.of("m5")) >= 2, 15)
    spans = ctx.tape.of("m5")
    until = ctx.tape.notes.get(spans[0].run_id, spans[0].start + 0.8)
    if len(spans) < 2:
        result.fail(["MATCH-5"], "the run did not resume after until passed")
        return [result]
    memo = spans[1].steps.get("w")
    if memo != {"type": "wait", "data": None}:
        result.fail(["MATCH-5", "OP-6"], f"memo w is {json.dumps(memo)[:200]}, expected"
                                         " {'type': 'wait', 'data': None}")
    if spans[1].start < until - EARLY_S:
        result.fail(["MATCH-5"], f"resumed {ms(until - spans[1].start)} ms before until")
    elif spans[1].start > until + LATE_S:
        result.fail(["MATCH-5"], f"resumed {ms(spans[1].start - until)} ms after until")
    return [result]


# ---- spec/vectors/match through real waits ---------------------------------------------------


MATCH_WAIT_S = 6.0


def match_functions(suite: EngineSuite, tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    out: dict[str, tuple[dict[str, Any], Script]] = {}
    for i, case in enumerate(suite.spec.vectors("match")):
        def script(request: dict[str, Any], i: int = i, data: dict[str, Any] = case.data
                   ) -> Answer:
            steps = request.get("steps") or {}
            if "w" not in steps:
                until = time.time() + MATCH_WAIT_S
                tape.notes[request["runId"]] = until
                return wait_op("w", f"flow.mv.{i}.{data['waitEvent']}", data["match"], until)
            return done("resumed")
        out[f"mv{i}"] = ({"trigger": {"event": f"flow.mv.{i}.start"}}, tape.wrap(script))
    return out


def case_match_vectors(ctx: Context) -> list[Result]:
    """Each case: a run waits per the vector (names scoped per case, equal iff the vector's
    are), then the vector's event is sent; the run must resume with it iff `matches`, else
    with null once until passes."""
    cases = list(enumerate(ctx.suite.spec.vectors("match")))
    results = {i: Result(f"wait-{case.id}", ENGINE, list(case.requirements))
               for i, case in cases}
    starts = {i: send(ctx.ws, f"flow.mv.{i}.start", {}) for i, _ in cases}
    run_of: dict[int, str] = {}
    for i, s in starts.items():
        if s.code != 200 or len(s.run_ids) != 1:
            results[i].fail([], f"the start event answered {s.code} {s.receipt!r}")
        else:
            run_of[i] = s.run_ids[0]

    def all_waiting() -> bool:
        waiting = {r.get("runId") for r in ctx.ws.runs(status="waiting")}
        return set(run_of.values()) <= waiting

    poll(all_waiting, 20, 0.25)
    events: dict[int, Sent] = {}
    for i, case in cases:
        if i not in run_of:
            continue
        event = case.data["event"]
        events[i] = send(ctx.ws, f"flow.mv.{i}.{event['name']}", event["data"])
    latest = max((ctx.tape.notes.get(r, 0.0) for r in run_of.values()), default=time.time())
    poll(lambda: all(len(ctx.tape.by_run(f"mv{i}").get(r, [])) >= 2
                     for i, r in run_of.items()), max(1.0, latest + LATE_S - time.time()))
    for i, case in cases:
        result = results[i]
        if i not in run_of:
            continue
        run_id, sent = run_of[i], events[i]
        spans = ctx.tape.by_run(f"mv{i}").get(run_id, [])
        until = ctx.tape.notes.get(run_id)
        if sent.code != 200:
            result.fail([], f"/e refused the vector's event: {sent.code} {sent.receipt!r}")
            continue
        if until is None or sent.t1 >= until - 0.2:
            result.skip("the event could not be sent before the wait's until (machine too"
                        " slow): nothing was verified")
            continue
        if len(spans) < 2:
            result.fail([], "the waiting run never resumed (neither by the event nor when"
                            " until passed)")
            continue
        memo = spans[1].steps.get("w")
        got = memo.get("data") if isinstance(memo, dict) else None
        if not isinstance(memo, dict) or memo.get("type") != "wait":
            result.fail(["OP-6"], f"memo w is {json.dumps(memo)[:200]}")
        elif case.data["matches"]:
            want = {"id": sent.id, "name": f"flow.mv.{i}.{case.data['event']['name']}",
                    "data": case.data["event"]["data"]}
            if not isinstance(got, dict) or {k: got.get(k) for k in want} != want:
                result.fail([], f"the event should satisfy the wait; memo data is"
                                f" {json.dumps(got)[:200]}")
            else:
                result.cover(["OP-6"])
        else:
            if got is not None:
                result.fail([], f"the event must not satisfy the wait; memo data is"
                                f" {json.dumps(got)[:200]}")
            elif spans[1].start < until - EARLY_S:
                result.fail(["MATCH-5"], "resumed with null before until")
            else:
                result.cover(["MATCH-5"])
    return [results[i] for i, _ in cases]


# ---- spec/vectors/keys through rate-limit buckets --------------------------------------------


def canonical_index(segment: str) -> bool:
    return segment.isdigit() and (segment == "0" or not segment.startswith("0"))


def data_at(path: str, value: Any) -> Any:
    """The smallest data in which `path` resolves to `value` (arrays for index segments)."""
    segments = path.split(".")

    def build(k: int) -> Any:
        if k == len(segments):
            return value
        child = build(k + 1)
        if canonical_index(segments[k]):
            return [None] * int(segments[k]) + [child]
        return {segments[k]: child}

    return build(0)


def key_functions(suite: EngineSuite, tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    return {f"kv{i}": ({"trigger": {"event": f"flow.kv.{i}"},
                        "rateLimit": {"limit": 1, "periodMs": 600_000, "key": case.data["key"]}},
                       tape.wrap(quick))
            for i, case in enumerate(suite.spec.vectors("keys"))}


def case_key_vectors(ctx: Context) -> list[Result]:
    """Each case: rate limit 1 keyed by the vector's path. The vector's event takes the
    bucket; an event whose value there is the vector's canonical value (parsed back, so
    written differently: 2 for 2.0, sorted members, a present null for a missing path) is
    skipped; one whose value is that text as a string ("7" for 7) is not."""
    out = []
    for i, case in enumerate(ctx.suite.spec.vectors("keys")):
        result = Result(f"bucket-{case.id}", ENGINE, [*case.requirements, "FLOW-7"])
        value = case.data["value"]
        sent = [send(ctx.ws, f"flow.kv.{i}", case.data["event"]["data"]),
                send(ctx.ws, f"flow.kv.{i}", data_at(case.data["key"], json.loads(value))),
                send(ctx.ws, f"flow.kv.{i}", data_at(case.data["key"], value))]
        if not refused(result, [], sent):
            check_skips(result, [], ctx.ws, sent, [False, True, False],
                        f"key {case.data['key']!r} (vector value {value})")
        out.append(result)
    return out


# ---- the group -------------------------------------------------------------------------------


# Scenarios on the shared workspace, and those that open their own workspaces.
SHARED: list[Callable[[Context], list[Result]]] = [
    case_concurrency, case_slot_freed_when_invocation_ends, case_parked_runs_hold_no_slot,
    case_priority, case_throttle,
    case_rate_limit, case_debounce, case_batch, case_key_source, case_versions_share,
    case_fanout, case_wait_after_commit, case_wait_timeout, case_match_vectors,
    case_key_vectors]
OWN: list[Callable[[EngineSuite], list[Result]]] = [case_disable, case_workspaces_apart]


def run(suite: EngineSuite) -> list[Result]:
    tape = Tape()
    scripts: dict[str, tuple[dict[str, Any], Script]] = {}
    for part in (concurrency_functions(tape), priority_functions(tape),
                 throttle_functions(tape), rate_functions(tape), debounce_functions(tape),
                 batch_functions(tape), key_source_functions(tape), version_functions(tape),
                 fanout_functions(tape), wait_functions(tape), match_functions(suite, tape),
                 key_functions(suite, tape)):
        scripts.update(part)
    shared, own = SHARED, OWN
    results: list[Result] = []
    began = time.monotonic()

    def timed(case: Callable[[Any], list[Result]], arg: Any) -> list[Result]:
        start = time.monotonic()
        try:
            return case(arg)
        finally:
            suite.log(f"flow: {case.__name__.removeprefix('case_')} took"
                      f" {time.monotonic() - start:.1f} s")

    with workspace(suite, scripts) as ws:
        ctx = Context(suite, ws, tape)
        with ThreadPoolExecutor(max_workers=len(shared) + len(own)) as pool:
            futures = [(c.__name__, pool.submit(timed, c, ctx)) for c in shared]
            futures += [(c.__name__, pool.submit(timed, c, suite)) for c in own]
            for name, future in futures:
                try:
                    results += future.result()
                except Exception as error:  # noqa: BLE001 - one broken case must not hide others
                    broken = Result(name.removeprefix("case_"), ENGINE, [], status=ERROR)
                    broken.failures.append(f"the scenario crashed: {error!r}")
                    results.append(broken)
    suite.log(f"flow: {len(results)} cases in {time.monotonic() - began:.1f} s")
    return results
