"""Webhook ingest ([HOOK-1..5]) over real HTTP on loopback with a real Postgres: endpoints
through the admin API, GitHub-, Stripe- and generic HMAC-signed deliveries, the JMESPath
transform starting a run of a function on our SDK, the test console, idempotency through the
event id, refusals recorded with their reason, and the token kept out of logs."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from conftest import ADMIN_TOKEN, EngineHandle, query, spec_check, wait_for
from durable import DurableFunction

TRANSFORM = "{name: join('.', ['gh', headers.\"x-github-event\"]), data: body, " \
            "id: headers.\"x-github-delivery\"}"


def call(engine: EngineHandle, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None, raw: bytes | None = None
         ) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(engine.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def admin(engine: EngineHandle, method: str, path: str, body: Any = None
          ) -> tuple[int, dict[str, Any]]:
    return call(engine, method, path, body, {"Authorization": f"Bearer {ADMIN_TOKEN}"})


def create(engine: EngineHandle, app_id: str, **body: Any) -> dict[str, Any]:
    status, answer = admin(engine, "POST", f"/api/apps/{app_id}/webhooks",
                           {"transform": TRANSFORM, **body})
    assert status == 200, answer
    spec_check("webhook", answer)
    return answer


def github_signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def stripe_signed(secret: str, body: bytes, at: int) -> str:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def deliveries(database_url: str, url: str) -> list[dict[str, Any]]:
    token = url.removeprefix("/w/")
    return query(database_url, "SELECT d.status, d.code, d.message, d.event_id, d.run_ids "
                 "FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
                 "WHERE w.token = %s ORDER BY d.id", token)


def test_endpoints_through_the_admin_api(engine: EngineHandle, make_app: Any) -> None:
    app = make_app([])
    first = create(engine, app.id, name="github", signature={"preset": "github",
                                                             "secret": "s3cret"})
    second = create(engine, app.id, name="plain")
    # [HOOK-1]: 32 random bytes at least, URL-safe; every endpoint its own
    tokens = [w["url"].removeprefix("/w/") for w in (first, second)]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43,}", t) for t in tokens)
    assert tokens[0] != tokens[1]
    assert first["secret"] == "s3cret" and "secret" not in second
    assert first["signature"] == {"preset": "github"} and second["signature"] is None

    status, listed = admin(engine, "GET", f"/api/apps/{app.id}/webhooks")
    assert status == 200
    spec_check("webhooks-list-answer", listed)
    assert [w["name"] for w in listed["webhooks"]] == ["github", "plain"]
    assert all("secret" not in w for w in listed["webhooks"])  # [HOOK-5]
    assert "s3cret" not in json.dumps(listed)
    assert listed["webhooks"][0]["url"] == first["url"]

    status, answer = admin(engine, "POST", f"/api/apps/{app.id}/webhooks",
                           {"name": "plain", "transform": "body"})
    assert (status, answer["error"]["code"]) == (409, "CONFLICT")
    status, answer = admin(engine, "POST", f"/api/apps/{app.id}/webhooks",
                           {"name": "bad", "transform": "body.[[["})
    assert (status, answer["error"]["code"], answer["error"]["path"]) == (
        400, "INVALID_REQUEST", "/transform")
    status, answer = admin(engine, "POST", f"/api/apps/{app.id}/webhooks",
                           {"name": "h", "transform": "body",
                            "signature": {"preset": "hmac-sha256", "secret": "x"}})
    assert (status, answer["error"]["code"]) == (400, "INVALID_REQUEST")  # header missing
    status, answer = admin(engine, "POST", "/api/apps/app_nope/webhooks",
                           {"name": "x", "transform": "body"})
    assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")
    status, answer = call(engine, "GET", f"/api/apps/{app.id}/webhooks")
    assert (status, answer["error"]["code"]) == (401, "UNAUTHORIZED")

    status, answer = admin(engine, "DELETE", f"/api/apps/{app.id}/webhooks/plain")
    assert (status, answer) == (200, {"name": "plain", "deleted": True})
    status, answer = call(engine, "POST", second["url"], {"x": 1})
    assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")  # its URL is gone
    status, answer = admin(engine, "DELETE", f"/api/apps/{app.id}/webhooks/plain")
    assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")


def test_github_signed_delivery_starts_a_run(engine: EngineHandle, make_app: Any,
                                             database_url: str) -> None:
    seen: list[Any] = []

    def on_push(event: dict[str, Any], step: Any) -> Any:
        seen.append(event)
        return event["data"]["ref"]

    app = make_app([DurableFunction(id="on-push", trigger={"event": "gh.push"},
                                    handler=on_push)])
    hook = create(engine, app.id, name="gh", signature={"preset": "github", "secret": "k"})
    body = json.dumps({"ref": "refs/heads/main", "commits": [1, 2]}).encode()
    delivery = uuid.uuid4().hex
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
               "X-Hub-Signature-256": github_signed("k", body)}
    status, receipt = call(engine, "POST", hook["url"], raw=body, headers=headers)
    assert status == 200, receipt
    spec_check("receipt", receipt)
    assert receipt["id"] == delivery and len(receipt["runIds"]) == 1
    run = app.wait_run(receipt["runIds"][0])
    assert (run["status"], run["output"]) == ("completed", "refs/heads/main")
    assert seen[0]["name"] == "gh.push" and seen[0]["data"]["commits"] == [1, 2]

    # The sender retries the same delivery: the event id makes it one run.
    status, again = call(engine, "POST", hook["url"], raw=body, headers=headers)
    assert status == 200 and again.get("duplicate") is True
    assert again["runIds"] == receipt["runIds"]

    # Refused: a wrong signature, one over another body, none, a malformed one.
    for sent, signature in ((body, github_signed("other", body)),
                            (body + b" ", github_signed("k", body)),
                            (body, None), (body, "md5=abc")):
        refused = {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}
        if signature is not None:
            refused["X-Hub-Signature-256"] = signature
        status, answer = call(engine, "POST", hook["url"], raw=sent, headers=refused)
        assert (status, answer["error"]["code"]) == (401, "INVALID_SIGNATURE"), answer
    recorded = deliveries(database_url, hook["url"])
    assert [d["status"] for d in recorded] == [200, 200, 401, 401, 401, 401]
    assert recorded[0]["run_ids"] == receipt["runIds"] and recorded[0]["event_id"] == delivery
    assert recorded[4]["code"] == "INVALID_SIGNATURE"
    assert "missing signature header" in recorded[4]["message"]


def test_stripe_signed_delivery_with_its_tolerance(engine: EngineHandle, make_app: Any) -> None:
    app = make_app([DurableFunction(id="paid", trigger={"event": "stripe.invoice.paid"},
                                    handler=lambda e, s: e["data"]["amount"])])
    hook = create(engine, app.id, name="stripe", signature={"preset": "stripe",
                                                            "secret": "whsec_x"},
                  transform="{name: join('.', ['stripe', body.type]), "
                            "data: body.data.object, id: body.id}")
    body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "invoice.paid",
                       "data": {"object": {"amount": 1200}}}).encode()
    now = int(time.time())
    status, receipt = call(engine, "POST", hook["url"], raw=body,
                           headers={"Stripe-Signature": stripe_signed("whsec_x", body, now)})
    assert status == 200, receipt
    assert app.wait_run(receipt["runIds"][0])["output"] == 1200

    signed: list[Any] = [lambda t: stripe_signed("whsec_x", body, t - 301),  # stale
                         lambda t: stripe_signed("whsec_x", body, t + 301),  # from the future
                         lambda t: stripe_signed("wrong", body, t), lambda t: f"t={t}",
                         lambda t: "v1=00", lambda t: stripe_signed("whsec_x", b"{}", t)]
    for sign in signed:  # each signed at the moment it is sent: the tolerance is 300 s
        header = sign(int(time.time()))
        status, answer = call(engine, "POST", hook["url"], raw=body,
                              headers={"Stripe-Signature": header})
        assert (status, answer["error"]["code"]) == (401, "INVALID_SIGNATURE"), header
    status, answer = call(engine, "POST", hook["url"], raw=body)
    assert (status, answer["error"]["code"]) == (401, "INVALID_SIGNATURE")
    # A rotated secret: the old signature beside a new one still matches when one is right.
    now = int(time.time())
    mac = hmac.new(b"whsec_x", f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    status, answer = call(engine, "POST", hook["url"], raw=body,
                          headers={"Stripe-Signature": f"t={now},v1={'0' * 64},v1={mac}"})
    assert status == 200 and answer.get("duplicate") is True


def test_generic_hmac_header_and_bad_bodies(engine: EngineHandle, make_app: Any,
                                            database_url: str) -> None:
    app = make_app([])
    hook = create(engine, app.id, name="generic", transform="{name: 'thing.made', data: body}",
                  signature={"preset": "hmac-sha256", "header": "X-Sig", "secret": "gg"})
    body = b'{"a": 1}'
    good = hmac.new(b"gg", body, hashlib.sha256).hexdigest()
    status, receipt = call(engine, "POST", hook["url"], raw=body, headers={"X-Sig": good})
    assert status == 200 and receipt["name"] == "thing.made"
    status, answer = call(engine, "POST", hook["url"], raw=body, headers={"X-Sig": "00" * 32})
    assert (status, answer["error"]["code"]) == (401, "INVALID_SIGNATURE")

    plain = create(engine, app.id, name="plain", transform="{name: body.kind, data: body}")
    status, answer = call(engine, "POST", plain["url"], raw=b"{not json")
    assert (status, answer["error"]["code"]) == (400, "INVALID_JSON")
    status, answer = call(engine, "POST", plain["url"], raw=b'{"kind": 7}')  # name not text
    assert (status, answer["error"]["code"]) == (400, "INVALID_REQUEST")
    assert "/name" in answer["error"]["message"]
    status, answer = call(engine, "POST", plain["url"], raw=b"[1, 2]")  # no object at all
    assert (status, answer["error"]["code"]) == (400, "INVALID_REQUEST")
    status, answer = call(engine, "POST", plain["url"], raw=b"{}")  # body.kind is null
    assert (status, answer["error"]["code"]) == (400, "INVALID_REQUEST")
    status, answer = call(engine, "POST", plain["url"], raw=b"x" * (1_048_576 + 10))
    assert (status, answer["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
    status, answer = call(engine, "POST", "/w/" + "A" * 43, raw=b"{}")
    assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")
    status, answer = call(engine, "POST", plain["url"] + "?src=x",
                          raw=b'{"kind": "made.here", "n": 1}')
    assert status == 200 and answer["name"] == "made.here"
    assert [d["code"] for d in deliveries(database_url, plain["url"])] == [
        "INVALID_JSON", "INVALID_REQUEST", "INVALID_REQUEST", "INVALID_REQUEST",
        "PAYLOAD_TOO_LARGE", None]


def test_query_and_headers_reach_the_transform(engine: EngineHandle, make_app: Any) -> None:
    app = make_app([DurableFunction(id="q", trigger={"event": "q.seen"},
                                    handler=lambda e, s: e["data"])])
    hook = create(engine, app.id, name="q", transform="{name: 'q.seen', data: "
                  "{src: query.src, agent: headers.\"x-agent\", n: body.n}}")
    status, receipt = call(engine, "POST", hook["url"] + "?src=shop", raw=b'{"n": 3}',
                           headers={"X-Agent": "Bot/1"})
    assert status == 200, receipt
    assert app.wait_run(receipt["runIds"][0])["output"] == {"src": "shop", "agent": "Bot/1",
                                                            "n": 3}


def test_the_console_tries_a_payload_without_accepting_it(engine: EngineHandle,
                                                         make_app: Any) -> None:
    ran: list[Any] = []
    app = make_app([DurableFunction(id="on-push", trigger={"event": "gh.push"},
                                    handler=lambda e, s: ran.append(e))])
    create(engine, app.id, name="gh", signature={"preset": "github", "secret": "k"})
    path = f"/api/apps/{app.id}/webhooks/gh/test"
    status, answer = admin(engine, "POST", path, {
        "body": '{"ref": "main"}', "headers": {"X-GitHub-Event": "push",
                                               "X-GitHub-Delivery": "d-1"}})
    assert status == 200
    spec_check("webhook-test-answer", answer)
    assert answer == {"ok": True, "event": {"name": "gh.push", "data": {"ref": "main"},
                                            "id": "d-1"}}
    status, answer = admin(engine, "POST", path, {"body": "{oops"})
    assert status == 200 and answer["ok"] is False and "JSON" in answer["message"]
    status, answer = admin(engine, "POST", path, {"body": "{}"})  # no event header: no name
    assert status == 200 and answer["ok"] is False and "transform" in answer["message"]
    spec_check("webhook-test-answer", answer)
    status, answer = admin(engine, "POST", f"/api/apps/{app.id}/webhooks/none/test",
                           {"body": "{}"})
    assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")
    status, answer = admin(engine, "POST", path, {"headers": {}})
    assert (status, answer["error"]["code"]) == (400, "INVALID_REQUEST")
    time.sleep(0.5)
    assert ran == [] and app.client.search_runs(function_id="on-push")["runs"] == []


def test_the_token_stays_out_of_logs(engine: EngineHandle, make_app: Any,
                                     caplog: pytest.LogCaptureFixture) -> None:
    app = make_app([])
    caplog.set_level(logging.DEBUG)
    hook = create(engine, app.id, name="quiet", signature={"preset": "github", "secret": "k"})
    token = hook["url"].removeprefix("/w/")
    for raw in (b"{}", b"not json"):
        call(engine, "POST", hook["url"], raw=raw,
             headers={"X-Hub-Signature-256": github_signed("k", raw)})
    wait_for(lambda: "refused a delivery" in caplog.text, 5)
    assert token not in caplog.text and token not in "\n".join(engine.lines)


def test_the_admin_rpcs_call_the_same_operations(database_url: str) -> None:
    import grpc
    from durable._pb import admin_pb2, engine_messages_pb2

    handle = EngineHandle(database_url)
    handle.options.grpc_port = 0
    handle.options.grpc_required = True
    handle.start()
    try:
        assert handle.server is not None
        channel = grpc.insecure_channel(f"127.0.0.1:{handle.server.grpc_port}")
        token = [("authorization", f"Bearer {ADMIN_TOKEN}")]

        def rpc(name: str, message: Any, answer: Any, metadata: Any = token) -> Any:
            try:
                raw = channel.unary_unary(f"/durable.v1.Admin/{name}")(
                    message.SerializeToString(), metadata=metadata, timeout=10)
            except grpc.RpcError as error:
                detail = dict(error.trailing_metadata() or ()).get("durable-error-bin")
                return error.code(), engine_messages_pb2.ApiError.FromString(detail)
            return grpc.StatusCode.OK, answer.FromString(raw)

        status, app = rpc("CreateApp", admin_pb2.CreateAppRequest(
            name=f"wh-{uuid.uuid4().hex[:6]}", environment="test",
            app_url="http://127.0.0.1:9/api/durable"), admin_pb2.CreateAppAnswer)
        assert status == grpc.StatusCode.OK
        create = admin_pb2.CreateWebhookRequest(
            id=app.id, name="rpc", transform="{name: 'x.y', data: body}",
            signature=admin_pb2.CreateWebhookRequest.Signature(preset="github", secret="k"))
        status, error = rpc("CreateWebhook", create, admin_pb2.Webhook, [])
        assert (status, error.code) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHORIZED")
        status, made = rpc("CreateWebhook", create, admin_pb2.Webhook)
        assert status == grpc.StatusCode.OK, made
        assert re.fullmatch(r"/w/[A-Za-z0-9_-]{43,}", made.url) and made.secret == "k"
        assert made.signature.preset == "github"
        status, error = rpc("CreateWebhook", create, admin_pb2.Webhook)
        assert (status, error.code) == (grpc.StatusCode.FAILED_PRECONDITION, "CONFLICT")
        bad = admin_pb2.CreateWebhookRequest(id=app.id, name="bad", transform="a.[[[")
        status, error = rpc("CreateWebhook", bad, admin_pb2.Webhook)
        assert (error.code, error.path) == ("INVALID_REQUEST", "/transform")

        status, listed = rpc("ListWebhooks", admin_pb2.AppIdRequest(id=app.id),
                             admin_pb2.ListWebhooksAnswer)
        assert status == grpc.StatusCode.OK and [w.url for w in listed.webhooks] == [made.url]
        assert not listed.webhooks[0].HasField("secret")  # [HOOK-5]

        status, tried = rpc("TestWebhook", admin_pb2.TestWebhookRequest(
            id=app.id, name="rpc", body='{"a": 1}'), admin_pb2.TestWebhookAnswer)
        assert status == grpc.StatusCode.OK and tried.ok and tried.event.name == "x.y"
        status, tried = rpc("TestWebhook", admin_pb2.TestWebhookRequest(
            id=app.id, name="rpc", body="nope"), admin_pb2.TestWebhookAnswer)
        assert status == grpc.StatusCode.OK and not tried.ok and "JSON" in tried.message

        status, changed = rpc("UpdateWebhook", admin_pb2.UpdateWebhookRequest(
            id=app.id, name="rpc", rotate_token=True, remove_signature=True),
            admin_pb2.Webhook)
        assert status == grpc.StatusCode.OK and changed.url != made.url
        assert not changed.HasField("signature") and changed.transform == made.transform
        status, error = rpc("UpdateWebhook", admin_pb2.UpdateWebhookRequest(
            id=app.id, name="rpc", transform="a.[[["), admin_pb2.Webhook)
        assert (error.code, error.path) == ("INVALID_REQUEST", "/transform")
        status, seen = rpc("ListWebhookDeliveries", admin_pb2.WebhookNameRequest(
            id=app.id, name="rpc"), admin_pb2.WebhookDeliveriesAnswer)
        assert status == grpc.StatusCode.OK and list(seen.deliveries) == []

        status, gone = rpc("DeleteWebhook", admin_pb2.WebhookNameRequest(id=app.id, name="rpc"),
                           admin_pb2.DeleteWebhookAnswer)
        assert status == grpc.StatusCode.OK and gone.deleted and gone.name == "rpc"
        status, error = rpc("DeleteWebhook", admin_pb2.WebhookNameRequest(id=app.id,
                                                                         name="rpc"),
                            admin_pb2.DeleteWebhookAnswer)
        assert (status, error.code) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
        channel.close()
    finally:
        handle.stop()


ODD_TRANSFORMS = ["@", "body", "body[0]", "{name: body.n, data: body}", "length(body)",
                  "sort(body)", "max_by(body, &a)", "merge(body, headers)", "to_number(body)",
                  "{name: to_string(body), id: body}", "{name: 'x', data: body, id: query.id}",
                  "{name: 'x', data: body, traceparent: headers.tp}", "sum(body)",
                  "{name: join(',', body), data: `{}`}", "abs(body)", "body.*.* | [0]"]
ODD_BODIES = [b"", b"\xff\xfe", b"null", b"true", b"1e999", b"NaN", b"[]", b"{}", b"[1, \"a\"]",
              b'{"n": "\\u0000"}', b'{"a": [{"a": 1}, {"a": "x"}]}', b'"' + b"x" * 3000 + b'"',
              b"[" * 5000 + b"]" * 5000, b'{"n": 12345678901234567890123}', b'["a", "b"]',
              b'{"n": "ok.name", "x": {"y": {"z": 1}}}']


def test_odd_transforms_and_bodies_never_get_a_500(engine: EngineHandle,
                                                   make_app: Any) -> None:
    app = make_app([])
    urls = [create(engine, app.id, name=f"odd-{i}", transform=t)["url"]
            for i, t in enumerate(ODD_TRANSFORMS)]
    seen: set[int] = set()
    for url in urls:
        for raw in ODD_BODIES:
            status, answer = call(engine, "POST", url + "?id=q%00", raw=raw,
                                  headers={"tp": "00-zz", "X-Odd": "\u00e9"})
            assert status in (200, 400, 413), (url, raw[:40], answer)
            assert status == 200 or answer["error"]["code"] in (
                "INVALID_JSON", "INVALID_REQUEST", "PAYLOAD_TOO_LARGE"), answer
            seen.add(status)
    name = "odd-3"
    for raw in ODD_BODIES:
        status, answer = admin(engine, "POST", f"/api/apps/{app.id}/webhooks/{name}/test",
                               {"body": raw.decode(errors="replace").replace("\x00", "")})
        assert status == 200 and isinstance(answer["ok"], bool), answer
    assert seen >= {200, 400}


def test_the_readme_example_creates_a_working_endpoint(engine: EngineHandle,
                                                       make_app: Any) -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    found = re.search(r"cat > hook\.json <<'EOF'\n(.*?)\n\s*EOF", readme, re.S)
    assert found, "the README's webhook example is gone"
    example = json.loads(found.group(1))
    app = make_app([DurableFunction(id="push", trigger={"event": "gh.push"},
                                    handler=lambda e, s: e["data"]["ref"])])
    status, hook = admin(engine, "POST", f"/api/apps/{app.id}/webhooks", example)
    assert status == 200 and hook["secret"] == "s3cret", hook
    body = b'{"ref": "main"}'
    status, receipt = call(engine, "POST", hook["url"], raw=body, headers={
        "X-Hub-Signature-256": github_signed("s3cret", body), "X-GitHub-Delivery": "d-9"})
    assert status == 200 and receipt["id"] == "d-9", receipt
    assert app.wait_run(receipt["runIds"][0])["output"] == "main"


def test_update_changes_only_what_it_names_and_deliveries_are_listed(
        engine: EngineHandle, make_app: Any) -> None:
    app = make_app([])
    hook = create(engine, app.id, name="upd", transform="{name: 'a.b', data: body}",
                  signature={"preset": "github", "secret": "one"})
    path = f"/api/apps/{app.id}/webhooks/upd"
    status, changed = admin(engine, "PATCH", path, {"transform": "{name: 'c.d', data: body}"})
    assert status == 200, changed
    spec_check("webhook", changed)
    assert changed["url"] == hook["url"] and changed["signature"] == {"preset": "github"}
    assert changed["transform"] == "{name: 'c.d', data: body}" and "secret" not in changed
    body = b'{"x": 1}'
    status, receipt = call(engine, "POST", hook["url"], raw=body,
                           headers={"X-Hub-Signature-256": github_signed("one", body)})
    assert status == 200 and receipt["name"] == "c.d"

    status, changed = admin(engine, "PATCH", path, {"signature": {
        "preset": "hmac-sha256", "header": "X-Mac", "secret": "two"}})
    assert status == 200 and changed["secret"] == "two"  # [HOOK-5]: shown when set
    assert changed["signature"] == {"preset": "hmac-sha256", "header": "X-Mac"}
    status, answer = call(engine, "POST", hook["url"], raw=body,
                          headers={"X-Hub-Signature-256": github_signed("one", body)})
    assert (status, answer["error"]["code"]) == (401, "INVALID_SIGNATURE")
    status, answer = admin(engine, "PATCH", path, {"removeSignature": True,
                                                   "signature": {"preset": "github",
                                                                 "secret": "x"}})
    assert (status, answer["error"]["code"]) == (400, "INVALID_REQUEST")
    status, answer = admin(engine, "PATCH", path, {"transform": "a.[[["})
    assert (status, answer["error"]["path"]) == (400, "/transform")
    status, changed = admin(engine, "PATCH", path, {"removeSignature": True})
    assert status == 200 and changed["signature"] is None
    status, receipt = call(engine, "POST", hook["url"], raw=body)  # no signature needed now
    assert status == 200, receipt

    status, rotated = admin(engine, "PATCH", path, {"rotateToken": True})
    assert status == 200 and rotated["url"] != hook["url"]
    assert re.fullmatch(r"/w/[A-Za-z0-9_-]{43,}", rotated["url"])
    status, answer = call(engine, "POST", hook["url"], raw=body)
    assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")  # the old URL is gone
    status, receipt = call(engine, "POST", rotated["url"], raw=body)
    assert status == 200
    status, answer = admin(engine, "PATCH", f"/api/apps/{app.id}/webhooks/none", {})
    assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")

    status, listed = admin(engine, "GET", path + "/deliveries")  # [HOOK-7]
    assert status == 200
    spec_check("webhook-deliveries-answer", listed)
    got = [(d["status"], d.get("code")) for d in listed["deliveries"]]
    assert got == [(200, None), (200, None), (401, "INVALID_SIGNATURE"), (200, None)]
    assert "message" in listed["deliveries"][2] and listed["deliveries"][0]["runIds"] == []
    status, answer = admin(engine, "GET", f"/api/apps/{app.id}/webhooks/none/deliveries")
    assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")


def test_deliveries_keep_the_last_twenty(engine: EngineHandle, make_app: Any) -> None:
    app = make_app([])
    hook = create(engine, app.id, name="many", transform="{name: 'm.n', data: body}")
    for n in range(25):
        call(engine, "POST", hook["url"], raw=json.dumps({"n": n}).encode() if n % 2
             else b"bad")
    status, listed = admin(engine, "GET", f"/api/apps/{app.id}/webhooks/many/deliveries")
    codes = [d.get("code") for d in listed["deliveries"]]
    assert status == 200 and len(codes) == 20
    assert codes[0] == "INVALID_JSON" and codes[1] is None  # newest first: n = 24, 23
