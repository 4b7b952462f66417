"""Engine scenarios: function-level idempotency and singleton runs (wire-protocol §19.3,
§19.4: [IDEM-1..3], [SINGLE-1..4]).

Receipts, `/runs/get` statuses, `skipReason` and `cancelledBy` are what is checked; races are
made by sending one key's events from several threads at once, so the engine's connections
accept them in concurrent transactions. A period is judged from the suite's send times,
which bound the engine's acceptance times; too slow a send is skipped, never passed.
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
    Sent,
    Tape,
    case_results,
    done,
    poll,
    refused,
    send,
    sleep_op,
    status_of,
)
from .workspace import workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite

PERIOD_MS = 2000
RACERS = 8
LIVE = ("queued", "running", "sleeping", "waiting")


def functions(tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    def parked(request: dict[str, Any]) -> Answer:
        if "s" not in (request.get("steps") or {}):
            return sleep_op("s", 60_000)
        return done("finished")

    return {
        "rk-idem": ({"trigger": {"event": "rk.idem"},
                     "idempotency": {"key": "order.id", "periodMs": PERIOD_MS}},
                    tape.wrap(parked)),
        "rk-idem-race": ({"trigger": {"event": "rk.idem.race"},
                          "idempotency": {"key": "order"}}, tape.wrap(parked)),
        "rk-skip": ({"trigger": {"event": "rk.skip"},
                     "singleton": {"key": "user", "mode": "skip"}}, tape.wrap(parked)),
        "rk-cancel": ({"trigger": {"event": "rk.cancel"},
                       "singleton": {"key": "user", "mode": "cancel"}}, tape.wrap(parked)),
        "rk-race": ({"trigger": {"event": "rk.race"}, "singleton": {"mode": "skip"}},
                    tape.wrap(parked)),
    }


def _dedup(sent: Sent) -> Any:
    return sent.receipt.get("deduplicated") if isinstance(sent.receipt, dict) else None


def case_idempotency(ctx: Context) -> list[Result]:
    """One run per key value and period; other values, a missing key and a later period
    each get their own run; the receipt names the original run."""
    result = Result("idempotency-key-and-period", ENGINE, ["IDEM-1", "IDEM-2"])
    first = send(ctx.ws, "rk.idem", {"order": {"id": 1}})
    again = send(ctx.ws, "rk.idem", {"order": {"id": 1.0}})  # the same canonical value
    other = send(ctx.ws, "rk.idem", {"order": {"id": "1"}})
    bare = [send(ctx.ws, "rk.idem", {}) for _ in range(2)]
    if refused(result, ["IDEM-2"], [first, again, other, *bare]):
        return [result]
    if len(first.run_ids) != 1:
        result.fail(["IDEM-2"], f"the first event created {first.run_ids}, expected one run")
        return [result]
    original = first.run_ids[0]
    if again.run_ids or _dedup(again) != [{"functionId": "rk-idem", "runId": original}]:
        result.fail(["IDEM-2"], f"a second event of key 1 answered runIds {again.run_ids}"
                                f" deduplicated {_dedup(again)!r}; expected no run and"
                                f" [{{'functionId': 'rk-idem', 'runId': {original!r}}}]")
    if len(other.run_ids) != 1 or _dedup(other):
        result.fail(["IDEM-2"], "key \"1\" (a string) was deduplicated against key 1")
    if any(len(s.run_ids) != 1 or _dedup(s) for s in bare):
        result.fail(["IDEM-2"], "events without the key were deduplicated")
    time.sleep(max(0.0, first.t1 + PERIOD_MS / 1000 + 0.3 - time.time()))
    later = send(ctx.ws, "rk.idem", {"order": {"id": 1}})
    if refused(result, ["IDEM-2"], [later]):
        return [result]
    if len(later.run_ids) != 1 or _dedup(later):
        result.fail(["IDEM-2"], f"an event of key 1 after periodMs got runIds"
                                f" {later.run_ids} deduplicated {_dedup(later)!r}")
    for sent in (first, other, *bare, later):
        for run_id in sent.run_ids:
            ctx.ws.api("/runs/cancel", {"runId": run_id})
    return [result]


def _race(ctx: Context, name: str, data: dict[str, Any]) -> list[Sent]:
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        return list(pool.map(lambda _: send(ctx.ws, name, data), range(RACERS)))


def case_idempotency_race(ctx: Context) -> list[Result]:
    result = Result("idempotency-concurrent-events", ENGINE, ["IDEM-3"])
    sent = _race(ctx, "rk.idem.race", {"order": "o-race"})
    if refused(result, ["IDEM-3"], sent):
        return [result]
    created = [r for s in sent for r in s.run_ids]
    if len(created) != 1:
        result.fail(["IDEM-3"], f"{RACERS} concurrent events of one key created"
                                f" {len(created)} runs, expected 1")
        return [result]
    want = [{"functionId": "rk-idem-race", "runId": created[0]}]
    wrong = [s.id for s in sent if not s.run_ids and _dedup(s) != want]
    if wrong:
        result.fail(["IDEM-3"], f"events {wrong} named another original than {created[0]}")
    ctx.ws.api("/runs/cancel", {"runId": created[0]})
    return [result]


def _one_run(result: Result, sent: Sent, requirement: str) -> str | None:
    if len(sent.run_ids) != 1:
        result.fail([requirement], f"event {sent.id} listed runs {sent.run_ids}, expected one")
        return None
    return sent.run_ids[0]


def case_singleton_skip(ctx: Context) -> list[Result]:
    result = Result("singleton-skip", ENGINE, ["SINGLE-1", "SINGLE-2"])
    sends = [send(ctx.ws, "rk.skip", d) for d in
             ({"user": "a"}, {"user": "a"}, {"user": "b"}, {}, {"user": None})]
    if refused(result, ["SINGLE-2"], sends):
        return [result]
    ids = [_one_run(result, s, "SINGLE-2") for s in sends]
    if None in ids:
        return [result]
    runs = [ctx.ws.run(str(i)) or {} for i in ids]
    seen = [(r.get("status"), r.get("skipReason")) for r in runs]
    expect_live = [True, False, True, True, False]  # missing and null share the null key
    for (status, reason), live, data in zip(seen, expect_live,
                                            ["a", "a again", "b", "missing", "null"],
                                            strict=True):
        if live and status not in LIVE:
            result.fail(["SINGLE-2"], f"the run of key {data} is {status!r}, expected live")
        if not live and (status, reason) != ("skipped", "singleton"):
            result.fail(["SINGLE-2"], f"the run of key {data} is {status!r} skipReason"
                                      f" {reason!r}, expected skipped, singleton")
    ctx.ws.api("/runs/cancel", {"runId": ids[0]})
    after = send(ctx.ws, "rk.skip", {"user": "a"})
    new = _one_run(result, after, "SINGLE-2")
    if new is not None and status_of(ctx.ws, new) not in LIVE:
        result.fail(["SINGLE-2"], "after the live run of key a ended, a new one was skipped")
    for run_id in (ids[2], ids[3], new):
        if run_id:
            ctx.ws.api("/runs/cancel", {"runId": run_id})
    return [result]


def case_singleton_cancel(ctx: Context) -> list[Result]:
    result = Result("singleton-cancel", ENGINE, ["SINGLE-1", "SINGLE-3"])
    first = send(ctx.ws, "rk.cancel", {"user": "a"})
    other = send(ctx.ws, "rk.cancel", {"user": "b"})
    if refused(result, ["SINGLE-3"], [first, other]):
        return [result]
    old, kept = _one_run(result, first, "SINGLE-3"), _one_run(result, other, "SINGLE-3")
    if old is None or kept is None:
        return [result]
    poll(lambda: status_of(ctx.ws, old) == "sleeping", 10)
    second = send(ctx.ws, "rk.cancel", {"user": "a"})
    new = _one_run(result, second, "SINGLE-3")
    if new is None:
        return [result]
    run = ctx.ws.run(old) or {}
    if run.get("status") != "cancelled" or run.get("cancelledBy") != {"runId": new}:
        result.fail(["SINGLE-3"], f"the earlier run of key a is {run.get('status')!r}"
                                  f" cancelledBy {run.get('cancelledBy')!r}, expected"
                                  f" cancelled by {{'runId': {new!r}}}")
    if status_of(ctx.ws, new) not in LIVE or status_of(ctx.ws, kept) not in LIVE:
        result.fail(["SINGLE-3"], "the new run, or the run of another key, is not live")
    for run_id in (new, kept):
        ctx.ws.api("/runs/cancel", {"runId": run_id})
    return [result]


def case_singleton_race(ctx: Context) -> list[Result]:
    result = Result("singleton-concurrent-events", ENGINE, ["SINGLE-4"])
    sent = _race(ctx, "rk.race", {})
    if refused(result, ["SINGLE-4"], sent):
        return [result]
    ids = [r for s in sent for r in s.run_ids]
    statuses = [status_of(ctx.ws, r) for r in ids]
    live = [r for r, s in zip(ids, statuses, strict=True) if s in LIVE]
    if len(ids) != RACERS or len(live) != 1:
        result.fail(["SINGLE-4"], f"{RACERS} concurrent events created {len(ids)} runs of"
                                  f" which {len(live)} live ({statuses}); expected one live"
                                  " and the others skipped")
    for run_id in live:
        ctx.ws.api("/runs/cancel", {"runId": run_id})
    return [result]


CASES = [case_idempotency, case_idempotency_race, case_singleton_skip, case_singleton_cancel,
         case_singleton_race]


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
