"""Limits scenarios: invocation timeouts, delivery failures, retries and backoff [RETRY-1..5]
and cancelling a run in flight [STATUS-2].
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from ..fake_app import EARLY_MS, LATE_MS, Answer
from ..results import Result
from .limits_common import (
    POLL_S,
    attempts_of,
    check_gaps,
    check_history,
    expect_failed,
    sleep_until_ms,
    start,
    wait_invokes,
    wait_status,
)
from .workspace import workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite


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
