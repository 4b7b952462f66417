"""Flow scenarios: waits after their commit [MATCH-4], wait timeouts [MATCH-5], the match
vectors and the key vectors run through the engine.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from ..fake_app import Answer, Script
from ..results import Result
from .flow_common import (
    EARLY_S,
    ENGINE,
    LATE_S,
    Context,
    Sent,
    Tape,
    done,
    ms,
    poll,
    quick,
    refused,
    send,
    status_of,
    step,
    wait_op,
)
from .flow_rates import check_skips

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite


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
