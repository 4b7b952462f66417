"""Engine API scenarios: /openapi.yaml [API-15], bulk cancel and rerun [API-16..18] and
version status [API-14], [API-20].
"""

from __future__ import annotations

import json
import secrets
import time
from typing import TYPE_CHECKING, Any

from .. import signing
from ..client import call
from ..fake_app import Answer
from ..paths import repo_root
from ..results import Result
from .api_common import definitions_of, done, error_of, in_ms, iso, seen, sync_body
from .workspace import Workspace, workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite


def openapi(suite: EngineSuite) -> list[Result]:
    result = Result("openapi-served-unchanged", "engine", ["API-15"])
    reply = call(suite.base + "/openapi.yaml", "GET")
    spec_file = repo_root() / "spec" / "openapi.yaml"
    content_type = reply.headers.get("content-type", "").split(";")[0].strip()
    if reply.status != 200:
        result.fail([], f"GET /openapi.yaml without credentials answered {seen(reply)}")
    elif content_type != "application/yaml":
        result.fail([], f"GET /openapi.yaml is {content_type!r}, expected application/yaml")
    elif reply.body != spec_file.read_bytes():
        result.fail([], f"GET /openapi.yaml ({len(reply.body)} bytes) differs from"
                        f" spec/openapi.yaml ({spec_file.stat().st_size} bytes)")
    return [result]


def _hold(request: dict[str, Any]) -> Answer:
    event = request.get("event") or {}
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    if data.get("finish") or "release" in (request.get("steps") or {}):
        return done(request)
    return Answer(op={"op": "wait", "id": "release", "event": "conf.api.release",
                      "match": {"k": data.get("k")}, "until": in_ms(60_000)})


def bulk_operations(suite: EngineSuite) -> list[Result]:
    scripts = {"hold": ({"trigger": {"event": "conf.api.hold"}}, _hold),
               "quick": ({"trigger": {"event": "conf.api.quick"}}, done)}
    filters = Result("bulk-needs-a-filter", "engine", ["API-16"])
    cancel = Result("bulk-cancel-pages-live-runs", "engine", ["API-16", "API-17"])
    rerun = Result("bulk-rerun-idempotent-per-run", "engine", ["API-16", "API-18"])
    with workspace(suite, scripts) as ws:
        for path, body in (("/runs/bulk-cancel", {}), ("/runs/bulk-cancel", {"limit": 5}),
                           ("/runs/bulk-rerun", {"idempotencyKey": "k"})):
            reply = ws.post(path, body)
            if reply.status != 400 or error_of(reply)[0] != "INVALID_REQUEST":
                filters.fail([], f"{path} {json.dumps(body)} (no filter member) answered"
                                 f" {seen(reply)}, expected 400 INVALID_REQUEST")
        _bulk_cancel(ws, cancel)
        _bulk_rerun(ws, rerun)
    return [filters, cancel, rerun]


def _send_all(ws: Workspace, name: str, datas: list[dict[str, Any]]) -> list[str] | None:
    run_ids = []
    for data in datas:
        code, receipt = ws.send(name, data)
        if code != 200 or len(receipt.get("runIds", [])) != 1:
            return None
        run_ids += receipt["runIds"]
    return run_ids


def _bulk_cancel(ws: Workspace, result: Result) -> None:
    finished = _send_all(ws, "conf.api.hold", [{"finish": True}])
    held = _send_all(ws, "conf.api.hold", [{"k": n} for n in range(5)])
    if finished is None or held is None:
        result.fail([], "the events for the bulk cancel were refused")
        return
    if (ws.wait_run(finished[0]) or {}).get("status") != "completed" or not all(
            (ws.wait_run(r, {"waiting"}, 15) or {}).get("status") == "waiting" for r in held):
        result.fail([], "the runs to cancel never reached completed / waiting")
        return
    order = [r["runId"] for r in ws.runs("hold") if r["runId"] in held]  # [API-8] order
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(4):
        body: dict[str, Any] = {"functionId": "hold", "limit": 2}
        if cursor:
            body["cursor"] = cursor
        reply = ws.post("/runs/bulk-cancel", body)
        if reply.status != 200:
            result.fail([], f"/runs/bulk-cancel {json.dumps(body)} answered {seen(reply)}")
            return
        answer = reply.json()
        pages.append(answer.get("cancelled"))
        cursor = answer.get("nextCursor")
        if not cursor:
            break
    want = [order[0:2], order[2:4], order[4:5]]
    if pages != want:
        result.fail(["API-16", "API-17"], f"pages of 2 cancelled {pages}, expected the live"
                                          f" runs newest first {want} (the completed run"
                                          f" {finished[0]} never listed) with nextCursor"
                                          " until the last")
    statuses = {r: (ws.run(r) or {}).get("status") for r in [*held, *finished]}
    if any(statuses[r] != "cancelled" for r in held) or statuses[finished[0]] != "completed":
        result.fail(["API-17"], f"after the bulk cancel the statuses are {statuses}")
    for body in ({"functionId": "hold"}, {"functionId": "hold", "status": "completed"}):
        reply = ws.post("/runs/bulk-cancel", body)
        answer = reply.json() if reply.status == 200 else {}
        if answer.get("cancelled") != [] or answer.get("nextCursor", "absent") is not None:
            result.fail(["API-17"], f"bulk cancel {json.dumps(body)} over terminal runs only"
                                    f" answered {seen(reply)}, expected nothing cancelled")
    if (ws.run(finished[0]) or {}).get("status") != "completed":
        result.fail(["API-17"], "a bulk cancel changed the status of a completed run")


