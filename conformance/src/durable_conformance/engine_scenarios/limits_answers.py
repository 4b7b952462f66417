"""Limits scenarios: the stored last error [ERR-6], memos and output [OP-2], [OP-7], instants
[OP-9], unsigned answers [SIG-7] and the manifest fetched after a 401 [MAN-6].
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .. import signing
from ..fake_app import EARLY_MS, LATE_MS, Answer, FakeApp
from ..results import Result
from .limits_common import attempts_of, instant, start, wait_status
from .workspace import workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite


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
