"""Flow scenarios: throttle [FLOW-3], rate limit [FLOW-4], debounce [FLOW-5] and batch
[FLOW-6].
"""

from __future__ import annotations

import time
from typing import Any

from ..fake_app import Answer, Script
from ..results import Result
from .flow_common import (
    EARLY_S,
    ENGINE,
    JITTER_S,
    LATE_S,
    Context,
    Sent,
    Span,
    Tape,
    done,
    first_sends,
    ms,
    poll,
    quick,
    refused,
    send,
    sleep_op,
    step,
)
from .workspace import Workspace


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