def _bulk_rerun(ws: Workspace, result: Result) -> None:
    sources = _send_all(ws, "conf.api.quick", [{"n": n} for n in range(3)])
    if sources is None or not all((ws.wait_run(r) or {}).get("status") == "completed"
                                  for r in sources):
        result.fail([], "the runs to rerun never completed")
        return
    time.sleep(0.01)
    created_to = iso(signing.now_ms())
    order = [r["runId"] for r in ws.runs("quick")]
    key = "conf-bulk-" + secrets.token_hex(4)
    base = {"functionId": "quick", "createdTo": created_to, "idempotencyKey": key, "limit": 2}

    def pages() -> list[dict[str, Any]] | None:
        answers, cursor = [], None
        for _ in range(3):
            reply = ws.post("/runs/bulk-rerun", {**base, **({"cursor": cursor} if cursor
                                                            else {})})
            if reply.status != 200:
                result.fail([], f"/runs/bulk-rerun answered {seen(reply)}")
                return None
            answers.append(reply.json())
            cursor = answers[-1].get("nextCursor")
            if not cursor:
                return answers
        return answers

    first = pages()
    again = pages() if first is not None else None
    if first is None or again is None:
        return
    reruns = [r for page in first for r in page.get("reruns", [])]
    if [r.get("rerunOf") for r in reruns] != order or len(first) != 2 or \
            any(r.get("duplicate") is not False for r in reruns):
        result.fail(["API-16", "API-18"], f"pages of 2 reran {json.dumps(first)[:300]},"
                                          f" expected {order} newest first in two pages,"
                                          " each duplicate false")
        return
    repeated = [r for page in again for r in page.get("reruns", [])]
    want = [{**r, "duplicate": True} for r in reruns]
    if repeated != want:
        result.fail(["API-18"], f"the same call again answered {json.dumps(repeated)[:300]},"
                                f" expected the first new runs with duplicate true {want}")
    for rerun in reruns:
        new = ws.wait_run(rerun["runId"]) or {}
        source = ws.run(rerun["rerunOf"]) or {}
        if new.get("functionId") != "quick" or new.get("eventId") != source.get("eventId") \
                or new.get("status") != "completed":
            result.fail(["API-18"], f"rerun {rerun['runId']} is {json.dumps(new)[:200]},"
                                    f" expected a completed run of quick for event"
                                    f" {source.get('eventId')}")
    total = len(ws.runs("quick"))
    if total != 6:
        result.fail(["API-18"], f"{total} runs of quick after two identical bulk reruns of"
                                " three runs, expected 6")


def _v1(request: dict[str, Any]) -> Answer:
    if "nap" not in (request.get("steps") or {}):
        return Answer(op={"op": "sleep", "id": "nap", "until": in_ms(2500)})
    return Answer(op={"op": "error", "id": None, "message": "v1 fails", "name": "Error",
                      "retryable": True})


def versions(suite: EngineSuite) -> list[Result]:
    """A run of ver@1 sleeps while ver@1 is disabled, then retired: new events only start
    ver@2; the old run wakes as ver@1 and fails per ver@1's `retries: 0` (ver@2 has 2)."""
    result = Result("versions-disabled-retired-run-keeps-version", "engine", ["API-20"])
    trigger = {"event": "conf.api.ver"}
    scripts = {"ver@1": ({"id": "ver", "version": "1", "trigger": trigger, "retries": 0}, _v1),
               "ver@2": ({"id": "ver", "version": "2", "trigger": trigger, "retries": 2}, done)}
    with workspace(suite, scripts) as ws:
        code, receipt = ws.send("conf.api.ver", {"n": 1})
        runs = {(ws.run(r) or {}).get("functionId"): r for r in receipt.get("runIds", [])} \
            if code == 200 else {}
        if set(runs) != {"ver@1", "ver@2"}:
            result.fail([], f"an event for two live versions created runs {runs}, {code}")
            return [result]
        old = runs["ver@1"]
        if (ws.wait_run(old, {"sleeping"}, 10) or {}).get("status") != "sleeping":
            result.fail([], "the ver@1 run never slept")
            return [result]
        for step, functions in (
                ("disabled", definitions_of(ws, **{"ver@1": {"enabled": False}})),
                ("retired", definitions_of(ws)[1:])):
            reply = ws.post("/fn/sync", sync_body(functions))
            if reply.status != 200:
                result.fail([], f"sync with ver@1 {step} answered {seen(reply)}")
                continue
            if step == "retired" and reply.json().get("deactivated") != ["ver@1"]:
                result.fail([], f"sync without ver@1 answered {reply.text()}, expected"
                                " deactivated [ver@1]")
            code, receipt = ws.send("conf.api.ver", {"step": step})
            started = [(ws.run(r) or {}).get("functionId")
                       for r in (receipt.get("runIds", []) if code == 200 else [])]
            if code != 200 or started != ["ver@2"]:
                result.fail([], f"with ver@1 {step} an event started {started} ({code}),"
                                " expected only ver@2")
        final = ws.wait_run(old, timeout_s=15) or {}
        named = [i.json().get("functionId") for i in ws.invokes("ver@1")
                 if i.json().get("runId") == old]
        wrong = [i.json().get("functionId") for i in ws.invokes("ver@2")
                 if i.json().get("runId") == old]
        if final.get("functionId") != "ver@1" or named != ["ver@1", "ver@1"] or wrong or \
                final.get("status") != "failed":
            result.fail([], f"the ver@1 run after its version was retired: status"
                            f" {final.get('status')!r}, functionId {final.get('functionId')!r},"
                            f" invoked as {named + wrong}; expected two invocations as ver@1"
                            " and failed at once per ver@1's retries 0")
    return [result]
