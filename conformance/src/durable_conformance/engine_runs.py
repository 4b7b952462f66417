"""spec/vectors/runs against the engine: scripted app answers in, runs and invocations out.

Each case gets its own workspace (a fresh fake app): its functions answer the n-th
invocation with the case's n-th answer, its events are sent through `/e`, and the runs
each receipt lists and the invocations each function received are compared with the
case. A failure names the case's requirement IDs.
"""

from __future__ import annotations

import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
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


def parse_ms(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)


def subset_problems(want: dict[str, Any], got: Any, what: str) -> list[str]:
    if not isinstance(got, dict):
        return [f"{what} is {json.dumps(got)[:120]}, expected members {json.dumps(want)}"]
    return [f"{what}.{k} is {json.dumps(got.get(k))[:120]}, expected {json.dumps(v)[:120]}"
            for k, v in want.items() if got.get(k) != v]


def check_run(result: Result, ws: Workspace, run_id: str, want: dict[str, Any],
              timeout_s: float = RUN_TIMEOUT_S, runs: dict[str, str] | None = None) -> None:
    run = ws.wait_run(run_id, {want["status"]} | TERMINAL, timeout_s)
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
    if "members" in want:
        problems += subset_of(resolve(want["members"], runs or {}), run, "run")
    if "skipReason" in want and run.get("skipReason") != want["skipReason"]:
        problems.append(f"skipReason {run.get('skipReason')!r}, expected {want['skipReason']!r}")
    if "failureHandler" in want:
        status = (run.get("failureHandler") or {}).get("status")
        if status != want["failureHandler"]:
            problems.append(f"failureHandler.status {status!r}, expected"
                            f" {want['failureHandler']!r}")
    if want.get("timesNotFuture"):
        asked = signing.now_ms()
        stamps = [("updatedAt", run.get("updatedAt"))] + [
            (f"steps[{i}].at", step.get("at")) for i, step in enumerate(run.get("steps") or [])
            if isinstance(step, dict)]
        for name, value in stamps:
            at = parse_ms(value)
            if at is None or at > asked + 1000:
                problems.append(f"{name} {value!r} is not an instant before /runs/get answered")
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
            if not isinstance(memo, dict) or "data" not in memo:
                result.fail([], f"{where}: steps[{step_id!r}] is {json.dumps(memo)[:120]}")
                continue
            for problem in subset_of(data, memo["data"], f"steps[{step_id!r}].data"):
                result.fail([], f"{where}: {problem}")
        if "eventMembers" in expected:
            for problem in subset_of(expected["eventMembers"], request.get("event"), "event"):
                result.fail([], f"{where}: {problem}")
        if "traceId" in expected:
            member = request.get("traceparent")
            header = received[index].headers.get("traceparent")
            for label, value in (("member", member), ("header", header)):
                parts = value.split("-") if isinstance(value, str) else []
                if len(parts) != 4 or parts[1] != expected["traceId"]:
                    result.fail([], f"{where}: traceparent {label} {value!r}, expected trace"
                                    f" id {expected['traceId']}")
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
        if expected.get("manifestBefore"):
            after = received[index - 1].at_ms if index else 0
            gets = [r for r in ws.app.received if r.method == "GET"
                    and after <= r.at_ms <= received[index].at_ms]
            if not gets:
                result.fail([], f"{where}: no manifest GET reached the app since the previous"
                                " invocation")
        if "failure" in expected:
            for problem in subset_problems(expected["failure"], request.get("failure"),
                                           "failure"):
                result.fail([], f"{where}: {problem}")
        elif "failure" in request:
            result.fail([], f"{where}: carries `failure`, expected none")


def resolve(value: Any, runs: dict[str, str]) -> Any:
    """`$run:<event index>:<function>` strings replaced by that run's id."""
    if isinstance(value, str) and value.startswith("$run:"):
        return runs.get(value[len("$run:"):], value)
    if isinstance(value, dict):
        return {k: resolve(v, runs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, runs) for v in value]
    return value


def subset_of(want: Any, got: Any, where: str) -> list[str]:
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{where} is {json.dumps(got)[:120]}, expected an object"]
        return [p for k, v in want.items() for p in subset_of(v, got.get(k), f"{where}.{k}")]
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) < len(want):
            return [f"{where} is {json.dumps(got)[:120]}, expected at least {len(want)} items"]
        return [p for i, v in enumerate(want) for p in subset_of(v, got[i], f"{where}[{i}]")]
    return [] if got == want else [f"{where} is {json.dumps(got)[:120]}, expected"
                                   f" {json.dumps(want)[:120]}"]


