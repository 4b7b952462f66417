"""Engine scenarios: child functions ([INVOKE-1..7], [INVOKE-10]) and trace context
([TRACE-1..3], [TRACE-5]) of wire-protocol §19.1 and §19.5.

The fake app advertises step-invoke and trace-context; a parent answers the invoke op and
reads its memo back from the next invocation, as an SDK would. What is checked: the memo
the parent is invoked with, the child's run (`parent`, its event), statuses after a
timeout or a cancel, and the traceparent of every invocation (member and header) as the
app received it.
"""

from __future__ import annotations

import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..fake_app import Answer, Script
from ..results import Result
from .flow_common import (
    ENGINE,
    Context,
    Tape,
    case_results,
    done,
    iso_at,
    poll,
    refused,
    send,
    sleep_op,
    status_of,
)
from .workspace import Workspace, workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite

CAPABILITIES = ["timestamped-signatures", "step-invoke", "trace-context"]
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
VALID = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
TIMEOUT_S = 1.0


def invoke_op(request: dict[str, Any]) -> Answer:
    data = request["event"].get("data") or {}
    until = data.get("timeoutS")
    return Answer(op={"op": "invoke", "id": "call", "function": data.get("function", "iv-child"),
                      "app": None, "data": {"n": 21, "mode": data.get("mode", "ok")},
                      "until": None if until is None else iso_at(time.time() + until)})


def functions(tape: Tape) -> dict[str, tuple[dict[str, Any], Script]]:
    def parent(request: dict[str, Any]) -> Answer:
        steps = request.get("steps") or {}
        if "call" in steps:
            return done(steps["call"])
        return invoke_op(request)

    def child(request: dict[str, Any]) -> Answer:
        data = request["event"].get("data") or {}
        if data.get("mode") == "fail":
            return Answer(op={"op": "error", "id": None, "message": "no stock",
                              "name": "NonRetriableError", "code": "OUT_OF_STOCK",
                              "retryable": False})
        if data.get("mode") == "park" and "s" not in (request.get("steps") or {}):
            return sleep_op("s", 60_000)
        return done({"doubled": data.get("n", 0) * 2})

    return {
        "iv-parent": ({"trigger": {"event": "iv.go"}}, tape.wrap(parent)),
        "iv-child": ({"trigger": {"event": "iv.never"}}, tape.wrap(child)),
        "tr-fn": ({"trigger": {"event": "tr.go"}}, tape.wrap(lambda r: done("ok"))),
    }


def _parent_memo(ctx: Context, result: Result, sent: Any, ids: list[str],
                 timeout_s: float = 20) -> tuple[str, dict[str, Any]] | None:
    if refused(result, ids, [sent]) or not sent.run_ids:
        result.fail(ids, "the parent event started no run")
        return None
    parent = sent.run_ids[0]
    run = ctx.ws.wait_run(parent, timeout_s=timeout_s)
    if run is None or run.get("status") != "completed":
        result.fail(ids, f"the parent run is {None if run is None else run.get('status')!r},"
                         " not completed: its invoke step never got a result")
        return None
    memo = run.get("output")
    if not isinstance(memo, dict) or memo.get("type") != "invoke":
        result.fail(ids, f"the parent was re-invoked with memo {memo!r}, expected type invoke")
        return None
    return parent, memo.get("data") or {}


def _child_requests(ctx: Context, child_id: str) -> list[dict[str, Any]]:
    return [s.request for s in ctx.tape.of("iv-child") if s.run_id == child_id]


def case_result(ctx: Context) -> list[Result]:
    result = Result("invoke-child-output-is-the-memo", ENGINE,
                    ["INVOKE-2", "INVOKE-3", "INVOKE-4", "INVOKE-10", "TRACE-2", "TRACE-3"])
    got = _parent_memo(ctx, result, send(ctx.ws, "iv.go", {"mode": "ok"}), ["INVOKE-4"])
    if got is None:
        return [result]
    parent, data = got
    child_id = data.get("runId")
    if data.get("status") != "completed" or data.get("output") != {"doubled": 42}:
        result.fail(["INVOKE-4"], f"memo data {data!r}, expected status completed, output"
                                  " {'doubled': 42}")
    child = ctx.ws.run(str(child_id)) or {}
    if child.get("parent") != {"runId": parent, "stepId": "call"}:
        result.fail(["INVOKE-10"], f"the child shows parent {child.get('parent')!r}")
    event = child.get("event") or {}
    want = {"id": f"invoke:{parent}:call", "name": "durable/invoke",
            "data": {"n": 21, "mode": "ok"}}
    if {k: event.get(k) for k in want} != want:
        result.fail(["INVOKE-3"], f"the child's event is {event!r}, expected {want}")
    parents = [s.request for s in ctx.tape.of("iv-parent") if s.run_id == parent]
    children = _child_requests(ctx, str(child_id))
    traces = {r.get("traceparent") for r in parents + children}
    # [TRACE-3]: one trace; the parent id may be the engine's span for each invocation
    if not all(VALID.match(str(t)) for t in traces) or len({_trace_id(t) for t in traces}) != 1:
        result.fail(["TRACE-2", "TRACE-3"], f"the parent's and child's invocations carried"
                                            f" traceparents {traces}, expected valid ones of"
                                            " one trace")
    return [result]


