"""Engine scenarios: webhook ingest ([HOOK-1..7], wire-protocol §19.6).

Endpoints are made through the admin API; deliveries are raw HTTP requests as a third party
sends them, signed as GitHub, Stripe or a named header would, to `POST /w/{token}`. What is
checked: the token's length and alphabet, conflicts and unknown apps, compile errors of the
transform, the signature refused before the body is parsed, the body and the transform's
result refused with their codes, the event accepted as on /e (a run of the fake app's
function with the transform's data, the event id deduplicating), the test console accepting
nothing, the secret shown by create and update only, update changing only what it names
(a rotated token retiring the old URL), and the deliveries listed newest first.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from ..client import Reply, call
from ..results import Result
from .flow_common import ENGINE, Tape, case_results, done, poll
from .workspace import Workspace, workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite

TOKEN = re.compile(r"^/w/[A-Za-z0-9_-]{43,}$")
TRANSFORM = "{name: 'wh.got', data: {kind: body.kind, src: query.src, " \
            "agent: headers.\"x-agent\"}, id: body.id}"


def _json(reply: Reply) -> Any:
    try:
        return reply.json()
    except ValueError:
        return None


def _code(reply: Reply) -> str | None:
    body = _json(reply)
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _seen(reply: Reply) -> str:
    return f"{reply.status} {reply.text()!r}"


def _hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _deliver(ws: Workspace, url: str, body: bytes, headers: dict[str, str] | None = None,
             query: str = "") -> Reply:
    return call(ws.base + url + query, "POST", body,
                {"content-type": "application/json", **(headers or {})})


def _create(ws: Workspace, body: dict[str, Any]) -> Reply:
    return ws.admin("POST", f"/api/apps/{ws.app_id}/webhooks", body)


def case_endpoints(suite: EngineSuite, ws: Workspace) -> list[Result]:
    result = Result("webhook-endpoints", ENGINE, ["HOOK-1", "HOOK-5"])
    made = [_create(ws, {"name": f"hook-{i}", "transform": TRANSFORM,
                         "signature": {"preset": "github", "secret": "conf-secret"}})
            for i in range(2)]
    if any(r.status != 200 for r in made):
        result.fail(["HOOK-1"], f"create answered {[_seen(r) for r in made]}")
        return [result]
    answers = [r.json() for r in made]
    for answer in answers:
        problem = suite.spec.validate("webhook", answer)
        if problem:
            result.fail(["HOOK-1"], f"create's answer is no Webhook: {problem}")
        if not TOKEN.match(str(answer.get("url"))):
            result.fail(["HOOK-1"], f"url {answer.get('url')!r} does not carry 32 random"
                                    " bytes of URL-safe text")
        if answer.get("secret") != "conf-secret":
            result.fail(["HOOK-5"], "create does not show the secret it was given")
    if answers[0].get("url") == answers[1].get("url"):
        result.fail(["HOOK-1"], "two endpoints share one URL")
    listed = ws.admin("GET", f"/api/apps/{ws.app_id}/webhooks")
    body = _json(listed)
    if listed.status != 200 or not isinstance(body, dict):
        result.fail(["HOOK-5"], f"list answered {_seen(listed)}")
    else:
        problem = suite.spec.validate("webhooks-list-answer", body)
        if problem:
            result.fail(["HOOK-5"], f"list's answer: {problem}")
        if "conf-secret" in listed.body.decode(errors="replace"):
            result.fail(["HOOK-5"], "list shows a secret")
    for label, reply, want in (
            ("a second endpoint of one name", _create(ws, {"name": "hook-0",
                                                           "transform": "body"}),
             (409, "CONFLICT")),
            ("an unknown app", ws.admin("POST", "/api/apps/app-nobody/webhooks",
                                        {"name": "x", "transform": "body"}),
             (404, "NOT_FOUND")),
            ("a transform that does not compile", _create(ws, {"name": "bad",
                                                               "transform": "body.[[["}),
             (400, "INVALID_REQUEST"))):
        if (reply.status, _code(reply)) != want:
            result.fail(["HOOK-1"], f"{label} was answered {_seen(reply)}, expected {want}")
    bad = _create(ws, {"name": "bad", "transform": "a.[[["})
    if reply_path(bad) != "/transform":
        result.fail(["HOOK-1"], f"a transform that does not compile: path"
                                f" {reply_path(bad)!r}, expected /transform")
    gone = ws.admin("DELETE", f"/api/apps/{ws.app_id}/webhooks/hook-1")
    after = _deliver(ws, str(answers[1].get("url")), b"{}")
    if gone.status != 200 or (after.status, _code(after)) != (404, "NOT_FOUND"):
        result.fail(["HOOK-1"], f"delete answered {_seen(gone)}; its URL then"
                                f" {_seen(after)}, expected 404 NOT_FOUND")
    return [result]


def reply_path(reply: Reply) -> Any:
    body = _json(reply)
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("path") if isinstance(error, dict) else None


def _run_of(ws: Workspace, reply: Reply) -> str | None:
    body = _json(reply)
    ids = body.get("runIds") if isinstance(body, dict) else None
    return str(ids[0]) if isinstance(ids, list) and ids else None


def case_signatures(suite: EngineSuite, ws: Workspace) -> list[Result]:
    result = Result("webhook-signatures", ENGINE, ["HOOK-2"])
    hooks: dict[str, str] = {}
    for name, signature in (("gh", {"preset": "github", "secret": "g"}),
                            ("st", {"preset": "stripe", "secret": "s"}),
                            ("hm", {"preset": "hmac-sha256", "header": "X-Sig",
                                    "secret": "h"})):
        reply = _create(ws, {"name": name, "transform": TRANSFORM, "signature": signature})
        if reply.status != 200:
            result.fail(["HOOK-2"], f"create {name} answered {_seen(reply)}")
            return [result]
        hooks[name] = str(reply.json().get("url"))

    def body() -> bytes:
        return json.dumps({"kind": "signed", "id": f"wh-{secrets.token_hex(6)}"}).encode()

    now = int(time.time())
    accepted = []
    raw = body()
    accepted.append(("github", _deliver(ws, hooks["gh"], raw, {
        "X-Hub-Signature-256": "sha256=" + _hex("g", raw)})))
    raw = body()
    accepted.append(("stripe", _deliver(ws, hooks["st"], raw, {
        "Stripe-Signature": f"t={now},v1={_hex('s', f'{now}.'.encode() + raw)}"})))
    raw = body()
    accepted.append(("hmac-sha256", _deliver(ws, hooks["hm"], raw, {"X-Sig": _hex("h", raw)})))
    for label, reply in accepted:
        if reply.status != 200 or not _run_of(ws, reply):
            result.fail(["HOOK-2"], f"a delivery signed as {label} was answered {_seen(reply)}")
    raw = b"{not json"  # refused for its signature before the body is read as JSON
    stale = now - 301
    refusals = [
        ("github, wrong secret", hooks["gh"], {"X-Hub-Signature-256": "sha256="
                                               + _hex("x", raw)}),
        ("github, no header", hooks["gh"], {}),
        ("github, no sha256= prefix", hooks["gh"], {"X-Hub-Signature-256": _hex("g", raw)}),
        ("stripe, stale timestamp", hooks["st"], {
            "Stripe-Signature": f"t={stale},v1={_hex('s', f'{stale}.'.encode() + raw)}"}),
        ("stripe, wrong secret", hooks["st"], {
            "Stripe-Signature": f"t={now},v1={_hex('x', f'{now}.'.encode() + raw)}"}),
        ("stripe, no header", hooks["st"], {}),
        ("hmac-sha256, wrong secret", hooks["hm"], {"X-Sig": _hex("x", raw)}),
    ]
    for label, url, headers in refusals:
        reply = _deliver(ws, url, raw, headers)
        if (reply.status, _code(reply)) != (401, "INVALID_SIGNATURE"):
            result.fail(["HOOK-2"], f"{label}: answered {_seen(reply)}, expected 401"
                                    " INVALID_SIGNATURE")
    unknown = _deliver(ws, "/w/" + secrets.token_urlsafe(32), b"{}")
    if (unknown.status, _code(unknown)) != (404, "NOT_FOUND"):
        result.fail(["HOOK-2"], f"an unknown token was answered {_seen(unknown)}")
    return [result]


def case_transform(suite: EngineSuite, ws: Workspace) -> list[Result]:
    result = Result("webhook-transform-makes-the-event", ENGINE, ["HOOK-3"])
    made = _create(ws, {"name": "tx", "transform": TRANSFORM})
    if made.status != 200:
        result.fail(["HOOK-3"], f"create answered {_seen(made)}")
        return [result]
    url = str(made.json().get("url"))
    before = len(ws.runs("wh-fn"))
    event_id = f"wh-{secrets.token_hex(6)}"
    raw = json.dumps({"kind": "order", "id": event_id}).encode()
    first = _deliver(ws, url, raw, {"X-Agent": "Conf/1"}, "?src=shop")
    run_id = _run_of(ws, first)
    if first.status != 200 or run_id is None:
        result.fail(["HOOK-3"], f"a valid delivery was answered {_seen(first)}")
        return [result]
    problem = suite.spec.validate("receipt", first.json())
    if problem or first.json().get("id") != event_id:
        result.fail(["HOOK-3"], f"the receipt {first.json()!r}: {problem or 'not its id'}")
    run = ws.wait_run(run_id) or {}
    invoked = [i.json() for i in ws.invokes("wh-fn") if i.json().get("runId") == run_id]
    event = invoked[0].get("event") if invoked else None
    want = {"kind": "order", "src": "shop", "agent": "Conf/1"}
    if run.get("status") != "completed" or not isinstance(event, dict) or \
            event.get("name") != "wh.got" or event.get("data") != want:
        result.fail(["HOOK-3"], f"the run is {run.get('status')!r}, invoked with event"
                                f" {event!r}, expected wh.got with data {want}")
    again = _deliver(ws, url, raw, {"X-Agent": "Conf/1"}, "?src=shop")
    body = _json(again)
    if again.status != 200 or not isinstance(body, dict) or body.get("duplicate") is not True \
            or body.get("runIds") != [run_id]:
        result.fail(["HOOK-3"], f"the same delivery again (same event id) was answered"
                                f" {_seen(again)}, expected the first receipt as a duplicate")
    plain = _create(ws, {"name": "tx-body", "transform": "body"})
    plain_url = str((_json(plain) or {}).get("url"))
    for label, to, raw_body, want_code in (
            ("a body that is not JSON", url, b"{oops", "INVALID_JSON"),
            ("an event id that is not text", url, b'{"id": 5}', "INVALID_REQUEST"),
            ("an event without a name", plain_url, b'{"data": {}}', "INVALID_REQUEST"),
            ("a transform giving no object", plain_url, b"[1]", "INVALID_REQUEST")):
        reply = _deliver(ws, to, raw_body)
        if (reply.status, _code(reply)) != (400, want_code):
            result.fail(["HOOK-3"], f"{label} was answered {_seen(reply)}, expected 400"
                                    f" {want_code}")
    if poll(lambda: len(ws.runs("wh-fn")) > before + 1, 1.0):
        result.fail(["HOOK-3"], "refused deliveries started runs")
    return [result]


def case_console(suite: EngineSuite, ws: Workspace) -> list[Result]:
    result = Result("webhook-test-console", ENGINE, ["HOOK-4"])
    made = _create(ws, {"name": "console", "transform": TRANSFORM,
                        "signature": {"preset": "github", "secret": "c"}})
    if made.status != 200:
        result.fail(["HOOK-4"], f"create answered {_seen(made)}")
        return [result]
    path = f"/api/apps/{ws.app_id}/webhooks/console/test"
    before = len(ws.runs("wh-fn"))
    tried = ws.admin("POST", path, {"body": '{"kind": "try", "id": "t-1"}',
                                    "headers": {"X-Agent": "Console"}})
    want = {"ok": True, "event": {"name": "wh.got", "id": "t-1",
                                  "data": {"kind": "try", "src": None, "agent": "Console"}}}
    if tried.status != 200 or _json(tried) != want:
        result.fail(["HOOK-4"], f"a valid payload was answered {_seen(tried)}, expected"
                                f" {want} (no signature needed)")
    elif suite.spec.validate("webhook-test-answer", tried.json()):
        result.fail(["HOOK-4"], "the answer is no webhook-test-answer")
    failed = ws.admin("POST", path, {"body": '{"id": 5}'})
    body = _json(failed)
    if failed.status != 200 or not isinstance(body, dict) or body.get("ok") is not False \
            or not isinstance(body.get("message"), str):
        result.fail(["HOOK-4"], f"a payload the transform makes nothing of was answered"
                                f" {_seen(failed)}, expected ok false with a message")
    if poll(lambda: len(ws.runs("wh-fn")) != before, 1.0):
        result.fail(["HOOK-4"], "the console accepted an event")
    return [result]


def case_update_and_deliveries(suite: EngineSuite, ws: Workspace) -> list[Result]:
    result = Result("webhook-update-and-deliveries", ENGINE, ["HOOK-5", "HOOK-6", "HOOK-7"])
    made = _create(ws, {"name": "upd", "transform": "{name: 'wh.got', data: body}",
                        "signature": {"preset": "github", "secret": "u1"}})
    if made.status != 200:
        result.fail(["HOOK-6"], f"create answered {_seen(made)}")
        return [result]
    old_url = str(made.json().get("url"))
    path = f"/api/apps/{ws.app_id}/webhooks/upd"
    raw = b'{"kind": "update"}'
    changed = ws.admin("PATCH", path, {"removeSignature": True, "rotateToken": True})
    body = _json(changed)
    if changed.status != 200 or not isinstance(body, dict):
        result.fail(["HOOK-6"], f"update answered {_seen(changed)}")
        return [result]
    problem = suite.spec.validate("webhook", body)
    if problem:
        result.fail(["HOOK-6"], f"update's answer is no Webhook: {problem}")
    new_url = str(body.get("url"))
    if not TOKEN.match(new_url) or new_url == old_url or body.get("signature") is not None \
            or body.get("transform") != "{name: 'wh.got', data: body}" or "secret" in body:
        result.fail(["HOOK-6", "HOOK-5"], f"after rotateToken and removeSignature the"
                                          f" webhook is {body!r}: expected a new URL, no"
                                          " signature, the same transform, no secret")
    old = _deliver(ws, old_url, raw)
    if (old.status, _code(old)) != (404, "NOT_FOUND"):
        result.fail(["HOOK-6"], f"the URL before rotation was answered {_seen(old)}")
    unsigned = _deliver(ws, new_url, raw)
    if unsigned.status != 200:
        result.fail(["HOOK-6"], f"an unsigned delivery after removeSignature was answered"
                                f" {_seen(unsigned)}")
    both = ws.admin("PATCH", path, {"removeSignature": True,
                                    "signature": {"preset": "github", "secret": "x"}})
    if (both.status, _code(both)) != (400, "INVALID_REQUEST"):
        result.fail(["HOOK-6"], f"signature with removeSignature was answered {_seen(both)}")
    signed = ws.admin("PATCH", path, {"signature": {"preset": "hmac-sha256", "header": "X-M",
                                                    "secret": "u2"}})
    if signed.status != 200 or (_json(signed) or {}).get("secret") != "u2":
        result.fail(["HOOK-5", "HOOK-6"], f"setting a signature was answered {_seen(signed)},"
                                          " expected the Webhook with its secret")
    refused = _deliver(ws, new_url, raw)
    if (refused.status, _code(refused)) != (401, "INVALID_SIGNATURE"):
        result.fail(["HOOK-6"], f"an unsigned delivery after a signature was set was"
                                f" answered {_seen(refused)}")
    listed = ws.admin("GET", path + "/deliveries")
    body = _json(listed)
    if listed.status != 200 or not isinstance(body, dict):
        result.fail(["HOOK-7"], f"deliveries answered {_seen(listed)}")
        return [result]
    problem = suite.spec.validate("webhook-deliveries-answer", body)
    got = [(d.get("status"), d.get("code")) for d in body.get("deliveries", [])
           if isinstance(d, dict)]
    if problem or got[:2] != [(401, "INVALID_SIGNATURE"), (200, None)]:
        result.fail(["HOOK-7"], f"deliveries are {got} ({problem or 'valid'}), expected"
                                " newest first: 401 INVALID_SIGNATURE, then 200")
    return [result]


CASES = [case_endpoints, case_signatures, case_transform, case_console,
         case_update_and_deliveries]


def run(suite: EngineSuite) -> list[Result]:
    tape = Tape()
    results: list[Result] = []
    scripts = {"wh-fn": ({"trigger": {"event": "wh.got"}}, tape.wrap(lambda r: done("ok")))}
    with workspace(suite, scripts) as ws:
        for case in CASES:
            results += case_results(case.__name__, partial(case, suite, ws))
    return results