def make_calls(result: Result, ws: Workspace, calls: list[dict[str, Any]],
               runs: dict[str, str]) -> None:
    for number, item in enumerate(calls):
        if "whenRun" in item:
            ws.wait_run(str(resolve(item["whenRun"]["run"], runs)),
                        {item["whenRun"]["status"]}, RUN_TIMEOUT_S)
        if "delayMs" in item:
            time.sleep(int(item["delayMs"]) / 1000)
        code, answer = ws.api(item["path"], resolve(item["body"], runs))
        where = f"call {number} ({item['path']})"
        expect = item["expect"]
        if code != expect["status"]:
            result.fail([], f"{where} answered {code} {str(answer)[:160]}, expected"
                            f" {expect['status']}")
            continue
        for problem in subset_of(resolve(expect.get("members", {}), runs), answer, "answer"):
            result.fail([], f"{where}: {problem}")
        for member, length in expect.get("lengths", {}).items():
            got = answer.get(member) if isinstance(answer, dict) else None
            if not isinstance(got, list) or len(got) != length:
                result.fail([], f"{where}: {member} is {json.dumps(got)[:120]}, expected"
                                f" {length} items")


def run_case(suite: EngineSuite, data: dict[str, Any], result: Result) -> Result:
    holders: dict[str, list[Workspace]] = {"main": [], "other": []}

    def scripts_for(holder: list[Workspace]) -> dict[str, tuple[dict[str, Any], Script]]:
        return {f["id"]: ({**f["definition"]}, script_of(holder, f)) for f in data["functions"]}

    limit = int(data.get("maxRequestBytes", 1_048_576))
    wait_s = int(data.get("waitMs", RUN_TIMEOUT_S * 1000)) / 1000
    capabilities = data.get("capabilities")
    with ExitStack() as stack:
        ws = stack.enter_context(workspace(suite, scripts_for(holders["main"]),
                                           max_request_bytes=limit, capabilities=capabilities))
        holders["main"].append(ws)
        spaces = {"main": ws}
        if any(e.get("workspace") == "other" for e in data["events"]):
            other = stack.enter_context(workspace(suite, scripts_for(holders["other"]),
                                                  max_request_bytes=limit,
                                                  capabilities=capabilities))
            holders["other"].append(other)
            spaces["other"] = other
        receipts = []
        for event in data["events"]:
            space = spaces[event.get("workspace", "main")]
            if "traceparent" in event:
                code, receipt = space.api("/e", {
                    "id": event.get("id") or f"conf-{secrets.token_hex(6)}",
                    "name": event["name"], "data": event.get("data", {}),
                    "traceparent": event["traceparent"]})
            else:
                code, receipt = space.send(event["name"], event.get("data", {}),
                                           event.get("id"))
            if code != 200 or not isinstance(receipt, dict):
                result.fail([], f"/e {event['name']} answered {code}: {str(receipt)[:160]}")
                return result
            receipts.append(receipt)
        runs: dict[str, str] = {}
        found_by_event: list[dict[str, str]] = []
        for index, (event, receipt) in enumerate(zip(data["events"], receipts, strict=True)):
            space = spaces[event.get("workspace", "main")]
            found: dict[str, str] = {}
            for run_id in receipt.get("runIds", []):
                run = space.run(run_id) or {}
                found[str(run.get("functionId"))] = run_id
                runs[f"{index}:{run.get('functionId')}"] = run_id
            found_by_event.append(found)
        for index, (receipt, want) in enumerate(zip(receipts, data["expect"].get(
                "receipts", [{}] * len(receipts)), strict=True)):
            for problem in subset_of(resolve(want, runs), receipt, f"event {index}'s receipt"):
                result.fail([], problem)
        make_calls(result, ws, data.get("calls", []), runs)
        for index, (event, found, wanted_runs) in enumerate(zip(
                data["events"], found_by_event, data["expect"]["runs"], strict=True)):
            space = spaces[event.get("workspace", "main")]
            wanted = sorted(r["function"] for r in wanted_runs)
            if sorted(found) != wanted:
                result.fail([], f"event {index}: the receipt lists runs of {sorted(found)},"
                                f" expected {wanted}")
            for want in wanted_runs:
                if want["function"] in found:
                    check_run(result, space, found[want["function"]], want, wait_s, runs)
        checks = [(ws, data["expect"].get("invocations", {}))]
        if "other" in spaces:
            checks.append((spaces["other"], data["expect"].get("otherInvocations", {})))
        # Runs no receipt lists (debounce, batch, reruns) are waited for by their invocations.
        deadline = time.monotonic() + RUN_TIMEOUT_S
        for space, expected in checks:
            for function_id, want in expected.items():
                while len(space.invokes(function_id)) < len(want) and \
                        time.monotonic() < deadline:
                    time.sleep(0.1)
        time.sleep(1.0)  # an invocation the engine should not send has had time to arrive
        for space, expected in checks:
            for function_id, want in expected.items():
                check_invocations(result, space, function_id, want)
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