def case_failed(ctx: Context) -> list[Result]:
    result = Result("invoke-child-error-is-the-memo", ENGINE, ["INVOKE-4"])
    got = _parent_memo(ctx, result, send(ctx.ws, "iv.go", {"mode": "fail"}), ["INVOKE-4"])
    if got is None:
        return [result]
    data = got[1]
    error = data.get("error") or {}
    if data.get("status") != "failed" or error.get("code") != "OUT_OF_STOCK" or \
            error.get("message") != "no stock" or "output" in data:
        result.fail(["INVOKE-4"], f"memo data {data!r}, expected status failed with the"
                                  " child's error (code OUT_OF_STOCK)")
    return [result]


def case_unknown(ctx: Context) -> list[Result]:
    result = Result("invoke-unknown-function", ENGINE, ["INVOKE-6"])
    got = _parent_memo(ctx, result, send(ctx.ws, "iv.go", {"function": "nobody"}),
                       ["INVOKE-6"])
    if got is None:
        return [result]
    data = got[1]
    if data.get("runId") is not None or data.get("status") != "failed" or \
            (data.get("error") or {}).get("code") != "UNKNOWN_FUNCTION":
        result.fail(["INVOKE-6"], f"memo data {data!r}, expected runId null, status failed,"
                                  " error code UNKNOWN_FUNCTION")
    return [result]


def case_timeout(ctx: Context) -> list[Result]:
    result = Result("invoke-timeout-cancels-the-child", ENGINE, ["INVOKE-5"])
    sent = send(ctx.ws, "iv.go", {"mode": "park", "timeoutS": TIMEOUT_S})
    got = _parent_memo(ctx, result, sent, ["INVOKE-5"])
    if got is None:
        return [result]
    data = got[1]
    if data.get("status") != "timedOut" or \
            (data.get("error") or {}).get("code") != "INVOKE_TIMEOUT":
        result.fail(["INVOKE-5"], f"memo data {data!r}, expected status timedOut, error"
                                  " code INVOKE_TIMEOUT")
    if status_of(ctx.ws, str(data.get("runId"))) != "cancelled":
        result.fail(["INVOKE-5"], "the child of a timed-out step is"
                                  f" {status_of(ctx.ws, str(data.get('runId')))!r}, not"
                                  " cancelled")
    resumed = [s.start for s in ctx.tape.of("iv-parent") if s.run_id == got[0]]
    if len(resumed) >= 2 and resumed[1] < sent.t0 + TIMEOUT_S - 0.05:
        result.fail(["INVOKE-5"], "the parent resumed before its step's deadline")
    return [result]


def case_cancel(ctx: Context) -> list[Result]:
    result = Result("invoke-cancelling-the-parent-cancels-the-child", ENGINE, ["INVOKE-7"])
    sent = send(ctx.ws, "iv.go", {"mode": "park"})
    if refused(result, ["INVOKE-7"], [sent]) or not sent.run_ids:
        return [result]
    parent = sent.run_ids[0]
    child = poll(lambda: next((s.run_id for s in ctx.tape.of("iv-child")
                               if (ctx.ws.run(s.run_id) or {}).get("parent", {}).get("runId")
                               == parent), None), 15)
    if child is None or not poll(lambda: status_of(ctx.ws, child) == "sleeping", 10):
        return [result.skip("the child did not reach sleeping in time")]
    if status_of(ctx.ws, parent) != "waiting":
        result.fail(["INVOKE-2"], f"the parent is {status_of(ctx.ws, parent)!r} while its"
                                  " child runs, expected waiting")
    ctx.ws.api("/runs/cancel", {"runId": parent})
    if not poll(lambda: status_of(ctx.ws, child) == "cancelled", 5):
        result.fail(["INVOKE-7"], f"the child of a cancelled parent is"
                                  f" {status_of(ctx.ws, child)!r}")
    return [result]


def case_needs_capability(suite: EngineSuite) -> list[Result]:
    """An app without step-invoke answering an invoke op: a failed invocation, no child."""
    result = Result("invoke-without-the-capability", ENGINE, ["INVOKE-1"])
    tape = Tape()
    scripts = {"nc-parent": ({"trigger": {"event": "nc.go"}, "retries": 0},
                             tape.wrap(invoke_op)),
               "iv-child": ({"trigger": {"event": "nc.never"}}, tape.wrap(lambda r: done(1)))}
    with workspace(suite, scripts, capabilities=["timestamped-signatures"]) as ws:
        code, receipt = ws.send("nc.go", {})
        run_ids = receipt.get("runIds") if isinstance(receipt, dict) else None
        if code != 200 or not run_ids:
            result.fail(["INVOKE-1"], f"/e answered {code} {receipt!r}")
            return [result]
        run = ws.wait_run(run_ids[0]) or {}
        if run.get("status") != "failed" or \
                (run.get("error") or {}).get("code") != "RETRIES_EXHAUSTED":
            result.fail(["INVOKE-1"], f"the run is {run.get('status')!r} with error"
                                      f" {run.get('error')!r}, expected failed,"
                                      " RETRIES_EXHAUSTED (an invalid answer)")
        if ws.runs("iv-child"):
            result.fail(["INVOKE-1"], "a child run was created for an app without"
                                      " step-invoke")
    return [result]


