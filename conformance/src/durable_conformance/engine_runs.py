"""spec/vectors/runs against the engine: scripted app answers in, runs and invocations out.

Each case gets its own workspace (a fresh fake app): its functions answer the n-th
invocation with the case's n-th answer, its events are sent through `/e`, and the runs
each receipt lists and the invocations each function received are compared with the
case. A failure names the case's requirement IDs.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import signing
from .engine_scenarios.workspace import Workspace, WorkspaceError, workspace
from .fake_app import TERMINAL, Answer, Script
from .results import ERROR, Result

if TYPE_CHECKING:
    from .engine_suite import EngineSuite

RUN_TIMEOUT_S = 30.0
HANDLER_DONE = {"completed", "failed"}


def script_of(ws_box: list[Workspace], function: dict[str, Any]) -> Script:
    answers = function["answers"]

    def script(request: dict[str, Any]) -> Answer:
        seen = len(ws_box[0].invokes(function["id"])) if ws_box else 1
        answer = answers[min(seen - 1, len(answers) - 1)]
        if "status" in answer:
            return Answer(status=int(answer["status"]), raw=b"scripted failure")
        op = dict(answer["op"])
        if "fillData" in answer:
            op["data"] = "x" * int(answer["fillData"])
        if "untilInMs" in answer:
            op["until"] = iso_ms(signing.now_ms() + int(answer["untilInMs"]))
        return Answer(op=op, delay_s=int(answer.get("delayMs", 0)) / 1000)

    return script


def iso_ms(unix_ms: int) -> str:
    moment = datetime.fromtimestamp(unix_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def subset_problems(want: dict[str, Any], got: Any, what: str) -> list[str]:
    if not isinstance(got, dict):
        return [f"{what} is {json.dumps(got)[:120]}, expected members {json.dumps(want)}"]
    return [f"{what}.{k} is {json.dumps(got.get(k))[:120]}, expected {json.dumps(v)[:120]}"
            for k, v in want.items() if got.get(k) != v]


def check_run(result: Result, ws: Workspace, run_id: str, want: dict[str, Any]) -> None:
    wanted = {want["status"]} if want["status"] in TERMINAL else None
    run = ws.wait_run(run_id, wanted, RUN_TIMEOUT_S) if wanted else ws.run(run_id)
    where = f"run {run_id} ({want['function']})"
    if run is None:
        result.fail([], f"{where}: /runs/get found no run")
        return
    if "failureHandler" in want:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while (run.get("failureHandler") or {}).get("status") not in HANDLER_DONE and \
                time.monotonic() < deadline:
            time.sleep(0.1)
            run = ws.run(run_id) or run
    problems = []
    if run.get("status") != want["status"]:
        problems.append(f"status {run.get('status')!r}, expected {want['status']!r}")
    if "output" in want and run.get("output") != want["output"]:
        problems.append(f"output {json.dumps(run.get('output'))[:120]}, expected"
                        f" {json.dumps(want['output'])[:120]}")
    if "error" in want:
        problems += subset_problems(want["error"], run.get("error"), "error")
    if "skipReason" in want and run.get("skipReason") != want["skipReason"]:
        problems.append(f"skipReason {run.get('skipReason')!r}, expected {want['skipReason']!r}")
    if "failureHandler" in want:
        status = (run.get("failureHandler") or {}).get("status")
        if status != want["failureHandler"]:
            problems.append(f"failureHandler.status {status!r}, expected"
                            f" {want['failureHandler']!r}")
    for problem in problems:
        result.fail([], f"{where}: {problem}")


def check_invocations(result: Result, ws: Workspace, function_id: str,
                      want: list[dict[str, Any]]) -> None:
    received = ws.invokes(function_id)
    got = [r.json() for r in received]
    shown = [(g.get("attempt"), sorted(g.get("steps") or {})) for g in got]
    if len(got) != len(want):
        result.fail([], f"{function_id}: {len(got)} invocations (attempt, steps) {shown},"
                        f" expected {len(want)}")
        return
    for index, (request, expected) in enumerate(zip(got, want, strict=True)):
        where = f"{function_id} invocation {index}"
        if request.get("attempt") != expected["attempt"]:
            result.fail([], f"{where}: attempt {request.get('attempt')!r}, expected"
                            f" {expected['attempt']}")
        if sorted(request.get("steps") or {}) != sorted(expected["steps"]):
            result.fail([], f"{where}: steps {sorted(request.get('steps') or {})}, expected"
                            f" {sorted(expected['steps'])}")
        for step_id, data in expected.get("stepsData", {}).items():
            memo = (request.get("steps") or {}).get(step_id)
            if not isinstance(memo, dict) or memo.get("data") != data:
                result.fail([], f"{where}: steps[{step_id!r}] is {json.dumps(memo)[:120]},"
                                f" expected data {json.dumps(data)[:120]}")
        if "eventData" in expected and \
                (request.get("event") or {}).get("data") != expected["eventData"]:
            result.fail([], f"{where}: event.data"
                            f" {json.dumps((request.get('event') or {}).get('data'))[:120]},"
                            f" expected {json.dumps(expected['eventData'])[:120]}")
        if "gapMs" in expected and index > 0:
            gap = received[index].at_ms - received[index - 1].at_ms
            low, high = expected["gapMs"].get("min"), expected["gapMs"].get("max")
            if (low is not None and gap < low) or (high is not None and gap > high):
                result.fail([], f"{where}: arrived {gap} ms after the previous invocation,"
                                f" expected {low if low is not None else '-'}.."
                                f"{high if high is not None else '-'} ms")
        if "failure" in expected:
            for problem in subset_problems(expected["failure"], request.get("failure"),
                                           "failure"):
                result.fail([], f"{where}: {problem}")
        elif "failure" in request:
            result.fail([], f"{where}: carries `failure`, expected none")


def run_case(suite: EngineSuite, data: dict[str, Any], result: Result) -> Result:
    box: list[Workspace] = []
    scripts = {f["id"]: ({**f["definition"]}, script_of(box, f)) for f in data["functions"]}
    with workspace(suite, scripts,
                   max_request_bytes=int(data.get("maxRequestBytes", 1_048_576))) as ws:
        box.append(ws)
        receipts = []
        for event in data["events"]:
            code, receipt = ws.send(event["name"], event.get("data", {}))
            if code != 200 or not isinstance(receipt, dict):
                result.fail([], f"/e {event['name']} answered {code}: {str(receipt)[:160]}")
                return result
            receipts.append(receipt)
        for index, (receipt, want) in enumerate(zip(receipts, data["expect"].get(
                "receipts", [{}] * len(receipts)), strict=True)):
            for problem in subset_problems(want, receipt, f"event {index}'s receipt"):
                result.fail([], problem)
        for index, (receipt, runs) in enumerate(zip(receipts, data["expect"]["runs"],
                                                    strict=True)):
            found: dict[str, str] = {}
            for run_id in receipt.get("runIds", []):
                run = ws.run(run_id) or {}
                found[str(run.get("functionId"))] = run_id
            wanted = sorted(r["function"] for r in runs)
            if sorted(found) != wanted:
                result.fail([], f"event {index}: the receipt lists runs of {sorted(found)},"
                                f" expected {wanted}")
            for want in runs:
                if want["function"] in found:
                    check_run(result, ws, found[want["function"]], want)
        # Runs no receipt lists (debounce, batch) are waited for by their invocations.
        deadline = time.monotonic() + RUN_TIMEOUT_S
        for function_id, want in data["expect"].get("invocations", {}).items():
            while len(ws.invokes(function_id)) < len(want) and time.monotonic() < deadline:
                time.sleep(0.1)
        time.sleep(1.0)  # an invocation the engine should not send has had time to arrive
        for function_id, want in data["expect"].get("invocations", {}).items():
            check_invocations(result, ws, function_id, want)
    return result


def run_vectors(suite: EngineSuite) -> list[Result]:
    cases = suite.spec.vectors("runs")

    def one(case: Any) -> Result:
        result = Result(case.id, "runs", case.requirements)
        skip = suite.harness.raw.get("skipCases", {}).get(case.id)
        if skip is not None:
            return result.skip(str(skip))
        try:
            return run_case(suite, case.data, result)
        except WorkspaceError as error:
            broken = Result(case.id, "runs", case.requirements, status=ERROR)
            broken.failures.append(f"could not set up the workspace: {error}")
            return broken

    with ThreadPoolExecutor(max_workers=max(len(cases), 1), thread_name_prefix="runs") as pool:
        return list(pool.map(one, cases))
