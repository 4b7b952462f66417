"""Engine scenarios: limits, timeouts, retries, errors and cancellation.

Every case opens its own workspace (a fresh fake app) and they all run at once, so the
group takes as long as its slowest case (TOO_MANY_STEPS: a thousand invocations).
Timing checks allow no earliness (beyond the clock resolution) and LATE_MS of lateness.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .. import signing
from ..fake_app import EARLY_MS, LATE_MS, TERMINAL, Answer, FakeApp, Received
from ..results import ERROR, Result
from .workspace import Workspace, workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite

POLL_S = 0.2
SMALL_APP_BYTES = 65_536  # the smallest maxRequestBytes a manifest may state ([MAN-1])
STEPS_PER_RUN = 1000
APP_RESPONSE_BYTES = 1_048_576
EVENT_BYTES = 262_144
API_REQUEST_BYTES = 1_048_576


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def instant(ms: float, digits: int | str = 3, offset_min: int = 0) -> str:
    """An ISO instant for unix ms `ms`: `digits` fraction digits (a str: those digits
    verbatim) and a `Z` or `+hh:mm` zone."""
    local_s = math.floor(ms / 1000) + offset_min * 60
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(local_s))
    millis = int(ms) % 1000
    if isinstance(digits, str):
        fraction = "." + digits
    elif digits == 0:
        fraction = ""
    else:
        fraction = "." + f"{millis:03d}".ljust(digits, "0")[:digits]
    zone = "Z" if offset_min == 0 else f"+{offset_min // 60:02d}:{offset_min % 60:02d}"
    return stamp + fraction + zone


def start(ws: Workspace, function_id: str, result: Result) -> str | None:
    """Send the function's trigger event; its run id, or None with the refusal recorded
    on `result`."""
    code, receipt = ws.send(f"conf.fake.{function_id}", {"case": function_id})
    run_ids = receipt.get("runIds") if isinstance(receipt, dict) else None
    if code != 200 or not isinstance(run_ids, list) or len(run_ids) != 1:
        result.fail([], f"/e for {function_id} answered {code} {str(receipt)[:200]}")
        return None
    return str(run_ids[0])


def wait_status(ws: Workspace, run_id: str, statuses: set[str] | None = None,
                timeout_s: float = 30.0) -> dict[str, Any]:
    wanted = statuses or TERMINAL
    deadline = time.monotonic() + timeout_s
    run: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        run = ws.run(run_id)
        if run is not None and run.get("status") in wanted:
            return run
        time.sleep(POLL_S)
    return run or {}


def wait_invokes(ws: Workspace, function_id: str, count: int, timeout_s: float = 15.0
                 ) -> list[Received]:
    deadline = time.monotonic() + timeout_s
    while True:
        invokes = ws.invokes(function_id)
        if len(invokes) >= count or time.monotonic() > deadline:
            return invokes
        time.sleep(0.05)


def sleep_until_ms(at_ms: float) -> None:
    time.sleep(max(0.0, at_ms / 1000 - time.time()))


def attempts_of(invokes: list[Received]) -> list[Any]:
    return [i.json().get("attempt") for i in invokes]


def expect_failed(result: Result, run: dict[str, Any], code: str, requirement_ids: list[str],
                  what: str) -> bool:
    """The run ended `failed` with a DurableError of `code`; else one failure saying what
    it ended as."""
    error = run.get("error") or {}
    if run.get("status") == "failed" and error.get("code") == code and \
            error.get("name") == "DurableError":
        return True
    result.fail(requirement_ids, f"{what}: run ended {run.get('status')!r} with error"
                                 f" {json.dumps(error)[:200]}; expected failed, DurableError"
                                 f" {code}")
    return False


def check_history(result: Result, ws: Workspace, run_id: str, invokes: list[Received],
                  ops: list[str | None], codes: list[str | None] | None = None) -> None:
    """[API-19]: one entry per HTTP attempt, oldest first, failed ones included; `op` is
    what the app answered (null when not valid) and `error` is null on success (an error
    op may count either way: the delivery worked, the run did not progress)."""
    history = ws.history(run_id)
    if history is None:
        result.fail(["API-19"], f"/runs/history refused run {run_id}")
        return
    seen = [(h.get("attempt"), h.get("op")) for h in history]
    want = list(zip(attempts_of(invokes), ops, strict=True))
    if seen != want:
        result.fail(["API-19"], f"/runs/history lists (attempt, op) {seen}; the app got"
                                f" {want} in that order")
        return
    stamps = [h.get("at") for h in history]
    if stamps != sorted(stamps, key=str):
        result.fail(["API-19"], f"/runs/history is not oldest first: {stamps}")
    for entry, op in zip(history, ops, strict=True):
        if op != "error" and (entry.get("error") is None) != (op is not None):
            result.fail(["API-19"], f"history entry {json.dumps(entry)[:200]}: `error`"
                                    " must be null exactly when the answer was valid")
            return
    if codes is not None and [h.get("code") for h in history] != codes:
        result.fail(["API-19", "RETRY-3"], f"/runs/history codes"
                                           f" {[h.get('code') for h in history]}, expected"
                                           f" {codes}")
        return
    result.cover(["API-19"])


def check_gaps(result: Result, invokes: list[Received]) -> None:
    """[RETRY-4]: retry k comes min(1000·2^(k−1), 300000)·[0.5, 1] ms after attempt k−1."""
    for k in range(1, len(invokes)):
        base = min(1000 * 2 ** (k - 1), 300_000)
        gap = invokes[k].at_ms - invokes[k - 1].at_ms
        if not base * 0.5 - EARLY_MS <= gap <= base + LATE_MS:
            result.fail(["RETRY-4"], f"retry {k} came {gap} ms after attempt {k - 1};"
                                     f" the backoff is {base // 2}..{base} ms"
                                     f" (+{LATE_MS} ms latency allowed)")


# ---- REQUEST_TOO_LARGE ---------------------------------------------------------------------

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


# ---- TOO_MANY_STEPS ------------------------------------------------------------------------

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


# ---- answers over appResponseBytes --------------------------------------------------------

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


# ---- events and API bodies over their limits ----------------------------------------------

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


# ---- the last error, error ops commit nothing ----------------------------------------------

DETAILS = {"field": "email", "tries": [1, 2], "nested": {"ok": False, "note": "été"}}


def _erring(request: dict[str, Any]) -> Answer:
    steps = request.get("steps") or {}
    if "a" not in steps:
        return Answer(op={"op": "step", "id": "a", "data": {"n": 1}})
    if request.get("attempt", 0) == 0:
        return Answer(op={"op": "error", "id": "b", "message": "transient",
                          "name": "Error", "retryable": True})
    return Answer(op={"op": "error", "id": "b", "message": "the email is invalid",
                      "name": "ValidationError", "code": "E_INVALID_EMAIL",
                      "details": DETAILS, "retryable": False})


def last_error(suite: EngineSuite) -> Result:
    result = Result("last-error-and-error-ops", "engine", ["ERR-6", "OP-3"])
    with workspace(suite, {"erring": ({"retries": 3}, _erring)}) as ws:
        run_id = start(ws, "erring", result)
        if run_id is None:
            return result
        run = wait_status(ws, run_id)
        invokes = ws.invokes("erring")
    seen = [(sorted(i.json().get("steps") or {}), i.json().get("attempt")) for i in invokes]
    if seen != [([], 0), (["a"], 0), (["a"], 1)]:
        result.fail(["OP-3"], f"invokes carried (memos, attempt) {seen}; expected"
                              " [([], 0), (['a'], 0), (['a'], 1)]: an error op commits no memo")
    if [s.get("id") for s in run.get("steps") or []] != ["a"]:
        result.fail(["OP-3"], f"the failed run shows memos {run.get('steps')}, expected only a")
    want = {"message": "the email is invalid", "name": "ValidationError",
            "code": "E_INVALID_EMAIL", "stepId": "b", "details": DETAILS}
    error = run.get("error")
    if run.get("status") != "failed" or not isinstance(error, dict) or \
            {k: error.get(k) for k in want} != want:
        result.fail(["ERR-6"], f"/runs/get shows status {run.get('status')!r}, error"
                               f" {json.dumps(error)[:300]}; expected {want}")
    return result


# ---- memos, done, instants ----------------------------------------------------------------

STEP_A = {"n": 1, "text": "é ✓", "list": [1, None, True]}


def _plain(request: dict[str, Any]) -> Answer:
    steps = request.get("steps") or {}
    if "a" not in steps:
        return Answer(op={"op": "step", "id": "a", "data": STEP_A})
    if "b" not in steps:
        return Answer(op={"op": "step", "id": "b", "data": None})
    return Answer(op={"op": "done", "data": {"a": steps["a"]["data"], "b": steps["b"]["data"]}})


def memo_and_done(suite: EngineSuite) -> Result:
    result = Result("memo-commit-and-done", "engine", ["OP-2", "OP-7"])
    with workspace(suite, {"plain": ({}, _plain)}) as ws:
        run_id = start(ws, "plain", result)
        if run_id is None:
            return result
        run = wait_status(ws, run_id)
        invokes = ws.invokes("plain")
    memo_a = {"type": "run", "data": STEP_A}
    want = [{}, {"a": memo_a}, {"a": memo_a, "b": {"type": "run", "data": None}}]
    seen = [i.json().get("steps") for i in invokes]
    if seen != want:
        result.fail(["OP-2"], f"invokes carried steps {json.dumps(seen)[:400]}; expected"
                              f" {json.dumps(want)}")
    shown = [{k: s.get(k) for k in ("id", "type", "data")} for s in run.get("steps") or []]
    if shown != [{"id": "a", **memo_a}, {"id": "b", "type": "run", "data": None}]:
        result.fail(["OP-2"], f"/runs/get steps are {json.dumps(shown)[:300]}")
    if run.get("status") != "completed" or run.get("output") != {"a": STEP_A, "b": None}:
        result.fail(["OP-7"], f"run is {run.get('status')!r} with output"
                              f" {json.dumps(run.get('output'))[:200]}; expected completed"
                              f" with {json.dumps({'a': STEP_A, 'b': None})}")
    return result


def instants(suite: EngineSuite) -> Result:
    """[OP-9]: `until` with 0, 1, 6 and 9 fraction digits and with an offset."""
    result = Result("until-instants", "engine", ["OP-9"])
    untils: dict[str, tuple[int, str]] = {}  # step id -> (unix ms, as sent)

    def script(request: dict[str, Any]) -> Answer:
        steps = request.get("steps") or {}
        now = time.time() * 1000
        if "s0" not in steps:  # whole second, no fraction: 0.8..1.8 s ahead
            until_ms = math.ceil((now + 800) / 1000) * 1000
            text = instant(until_ms, 0)
            op = {"op": "sleep", "id": "s0", "until": text}
        elif "s1" not in steps:  # six digits
            until_ms = math.ceil(now) + 400
            text = instant(until_ms, f"{until_ms % 1000:03d}250")
            op = {"op": "sleep", "id": "s1", "until": text}
        elif "s2" not in steps:  # one digit
            until_ms = math.ceil((now + 300) / 100) * 100
            text = instant(until_ms, 1)
            op = {"op": "sleep", "id": "s2", "until": text}
        elif "s3" not in steps:  # nine digits and an offset
            until_ms = math.ceil(now) + 300
            text = instant(until_ms, f"{until_ms % 1000:03d}000001", offset_min=90)
            op = {"op": "sleep", "id": "s3", "until": text}
        elif "w" not in steps:  # a wait's timeout, no fraction
            until_ms = math.ceil((now + 500) / 1000) * 1000
            text = instant(until_ms, 0)
            op = {"op": "wait", "id": "w", "event": "conf.limits.never", "match": None,
                  "until": text}
        else:
            return Answer(op={"op": "done", "data": sorted(steps)})
        untils[op["id"]] = (until_ms, text)
        return Answer(op=op)

    with workspace(suite, {"instants": ({"retries": 0}, script)}) as ws:
        run_id = start(ws, "instants", result)
        if run_id is None:
            return result
        run = wait_status(ws, run_id, timeout_s=30.0)
        invokes = ws.invokes("instants")
    if run.get("status") != "completed" or len(invokes) != 6:
        error = json.dumps(run.get("error"))[:200]
        result.fail(["OP-9"], f"run is {run.get('status')!r} (error {error}) after"
                              f" {len(invokes)} invokes; expected completed after 6, every"
                              f" until accepted: {[t for _, t in untils.values()]}")
        return result
    order = ["s0", "s1", "s2", "s3", "w"]
    for k, step in enumerate(order):
        until_ms, text = untils[step]
        memo = (invokes[k + 1].json().get("steps") or {}).get(step)
        kind = "wait" if step == "w" else "sleep"
        if memo != {"type": kind, "data": None}:
            result.fail(["OP-9"], f"after until {text!r} the memo of {step} is {memo}")
        resumed = invokes[k + 1].at_ms
        if not until_ms - EARLY_MS <= resumed <= max(until_ms, invokes[k].at_ms) + LATE_MS:
            result.fail(["OP-9"], f"until {text!r} ({until_ms} ms) resumed at {resumed} ms")
    return result


# ---- timeoutMs, delivery failures ---------------------------------------------------------

HELD_S = 4.0  # longer than the slowest acceptable timeout + backoff, so a wait shows


def _slow(request: dict[str, Any]) -> Answer:
    steps = request.get("steps") or {}
    if request.get("attempt", 0) == 0:
        return Answer(op={"op": "step", "id": "late", "data": "too late"}, delay_s=HELD_S)
    return Answer(op={"op": "done", "data": {"memos": sorted(steps)}})


def _always_slow(request: dict[str, Any]) -> Answer:
    return Answer(op={"op": "done", "data": "too late"}, delay_s=HELD_S)


def timeouts(suite: EngineSuite) -> Result:
    result = Result("timeout-ms", "engine", ["RETRY-3", "DEF-12", "RETRY-5"])
    timeout_ms = 300
    scripts = {"slow": ({"retries": 1, "timeoutMs": timeout_ms}, _slow),
               "slow-fail": ({"retries": 0, "timeoutMs": timeout_ms}, _always_slow)}
    with workspace(suite, scripts) as ws:
        slow = start(ws, "slow", result)
        failing = start(ws, "slow-fail", result)
        if slow is None or failing is None:
            return result
        first = wait_invokes(ws, "slow-fail", 1)
        failed = wait_status(ws, failing, timeout_s=HELD_S + 5)
        seen_at = time.time() * 1000
        run = wait_status(ws, slow, timeout_s=15.0)
        invokes = ws.invokes("slow")
        if first and failed.get("status") == "failed" and \
                seen_at - first[0].at_ms > timeout_ms + LATE_MS:
            result.fail(["DEF-12"], f"a run whose only attempt must end after {timeout_ms} ms"
                                    f" was seen failed only {seen_at - first[0].at_ms:.0f} ms"
                                    " after its invoke")
        if failed.get("status") != "failed":
            result.fail(["DEF-12", "RETRY-3"], f"with retries 0 and timeoutMs {timeout_ms}, a"
                                               f" {HELD_S} s answer left the run"
                                               f" {failed.get('status')!r}")
        else:
            error = failed.get("error") or {}
            if error.get("code") != "RETRIES_EXHAUSTED" or error.get("name") != "DurableError" \
                    or not error.get("message"):
                result.fail(["RETRY-5"], f"the timed-out run failed with"
                                         f" {json.dumps(error)[:200]}; expected DurableError"
                                         " RETRIES_EXHAUSTED naming the problem")
            entry = ws.failure_of(failing) or {}
            if "TIMEOUT" not in str(entry.get("detail")):
                result.fail(["RETRY-3", "RETRY-5"], "/failures/search does not show the"
                                                    " invocation's code TIMEOUT:"
                                                    f" {json.dumps(entry)[:300]}")
        if attempts_of(invokes) != [0, 1]:
            result.fail(["RETRY-3"], f"attempts {attempts_of(invokes)}, expected [0, 1]: a"
                                     " timed-out invocation is retried")
        else:
            gap = invokes[1].at_ms - invokes[0].at_ms
            low, high = timeout_ms + 500, timeout_ms + 1000
            if not low - EARLY_MS <= gap <= high + LATE_MS:
                result.fail(["DEF-12", "RETRY-3"], f"the retry came {gap} ms after the"
                                                   f" held invoke; expected timeoutMs +"
                                                   f" backoff = {low}..{high} ms"
                                                   f" (+{LATE_MS} ms latency)")
            if invokes[1].json().get("steps"):
                result.fail(["RETRY-3"], "the answer that came after timeoutMs was memoized:"
                                         f" {invokes[1].json().get('steps')}")
            check_history(result, ws, slow, invokes, [None, "done"], ["TIMEOUT", None])
        if run.get("status") != "completed" or run.get("output") != {"memos": []}:
            result.fail(["RETRY-3"], f"run is {run.get('status')!r} with output"
                                     f" {json.dumps(run.get('output'))[:200]}")
        # Let the held answers go out before the app stops.
        if invokes:
            sleep_until_ms(invokes[0].at_ms + HELD_S * 1000 + 300)
    return result


def delivery_failures(suite: EngineSuite) -> Result:
    result = Result("delivery-failed", "engine", ["RETRY-3", "RETRY-5"])

    def unavailable(request: dict[str, Any]) -> Answer:
        return Answer(status=503, raw=b"down for maintenance")

    cases: list[tuple[str, dict[str, Any] | None]] = []
    with workspace(suite, {"unavailable": ({"retries": 0}, unavailable)}) as ws:
        run_id = start(ws, "unavailable", result)
        if run_id is None:
            return result
        run = wait_status(ws, run_id)
        cases.append(("HTTP 503", run))
        entry_503 = ws.failure_of(run_id) if run.get("status") == "failed" else None
        codes = [h.get("code") for h in ws.history(run_id) or []]
        if codes != ["DELIVERY_FAILED"]:
            result.fail(["RETRY-3", "API-19"], f"HTTP 503: /runs/history codes {codes},"
                                               " expected ['DELIVERY_FAILED']")
    with workspace(suite, {"refused": ({"retries": 0}, unavailable)}) as ws:
        ws.take_offline()
        run_id = start(ws, "refused", result)
        if run_id is None:
            return result
        run = wait_status(ws, run_id)
        cases.append(("connection refused", run))
        entry_refused = ws.failure_of(run_id) if run.get("status") == "failed" else None
    for (what, run), entry, status in zip(cases, (entry_503, entry_refused), (503, None),
                                         strict=True):
        if not expect_failed(result, run, "RETRIES_EXHAUSTED", ["RETRY-5"],
                             f"{what} with retries 0"):
            continue
        if entry is None or entry.get("httpStatus") != status or \
                "DELIVERY_FAILED" not in str(entry.get("detail")):
            result.fail(["RETRY-3"], f"{what}: /failures/search shows"
                                     f" {json.dumps(entry)[:300]}; expected httpStatus"
                                     f" {status} and the code DELIVERY_FAILED")
    return result


# ---- retries and backoff ------------------------------------------------------------------

def _always_failing(request: dict[str, Any]) -> Answer:
    return Answer(op={"op": "error", "id": None, "message": "still broken",
                      "name": "FlakyError", "retryable": True})


def retries_and_backoff(suite: EngineSuite) -> Result:
    result = Result("retries-and-backoff", "engine", ["RETRY-1", "RETRY-4", "API-19"])
    scripts = {"three": ({"retries": 3}, _always_failing),
               "none": ({"retries": 0}, _always_failing),
               "default": ({}, _always_failing)}  # retries absent: 3
    with workspace(suite, scripts) as ws:
        started = {fid: start(ws, fid, result) for fid in scripts}
        if None in started.values():
            return result
        runs = {fid: wait_status(ws, str(run_id), timeout_s=20.0)
                for fid, run_id in started.items()}
        time.sleep(1.0)  # an attempt too many would show up now
        for fid, retries in (("three", 3), ("none", 0), ("default", 3)):
            invokes = ws.invokes(fid)
            run = runs[fid]
            want = list(range(retries + 1))
            if attempts_of(invokes) != want:
                result.fail(["RETRY-1"], f"retries {retries}: the app got attempts"
                                         f" {attempts_of(invokes)}, expected {want}")
                continue
            error = run.get("error") or {}
            if run.get("status") != "failed" or error.get("name") != "FlakyError" or \
                    error.get("message") != "still broken":
                result.fail(["RETRY-1"], f"retries {retries}: run is {run.get('status')!r}"
                                         f" with error {json.dumps(error)[:200]}")
            check_gaps(result, invokes)
            check_history(result, ws, str(started[fid]), invokes, ["error"] * len(want),
                          [None] * len(want))
    return result


# ---- cancellation while an invocation is in flight ----------------------------------------

CANCEL_HELD_S = 2.0


def _held(request: dict[str, Any]) -> Answer:
    if not request.get("steps"):
        return Answer(op={"op": "step", "id": "s", "data": "after cancel"},
                      delay_s=CANCEL_HELD_S)
    return Answer(op={"op": "done", "data": "invoked after cancel"})


def cancel_in_flight(suite: EngineSuite) -> Result:
    result = Result("cancel-in-flight", "engine", ["STATUS-2", "API-19"])
    with workspace(suite, {"held": ({"retries": 1}, _held)}) as ws:
        run_id = start(ws, "held", result)
        if run_id is None:
            return result
        invokes = wait_invokes(ws, "held", 1)
        if not invokes:
            result.fail(["STATUS-2"], "the run was never invoked")
            return result
        code, answer = ws.api("/runs/cancel", {"runId": run_id})
        run = ws.run(run_id) or {}
        if code != 200 or not isinstance(answer, dict) or answer.get("ok") is not True or \
                answer.get("status") != "cancelled":
            result.fail(["STATUS-2"], f"/runs/cancel of a running run answered {code}"
                                      f" {str(answer)[:160]}")
        if run.get("status") != "cancelled":
            result.fail(["STATUS-2"], f"right after the cancel, with its invocation in"
                                      f" flight, the run is {run.get('status')!r}")
        # The held answer arrives now; give the engine time to (wrongly) apply it.
        sleep_until_ms(invokes[0].at_ms + CANCEL_HELD_S * 1000 + 1500)
        run = ws.run(run_id) or {}
        invokes = ws.invokes("held")
        if run.get("status") != "cancelled" or run.get("steps"):
            result.fail(["STATUS-2"], f"after the late answer the run is"
                                      f" {run.get('status')!r} with memos {run.get('steps')}:"
                                      " the answer must be discarded")
        if len(invokes) != 1:
            result.fail(["STATUS-2"], f"the cancelled run was invoked {len(invokes)} times")
        deadline = time.monotonic() + 3
        history = ws.history(run_id) or []
        while not history and time.monotonic() < deadline:
            time.sleep(POLL_S)
            history = ws.history(run_id) or []
        if len(history) != 1 or history[0].get("attempt") != 0:
            result.fail(["API-19"], f"/runs/history lists {json.dumps(history)[:300]}; expected"
                                    " the one attempt whose answer was discarded")
    return result


# ---- answers without a signature; 401 answers ---------------------------------------------

class UnsignedAnswerApp(FakeApp):
    """Answers attempt 0 of function `unsigned`, and every attempt of `unsigned-always`,
    without any signature header."""

    async def _endpoint(self, request: web.Request) -> web.Response:
        response = await super()._endpoint(request)
        if request.method == "POST" and response.status == 200:
            try:
                invoke = json.loads(await request.read())
            except ValueError:
                return response
            function_id = invoke.get("functionId")
            if function_id == "unsigned-always" or (function_id == "unsigned"
                                                    and invoke.get("attempt") == 0):
                response.headers.pop(signing.SIG, None)
                response.headers.pop(signing.SIG_V2, None)
        return response


def _attempt_done(request: dict[str, Any]) -> Answer:
    return Answer(op={"op": "done", "data": {"attempt": request.get("attempt")}})


def unsigned_answer(suite: EngineSuite) -> Result:
    result = Result("answer-without-signature", "engine", ["SIG-7", "RETRY-3"])
    scripts = {"unsigned": ({"retries": 1}, _attempt_done),
               "unsigned-always": ({"retries": 0}, _attempt_done)}
    with workspace(suite, scripts, capabilities=[], app_type=UnsignedAnswerApp) as ws:
        run_id = start(ws, "unsigned", result)
        failing = start(ws, "unsigned-always", result)
        if run_id is None or failing is None:
            return result
        run = wait_status(ws, run_id)
        invokes = ws.invokes("unsigned")
        failed = wait_status(ws, failing)
        entry = ws.failure_of(failing) if failed.get("status") == "failed" else None
    if attempts_of(invokes) != [0, 1] or run.get("output") != {"attempt": 1}:
        result.fail(["SIG-7"], f"attempts {attempts_of(invokes)}, run {run.get('status')!r}"
                               f" output {run.get('output')}; an unsigned answer must count"
                               " as a failed invocation (retried), not as done")
    if failed.get("status") != "failed":
        result.fail(["SIG-7"], f"with retries 0 an unsigned done left the run"
                               f" {failed.get('status')!r}, expected failed")
    elif entry is None or "INVALID_RESPONSE" not in str(entry.get("detail")):
        result.fail(["RETRY-3"], f"/failures/search shows {json.dumps(entry)[:300]};"
                                 " expected the code INVALID_RESPONSE")
    return result


def _unauthorized_first(request: dict[str, Any]) -> Answer:
    if request.get("attempt", 0) == 0:
        return Answer(status=401, raw=b"invalid signature")
    return _attempt_done(request)


def manifest_after_401(suite: EngineSuite) -> Result:
    result = Result("manifest-refetch-after-401", "engine", ["MAN-6"])
    with workspace(suite, {"auth": ({"retries": 1}, _unauthorized_first)}) as ws:
        run_id = start(ws, "auth", result)
        if run_id is None:
            return result
        run = wait_status(ws, run_id)
        with ws.app.lock:
            received = list(ws.app.received)
    kinds = [r.method for r in received]
    posts = [n for n, kind in enumerate(kinds) if kind == "POST"]
    if run.get("status") != "completed" or len(posts) != 2:
        result.fail(["MAN-6"], f"run {run.get('status')!r} after requests {kinds}; expected"
                               " a 401 answer to be retried once")
    elif "GET" not in kinds[posts[0] + 1:posts[1]]:
        result.fail(["MAN-6"], f"requests were {kinds}: no manifest GET between the 401"
                               " answer and the retry (SHOULD)")
    return result


# ---- an oversized event inside a sendEvent op ----------------------------------------------

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


CASES: list[Callable[[EngineSuite], Result]] = [
    too_many_steps, request_too_large, answer_too_large, oversized_events, last_error,
    memo_and_done, instants, timeouts, delivery_failures, retries_and_backoff,
    cancel_in_flight, unsigned_answer, manifest_after_401, oversized_sent_event]


def _guarded(suite: EngineSuite, case: Callable[[EngineSuite], Result]) -> Result:
    try:
        return case(suite)
    except Exception as error:  # noqa: BLE001 - one broken case must not hide the others
        broken = Result(case.__name__.replace("_", "-"), "engine", [], status=ERROR)
        broken.failures.append(f"the case crashed: {error!r}")
        return broken


def run(suite: EngineSuite) -> list[Result]:
    with ThreadPoolExecutor(max_workers=len(CASES), thread_name_prefix="limits") as pool:
        return list(pool.map(lambda case: _guarded(suite, case), CASES))