def _trace_id(traceparent: Any) -> str | None:
    """The trace id and flags of a traceparent: what [TRACE-3] keeps from the run's; the
    parent id is the stored one, or the engine's span for the invocation when it records
    spans ([TRACE-6])."""
    parts = str(traceparent).split("-")
    return f"{parts[1]}-{parts[3]}" if len(parts) == 4 else None


def _trace_of(ws: Workspace, run_id: str) -> tuple[Any, Any]:
    for item in ws.invokes("tr-fn"):
        body = item.json()
        if body.get("runId") == run_id:
            return body.get("traceparent"), item.headers.get("traceparent")
    return None, None


def case_trace(ctx: Context) -> list[Result]:
    result = Result("trace-context-on-the-run-and-its-invocations", ENGINE,
                    ["TRACE-1", "TRACE-2", "TRACE-3", "TRACE-5"])
    header_trace = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
    member = ctx.ws.post("/e", {"name": "tr.go", "data": {}, "traceparent": TRACE})
    header = ctx.ws.post("/e", {"name": "tr.go", "data": {}},
                         headers={"traceparent": header_trace})
    bad_header = ctx.ws.post("/e", {"name": "tr.go", "data": {}},
                             headers={"traceparent": "not-a-trace"})
    plain = ctx.ws.post("/e", {"name": "tr.go", "data": {}})
    invalid = ctx.ws.post("/e", {"name": "tr.go", "data": {},
                                 "traceparent": f"00-{'0' * 32}-{'1' * 16}-01"})
    if invalid.status != 400 or (invalid.json().get("error") or {}).get("path") != \
            "/traceparent":
        result.fail(["TRACE-1"], f"an all-zero trace id was answered {invalid.status}"
                                 f" {invalid.text()[:200]!r}, expected 400 at /traceparent")
    runs = {}
    for label, reply in (("member", member), ("header", header), ("bad header", bad_header),
                         ("none", plain)):
        ids = reply.json().get("runIds") if reply.status == 200 else None
        if not ids:
            result.fail(["TRACE-1"], f"the event with {label} was answered {reply.status}")
            return [result]
        runs[label] = ids[0]
    if not poll(lambda: all(_trace_of(ctx.ws, r)[0] for r in runs.values()), 15):
        result.fail(["TRACE-3"], "not every run was invoked with a traceparent member")
        return [result]
    got = {label: _trace_of(ctx.ws, r) for label, r in runs.items()}
    for label, want in (("member", TRACE), ("header", header_trace)):
        member_value, header_value = got[label]
        if header_value != member_value or not VALID.match(str(member_value)) or \
                _trace_id(member_value) != _trace_id(want):
            result.fail(["TRACE-1", "TRACE-3"], f"the run of the event with a traceparent"
                        f" {label} was invoked with (member, header) {got[label]}, expected"
                        f" the trace of {want} in both")
    for label in ("bad header", "none"):
        member_value, header_value = got[label]
        if not VALID.match(str(member_value)) or header_value != member_value or \
                _trace_id(member_value) in (_trace_id(TRACE), _trace_id(header_trace)):
            result.fail(["TRACE-2", "TRACE-3"], f"the run of the event with {label} was"
                        f" invoked with {got[label]}, expected one new valid traceparent")
    if _trace_id(got["bad header"][0]) == _trace_id(got["none"][0]):
        result.fail(["TRACE-2"], "two runs without a traceparent share one")
    shown = (ctx.ws.run(runs["member"]) or {}).get("traceparent")
    if shown != TRACE:
        result.fail(["TRACE-5"], f"/runs/get shows traceparent {shown!r}, expected {TRACE}")
    return [result]


CASES = [case_result, case_failed, case_unknown, case_timeout, case_cancel, case_trace]


def run(suite: EngineSuite) -> list[Result]:
    tape = Tape()
    results: list[Result] = []
    with workspace(suite, functions(tape), capabilities=CAPABILITIES) as ws:
        ctx = Context(suite, ws, tape)
        with ThreadPoolExecutor(max_workers=len(CASES) + 1) as pool:
            futures = [(c.__name__, pool.submit(c, ctx)) for c in CASES]
            futures.append(("case_needs_capability", pool.submit(case_needs_capability, suite)))
            for name, future in futures:
                results += case_results(name, future.result)
    return results
