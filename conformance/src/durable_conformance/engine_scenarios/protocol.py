"""Engine scenarios: answer signatures under v2, event idempotency, the API timestamp
window."""

from __future__ import annotations

import json
import secrets
import time
from typing import TYPE_CHECKING, Any

from .. import signing
from ..fake_app import Answer
from ..results import Result
from .workspace import workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite

WINDOW_MS = 300_000


def _forged_v2(request: dict[str, Any]) -> Answer:
    """Attempt 0 answers with a right v1 but a forged v2 signature: the engine must
    treat it as a failed invocation ([SIG-10]) and retry; attempt 1 is honest."""
    steps = request.get("steps") or {}
    if "s" in steps:
        return Answer(op={"op": "done", "data": steps["s"]["data"]})
    if request.get("attempt", 0) == 0:
        return Answer(op={"op": "step", "id": "s", "data": "forged"}, wrong_signature_v2=True)
    return Answer(op={"op": "step", "id": "s", "data": "honest"})


def _noop(request: dict[str, Any]) -> Answer:
    return Answer(op={"op": "done", "data": None})


def run(suite: EngineSuite) -> list[Result]:
    scripts = {"forged-v2": ({"retries": 2}, _forged_v2), "noop": ({}, _noop)}
    with workspace(suite, scripts) as ws:
        return [forged_v2_answer(ws), duplicate_event(ws), api_timestamp_window(ws)]


def forged_v2_answer(ws: Any) -> Result:
    result = Result("v2-answer-signature-verified", "engine", ["SIG-10", "SIG-7"])
    code, receipt = ws.send("conf.fake.forged-v2", {})
    run_ids = receipt.get("runIds", []) if isinstance(receipt, dict) else []
    if code != 200 or len(run_ids) != 1:
        result.fail(["EVT-5"], f"/e answered {code} {receipt!r}")
        return result
    run = ws.wait_run(run_ids[0])
    invokes = ws.invokes("forged-v2")
    attempts = [i.json().get("attempt") for i in invokes]
    if run is None or run.get("status") != "completed" or run.get("output") != "honest":
        result.fail(["SIG-10"], f"run ended {json.dumps(run)[:200]}: an answer whose"
                                " X-Durable-Signature-V2 is wrong must not be memoized")
    if attempts[:2] != [0, 1]:
        result.fail(["SIG-10"], f"attempts {attempts}: the forged answer was not retried")
    return result


def duplicate_event(ws: Any) -> Result:
    """[EVT-4]: the same id again returns the first receipt with duplicate: true and
    creates no run."""
    result = Result("event-id-idempotent", "engine", ["EVT-4"])
    event_id = "conf-dup-" + secrets.token_hex(6)
    first_code, first = ws.send("conf.fake.noop", {"n": 1}, event_id)
    second_code, second = ws.send("conf.fake.noop", {"n": 2}, event_id)
    if first_code != 200 or second_code != 200:
        result.fail(["EVT-4"], f"/e answered {first_code} then {second_code}")
        return result
    if first.get("duplicate") is not False or second.get("duplicate") is not True:
        result.fail(["EVT-4"], f"duplicate flags {first.get('duplicate')!r},"
                               f" {second.get('duplicate')!r}; expected false, true")
    if {k: v for k, v in second.items() if k != "duplicate"} != \
            {k: v for k, v in first.items() if k != "duplicate"}:
        result.fail(["EVT-4"], f"the duplicate's receipt {second} differs from the first"
                               f" {first}")
    time.sleep(0.5)
    runs = ws.runs("noop")
    if len(runs) != 1:
        result.fail(["EVT-4"], f"{len(runs)} runs of noop after one event sent twice")
    for item in ws.invokes("noop"):
        if (item.json().get("event") or {}).get("data") != {"n": 1}:
            result.fail(["EVT-4"], "a run got the duplicate's data")
            break
    bulk_id = "conf-dup-bulk-" + secrets.token_hex(6)
    code, answer = ws.api("/e/bulk", {"events": [
        {"id": bulk_id, "name": "conf.fake.nothing", "data": {}},
        {"id": bulk_id, "name": "conf.fake.nothing", "data": {}}]})
    receipts = answer.get("events") if isinstance(answer, dict) else None
    if code != 200 or not isinstance(receipts, list) or \
            [r.get("duplicate") for r in receipts] != [False, True]:
        result.fail(["EVT-4", "API-7"], f"/e/bulk with one id twice answered {code}"
                                        f" {json.dumps(answer)[:200]}")
    return result


def api_timestamp_window(ws: Any) -> Result:
    """[SIG-11] with [LIMIT-1]: a v2-signed API call is accepted with its timestamp inside
    the 300000 ms window (both directions) and refused outside it."""
    result = Result("api-v2-timestamp-window", "engine", ["SIG-11", "LIMIT-1"])
    for offset, accepted in ((-WINDOW_MS + 5_000, True), (WINDOW_MS - 5_000, True),
                             (-WINDOW_MS - 5_000, False), (WINDOW_MS + 5_000, False)):
        body = json.dumps({"id": "conf-window-" + secrets.token_hex(6),
                           "name": "conf.fake.nothing", "data": {}}).encode()
        stamp = str(signing.now_ms() + offset)
        reply = ws.post("/e", body, headers={
            signing.TIMESTAMP: stamp,
            signing.SIG_V2: signing.mac(ws.app.key, signing.v2_input(stamp, body))})
        if accepted and reply.status != 200:
            result.fail(["LIMIT-1"], f"timestamp {offset:+} ms answered {reply.status}"
                                     f" {reply.text()!r}; inside the window it is valid")
        if not accepted and reply.status != 401:
            result.fail(["LIMIT-1"], f"timestamp {offset:+} ms answered {reply.status};"
                                     " outside the window it must be 401")
    return result
