"""Limits scenarios: invoke bodies over maxRequestBytes [LIMIT-2], [ERR-7], too many steps
[LIMIT-5], oversized answers [LIMIT-3] and events [EVT-3], [LIMIT-6].
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..fake_app import Answer
from ..results import Result
from .limits_common import (
    API_REQUEST_BYTES,
    APP_RESPONSE_BYTES,
    EVENT_BYTES,
    SMALL_APP_BYTES,
    STEPS_PER_RUN,
    attempts_of,
    check_history,
    compact,
    expect_failed,
    start,
    wait_status,
)
from .workspace import Workspace, workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite


def _growing(chunk: int) -> Callable[[dict[str, Any]], Answer]:
    """Each invocation commits one more step of `chunk` bytes."""
    def script(request: dict[str, Any]) -> Answer:
        steps = request.get("steps") or {}
        return Answer(op={"op": "step", "id": f"chunk{len(steps)}", "data": "x" * chunk})
    return script


def _check_growth(result: Result, ws: Workspace, function_id: str, limit: int,
                  script: Callable[[dict[str, Any]], Answer]) -> None:
    """The run of a growing function fails REQUEST_TOO_LARGE exactly when the next invoke
    would exceed `limit`, and no body above it was ever sent."""
    run_id = start(ws, function_id, result)
    if run_id is None:
        return
    run = wait_status(ws, run_id)
    invokes = ws.invokes(function_id)
    with ws.app.lock:
        sizes = [len(r.body) for r in ws.app.received if r.method == "POST"]
    over = [size for size in sizes if size > limit]
    if not invokes:
        result.fail([], f"the engine never invoked {function_id}")
        return
    if over:
        result.fail(["LIMIT-2", "MAN-3"], f"the engine sent invoke bodies of {over} bytes to"
                                          f" an app whose limit is {limit} bytes")
    expect_failed(result, run, "REQUEST_TOO_LARGE", ["ERR-7", "LIMIT-2"], function_id)
    if any(a != 0 for a in attempts_of(invokes)):
        result.fail(["ERR-7"], f"REQUEST_TOO_LARGE is not retriable, yet attempts were"
                               f" {attempts_of(invokes)}")
    # The engine must fail only when the NEXT body would really be too large.
    last = invokes[-1].json()
    answered = script(last).op
    following = compact({**last, "steps": {**(last.get("steps") or {}), answered["id"]: {
        "type": "run", "data": answered["data"]}}})
    if len(following) <= limit:
        result.fail(["ERR-7", "MAN-3"], f"{function_id}: the run failed although the next"
                                        f" invoke ({len(following)} bytes) fits the limit of"
                                        f" {limit} bytes")
    steps = run.get("steps") or []
    if len(steps) != len(invokes):
        result.fail(["ERR-7"], f"{len(invokes)} invokes each answered one step, but the run"
                               f" shows {len(steps)} memos")


def request_too_large(suite: EngineSuite) -> Result:
    result = Result("request-too-large", "engine", ["LIMIT-2", "MAN-3", "ERR-7"])
    small = _growing(9_000)
    with workspace(suite, {"growing": ({"retries": 2}, small)},
                   max_request_bytes=SMALL_APP_BYTES) as ws:
        _check_growth(result, ws, "growing", SMALL_APP_BYTES, small)
    # A sync without maxRequestBytes (as the published client sends it): the default
    # appRequestBytesDefault applies.
    large = _growing(100_000)
    with workspace(suite, {"growing-default": ({"retries": 2}, large)}, sync=False) as ws:
        manifest = {k: v for k, v in ws.app.manifest().items()
                    if k in ("functions", "sdkVersion")}
        code, answer = ws.api("/fn/sync", manifest)
        if code != 200:
            result.fail([], f"/fn/sync without maxRequestBytes answered {code} {answer!r}")
            return result
        _check_growth(result, ws, "growing-default", 1_048_576, large)
    return result


def _endless(request: dict[str, Any]) -> Answer:
    steps = request.get("steps") or {}
    return Answer(op={"op": "step", "id": f"s{len(steps)}", "data": len(steps)})


def too_many_steps(suite: EngineSuite) -> Result:
    result = Result("too-many-steps", "engine", ["LIMIT-5", "ERR-7"])
    with workspace(suite, {"endless": ({"retries": 0}, _endless)}) as ws:
        began = time.monotonic()
        run_id = start(ws, "endless", result)
        if run_id is None:
            return result
        run = wait_status(ws, run_id, timeout_s=120.0)
        took = time.monotonic() - began
        invokes = ws.invokes("endless")
    suite.log(f"limits: too-many-steps took {took:.1f} s for {len(invokes)} invocations"
              + (" (over 40 s)" if took > 40 else ""))
    counts = [len(i.json().get("steps") or {}) for i in invokes]
    if counts and max(counts) > STEPS_PER_RUN:
        result.fail(["LIMIT-5"], f"an invoke carried {max(counts)} memos; at most"
                                 f" {STEPS_PER_RUN} per run")
    if counts != list(range(STEPS_PER_RUN + 1)):
        result.fail(["LIMIT-5"], f"{len(counts)} invokes carried {counts[:3]}..{counts[-3:]}"
                                 f" memos; expected 0..{STEPS_PER_RUN}, one more each time")
    expect_failed(result, run, "TOO_MANY_STEPS", ["ERR-7", "LIMIT-5"], f"after {took:.1f} s")
    if len(run.get("steps") or []) != STEPS_PER_RUN:
        result.fail(["LIMIT-5"], f"the run shows {len(run.get('steps') or [])} memos,"
                                 f" expected exactly {STEPS_PER_RUN}")
    return result


def _over_limit(request: dict[str, Any]) -> Answer:
    """Attempt 0 answers a step whose body is one byte over appResponseBytes."""
    steps = request.get("steps") or {}
    if request.get("attempt", 0) == 0 and not steps:
        shell = {"op": "step", "id": "big", "data": ""}
        pad = APP_RESPONSE_BYTES + 1 - len(compact(shell))
        return Answer(op={**shell, "data": "x" * pad})
    return Answer(op={"op": "done", "data": {"memos": sorted(steps),
                                             "attempt": request.get("attempt")}})


def _at_limit(request: dict[str, Any]) -> Answer:
    """A done op whose body is exactly appResponseBytes (a step that large could not
    travel back in the next invoke: the fake app takes at most 1 MiB)."""
    shell = {"op": "done", "data": {"attempt": request.get("attempt"), "pad": ""}}
    pad = APP_RESPONSE_BYTES - len(compact(shell))
    return Answer(op={"op": "done", "data": {"attempt": request.get("attempt"),
                                             "pad": "x" * pad}})


def answer_too_large(suite: EngineSuite) -> Result:
    result = Result("answer-over-app-response-bytes", "engine", ["LIMIT-3", "RETRY-3"])
    scripts = {"at-limit": ({"retries": 1}, _at_limit),
               "over-limit": ({"retries": 1}, _over_limit)}
    with workspace(suite, scripts) as ws:
        started = {fid: start(ws, fid, result) for fid in scripts}
        if None in started.values():
            return result
        runs = {fid: wait_status(ws, str(run_id)) for fid, run_id in started.items()}
        over, at = ws.invokes("over-limit"), ws.invokes("at-limit")
        if attempts_of(over) != [0, 1] or (over[1].json().get("steps") or {}) != {}:
            seen = [(i.json().get("attempt"), sorted(i.json().get("steps") or {}))
                    for i in over]
            result.fail(["LIMIT-3"], f"after an answer of {APP_RESPONSE_BYTES + 1} bytes the"
                                     f" invokes were (attempt, memos) {seen}; expected a"
                                     " retry (attempt 1) with nothing memoized")
        run = runs["over-limit"]
        if run.get("status") != "completed" or run.get("output") != {"memos": [],
                                                                     "attempt": 1}:
            result.fail(["LIMIT-3"], f"over-limit run is {run.get('status')!r} with output"
                                     f" {json.dumps(run.get('output'))[:200]}")
        if len(over) == 2:
            check_history(result, ws, str(started["over-limit"]), over, [None, "done"],
                          ["INVALID_RESPONSE", None])
        run = runs["at-limit"]
        output = run.get("output")
        if attempts_of(at) != [0] or run.get("status") != "completed" or \
                not isinstance(output, dict) or output.get("attempt") != 0 or \
                len(compact({"op": "done", "data": output})) != APP_RESPONSE_BYTES:
            result.fail(["LIMIT-3"], f"an answer of exactly {APP_RESPONSE_BYTES} bytes is"
                                     f" allowed, but attempts were {attempts_of(at)} and the"
                                     f" run {run.get('status')!r} (error"
                                     f" {json.dumps(run.get('error'))[:200]})")
    return result


def _event_of(size: int, event_id: str) -> dict[str, Any]:
    """An event whose compact serialization ({id, name, data, ts}) is `size` bytes."""
    shell = {"id": event_id, "name": "conf.limits.big", "data": "", "ts": 1_764_000_000_000}
    return {**shell, "data": "x" * (size - len(compact(shell)))}


def _too_large(code: int, answer: Any) -> str | None:
    error = answer.get("error") if isinstance(answer, dict) else None
    if code != 413 or not isinstance(error, dict) or error.get("code") != "PAYLOAD_TOO_LARGE":
        return f"{code} {str(answer)[:160]}"
    return None


def oversized_events(suite: EngineSuite) -> Result:
    result = Result("event-and-api-body-limits", "engine",
                    ["LIMIT-6", "EVT-3", "API-3", "API-7"])
    tag = secrets.token_hex(4)
    with workspace(suite, {}) as ws:
        # Slack for a serializer that is not compact: at most 7 separators' spaces.
        fits = _event_of(EVENT_BYTES - 16, f"fits-{tag}")
        code, answer = ws.api("/e", fits)
        if code != 200:
            result.fail(["EVT-3", "LIMIT-6"], f"an event of {EVENT_BYTES - 16} bytes was"
                                              f" refused: {code} {str(answer)[:160]}")
        big = _event_of(EVENT_BYTES + 1, f"big-{tag}")
        code, answer = ws.api("/e", big)
        if (problem := _too_large(code, answer)) is not None:
            result.fail(["EVT-3", "LIMIT-6"], f"/e with an event of {EVENT_BYTES + 1} bytes"
                                              f" answered {problem}; expected 413"
                                              " PAYLOAD_TOO_LARGE")
        small = {"id": f"small-{tag}", "name": "conf.limits.small", "data": {}}
        code, answer = ws.api("/e/bulk", {"events": [small, _event_of(EVENT_BYTES + 1,
                                                                      f"big2-{tag}")]})
        if (problem := _too_large(code, answer)) is not None:
            result.fail(["EVT-3"], f"/e/bulk with an oversized second event answered"
                                   f" {problem}; expected 413 PAYLOAD_TOO_LARGE")
        elif answer["error"].get("path") != "/events/1":
            result.fail(["EVT-3"], f"413 for the oversized second event has path"
                                   f" {answer['error'].get('path')!r}, expected '/events/1'")
        code, answer = ws.api("/e", small)
        if code != 200 or not isinstance(answer, dict) or answer.get("duplicate") is not False:
            result.fail(["API-7"], f"after the refused bulk call its valid event was already"
                                   f" accepted: /e answered {code} {str(answer)[:160]}")
        # Bodies: each event below eventBytes, the call just above or below apiRequestBytes.
        each = 230_000
        under = {"events": [_event_of(each, f"u{n}-{tag}") for n in range(4)]}
        overall = {"events": [_event_of(each, f"o{n}-{tag}") for n in range(5)]}
        assert len(compact(under)) < API_REQUEST_BYTES < len(compact(overall))
        code, answer = ws.api("/e/bulk", under)
        if code != 200:
            result.fail(["LIMIT-6"], f"/e/bulk of {len(compact(under))} bytes (under"
                                     f" {API_REQUEST_BYTES}) answered {code}"
                                     f" {str(answer)[:160]}")
        code, answer = ws.api("/e/bulk", overall)
        if (problem := _too_large(code, answer)) is not None:
            result.fail(["LIMIT-6", "API-3"], f"/e/bulk of {len(compact(overall))} bytes"
                                              f" answered {problem}; expected 413"
                                              " PAYLOAD_TOO_LARGE")
        code, answer = ws.api("/e", {"id": f"o0-{tag}", "name": "conf.limits.big",
                                     "data": {}})
        if code != 200 or not isinstance(answer, dict) or answer.get("duplicate") is not False:
            result.fail(["API-3"], "an event of the refused oversized body was accepted"
                                   f" anyway: /e answered {code} {str(answer)[:160]}")
    return result


def _sends_big_then_small(request: dict[str, Any]) -> Answer:
    """Attempt 0 sends one event over eventBytes (with a small one before it), attempt 1
    only the small one."""
    steps = request.get("steps") or {}
    if "emit" in steps:
        return Answer(op={"op": "done", "data": steps["emit"]["data"]})
    run_id = request["runId"]
    small = {"id": f"small-{run_id}", "name": "conf.limits.sent", "data": {}}
    events = [small] if request.get("attempt", 0) else [
        small, _event_of(EVENT_BYTES + 1, f"big-{run_id}")]
    return Answer(op={"op": "sendEvent", "id": "emit", "events": events})


def oversized_sent_event(suite: EngineSuite) -> Result:
    """[EVT-3] through [OP-4]/[OP-10]: a sendEvent carrying an event over eventBytes is a
    failed invocation (retried) and accepts none of its events, not even the small ones."""
    result = Result("send-event-over-event-bytes", "engine", ["EVT-3", "OP-4", "OP-10"])
    with workspace(suite, {"sender": ({"retries": 1}, _sends_big_then_small)}) as ws:
        run_id = start(ws, "sender", result)
        if run_id is None:
            return result
        run = wait_status(ws, run_id)
        invokes = ws.invokes("sender")
        if attempts_of(invokes) != [0, 1, 0] or run.get("status") != "completed":
            result.fail(["EVT-3", "OP-10"], f"attempts {attempts_of(invokes)}, run"
                                            f" {run.get('status')!r}: the oversized send"
                                            " should fail its invocation and the retry pass")
        receipts = (run.get("output") or []) if isinstance(run.get("output"), list) else []
        if [r.get("duplicate") for r in receipts if isinstance(r, dict)] != [False]:
            result.fail(["OP-4", "EVT-3"], f"receipts {json.dumps(receipts)[:200]}: the small"
                                           " event was accepted by the refused send")
        code, answer = ws.api("/e", {"id": f"big-{run_id}", "name": "conf.limits.sent",
                                     "data": {}})
        if code != 200 or answer.get("duplicate") is not False:
            result.fail(["EVT-3"], f"the oversized event's id was stored: /e answered {code}"
                                   f" {str(answer)[:160]}")
    return result
