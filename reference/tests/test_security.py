"""Signatures on every hop, key rotation, admin access, bad input and workspace isolation."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from conftest import ADMIN_TOKEN, AppServer, CheckedClient, EngineHandle, query, wait_for
from durable import DurableError, DurableFunction, provision_app, wsgi

Behaviour = Callable[[str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


def mac(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def raw_app(behaviour: Behaviour) -> Callable[..., list[bytes]]:
    """A hand-written app endpoint: full control over every byte it answers."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        status, out_headers, out = behaviour(environ["REQUEST_METHOD"], headers, body)
        start_response(f"{status} X", [*out_headers.items(), ("Content-Length", str(len(out)))])
        return [out]

    return application


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def provision(engine: EngineHandle, app_url: str, name: str | None = None) -> dict[str, Any]:
    return provision_app(base_url=engine.url, name=name or f"sec-{uuid.uuid4().hex[:8]}",
                         app_url=app_url, environment="test", admin_token=ADMIN_TOKEN)


def test_engine_api_rejects_bad_signatures(engine: EngineHandle) -> None:
    created = provision(engine, "http://127.0.0.1:9/api/durable")
    other = provision(engine, "http://127.0.0.1:9/api/durable")
    body = json.dumps({"name": "x.y", "data": {}}).encode()
    cases = {
        "no app": {},
        "no signature": {"X-Durable-App": created["id"]},
        "malformed": {"X-Durable-App": created["id"], "X-Durable-Signature": "abc"},
        "other workspace's key": {"X-Durable-App": created["id"],
                                  "X-Durable-Signature": mac(other["key"], body)},
        "unknown app": {"X-Durable-App": "nope", "X-Durable-Signature": mac(created["key"], body)},
        "uppercase hex": {"X-Durable-App": created["id"],
                          "X-Durable-Signature": mac(created["key"], body).upper()},
    }
    for label, headers in cases.items():
        status, answer = post(engine.url + "/e", body, headers)
        assert status == 401, label
        assert answer["error"]["code"] == "INVALID_SIGNATURE", label
    status, answer = post(engine.url + "/e", body, {
        "X-Durable-App": created["id"], "X-Durable-Signature": mac(created["key"], body)})
    assert status == 200 and answer["duplicate"] is False


def test_engine_api_accepts_v2_and_enforces_its_window(engine: EngineHandle) -> None:
    created = provision(engine, "http://127.0.0.1:9/api/durable")
    body = json.dumps({"name": "x.v2"}).encode()
    now = str(int(time.time() * 1000))
    good = {"X-Durable-App": created["id"], "X-Durable-Timestamp": now,
            "X-Durable-Signature-V2": mac(created["key"], now.encode() + b"." + body),
            "X-Durable-Signature": "0" * 64}  # v1 is ignored when v2 is present
    assert post(engine.url + "/e", body, good)[0] == 200
    stale = str(int(time.time() * 1000) - 301_000)
    old = {**good, "X-Durable-Timestamp": stale,
           "X-Durable-Signature-V2": mac(created["key"], stale.encode() + b"." + body)}
    status, answer = post(engine.url + "/e", body, old)
    assert status == 401 and "window" in answer["error"]["message"]
    tampered = {**good, "X-Durable-Signature-V2": mac(created["key"], b"0." + body)}
    assert post(engine.url + "/e", body, tampered)[0] == 401


def test_bad_input_gets_clear_4xx(engine: EngineHandle) -> None:
    created = provision(engine, "http://127.0.0.1:9/api/durable")

    def signed(path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        return post(engine.url + path, body, {"X-Durable-App": created["id"],
                                              "X-Durable-Signature": mac(created["key"], body)})

    status, answer = signed("/e", b"{not json")
    assert status == 400 and answer["error"]["code"] == "INVALID_JSON"
    status, answer = signed("/e", b"[]")
    assert status == 400 and answer["error"]["path"] == ""
    status, answer = signed("/e", json.dumps({"name": ""}).encode())
    assert status == 400 and answer["error"]["path"] == "/name"
    status, answer = signed("/e/bulk", json.dumps({"events": []}).encode())
    assert status == 400 and answer["error"]["path"] == "/events"
    bad_sync = {"sdkVersion": "x", "functions": [
        {"id": "ok", "trigger": {"event": "a"}},
        {"id": "bad", "trigger": {"event": "a"}, "retries": 99}]}
    status, answer = signed("/fn/sync", json.dumps(bad_sync).encode())
    assert status == 400 and answer["error"]["path"] == "/functions/1/retries"
    bad_cron = {"functions": [{"id": "c", "trigger": {"cron": "61 * * * *"}}]}
    status, answer = signed("/fn/sync", json.dumps(bad_cron).encode())
    assert status == 400 and answer["error"]["path"] == "/functions/0/trigger/cron"
    status, answer = signed("/runs/get", json.dumps({"runId": "missing"}).encode())
    assert status == 404 and answer["error"]["code"] == "NOT_FOUND"
    status, answer = signed("/failures/search", b'{"limit": 19.0}')  # an integer in JSON
    assert status == 200 and answer == {"failures": []}
    status, answer = signed("/e", b'{"name": "x.float-ts", "ts": 234.0}')
    assert status == 200 and answer["ts"] == 234
    status, answer = signed("/e", b'{"name": "x.huge", "ts": 948603515625200812032}')
    assert status == 400 and answer["error"]["path"] == "/ts"
    status, answer = signed("/fn/sync", json.dumps({"sdkVersion": "t", "functions": [
        {"id": "t", "trigger": {"event": "a"}, "timeoutMs": 10**30}]}).encode())
    assert status == 400 and answer["error"]["path"] == "/functions/0/timeoutMs"
    status, answer = signed("/runs/search", json.dumps({"status": "weird"}).encode())
    assert status == 400 and answer["error"]["path"] == "/status"
    status, answer = signed("/e", b"x" * 1_100_000)
    assert status == 413 and answer["error"]["code"] == "PAYLOAD_TOO_LARGE"
    big = {"events": [{"name": "ok"}, {"name": "big", "data": "x" * 270_000}]}
    status, answer = signed("/e/bulk", json.dumps(big).encode())
    assert status == 413 and answer["error"]["path"] == "/events/1"
    status, answer = signed("/versions/status", json.dumps({"functionId": "nope"}).encode())
    assert status == 404 and answer["error"]["code"] == "UNKNOWN_FUNCTION"
    status, answer = post(engine.url + "/nowhere", b"{}", {})
    assert status == 404 and answer["error"]["code"] == "NOT_FOUND"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(engine.url + "/e", timeout=5)
    assert info.value.code == 405
    with urllib.request.urlopen(engine.url + "/openapi.yaml", timeout=5) as response:
        assert b"openapi:" in response.read()


def test_admin_create_refuses_what_is_not_an_http_uri(engine: EngineHandle) -> None:
    for url in ("https://\u00cf", "ftp://host/x", "http://", "not a url", "http://h:0/x"):
        status, answer = post(engine.url + "/api/apps", json.dumps(
            {"name": "bad", "environment": "t", "appUrl": url}).encode(),
            {"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert status == 400 and answer["error"]["path"] == "/appUrl", url


def test_admin_api_needs_the_token(engine: EngineHandle) -> None:
    with pytest.raises(DurableError, match="401"):
        provision_app(base_url=engine.url, name="x", app_url="http://127.0.0.1:9/a",
                      admin_token="wrong")
    with pytest.raises(DurableError, match="401"):
        provision_app(base_url=engine.url, name="x", app_url="http://127.0.0.1:9/a")
    request = urllib.request.Request(engine.url + "/api/apps",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        apps = json.loads(response.read())["apps"]
    assert apps and all("key" not in app and "keys" not in app for app in apps)


def test_prod_without_token_disables_admin(database_url: str) -> None:
    handle = EngineHandle(database_url, admin_token=None, dev=False).start()
    try:
        with pytest.raises(DurableError, match="403"):
            provision_app(base_url=handle.url, name="x", app_url="http://127.0.0.1:9/a")
    finally:
        handle.stop()
    dev = EngineHandle(database_url, admin_token=None, dev=True,
                       dev_app_url="http://127.0.0.1:9/none").start()
    try:  # dev mode without a token: loopback clients may provision
        created = provision_app(base_url=dev.url, name=f"dev-{uuid.uuid4().hex[:6]}",
                                app_url="http://127.0.0.1:9/a")
        assert created["key"] and created["environment"] == "dev"
    finally:
        dev.stop()


def test_app_rejects_an_invoke_signed_with_the_wrong_key(engine: EngineHandle) -> None:
    name = f"wrongkey.{uuid.uuid4().hex[:6]}"
    fn = DurableFunction(id="f", trigger={"event": name}, handler=lambda e, s: "ok", retries=0)
    server = AppServer(wsgi([fn], signing_key="not-the-workspace-key"))
    try:
        created = provision(engine, server.url)
        client = CheckedClient(engine.url, created["id"], created["key"])
        client.sync([fn])
        run_id = client.send(name)["runIds"][0]
        run = wait_for(lambda: (r := client.get_run(run_id))["status"] == "failed" and r)
        assert "HTTP 401" in run["error"]["message"]
        assert run["error"]["code"] == "RETRIES_EXHAUSTED"
    finally:
        server.close()


def _answering(key: str, make: Callable[[dict[str, Any]], tuple[int, dict[str, str], bytes]]
               ) -> Behaviour:
    def behaviour(method: str, headers: dict[str, str], body: bytes
                  ) -> tuple[int, dict[str, str], bytes]:
        if method == "GET":
            manifest = json.dumps({"functions": [], "sdkVersion": "raw/0"}).encode()
            return 200, {"X-Durable-Signature": mac(key, manifest)}, manifest
        assert hmac.compare_digest(headers["x-durable-signature"], mac(key, body))
        return make(json.loads(body))

    return behaviour


@pytest.mark.parametrize("label, expected", [
    ("bad-signature", "invalid X-Durable-Signature"),
    ("not-json", "not JSON"),
    ("unknown-op", "unknown op 'explode'"),
    ("bad-field", "/until"),
    ("oversized", "exceeds 1048576 bytes"),
    ("http-500", "HTTP 500"),
    ("nul-string", "U+0000"),
    ("deep", "not JSON"),
])
def test_invalid_answers_fail_the_attempt_readably(engine: EngineHandle, database_url: str,
                                                   label: str, expected: str) -> None:
    holder: dict[str, str] = {}

    def make(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        key = holder["key"]
        bodies = {
            "bad-signature": json.dumps({"op": "done", "data": 1}).encode(),
            "not-json": b"<html>oops</html>",
            "unknown-op": json.dumps({"op": "explode"}).encode(),
            "bad-field": json.dumps({"op": "sleep", "id": "s", "until": "tomorrow"}).encode(),
            "oversized": json.dumps({"op": "done", "data": "x" * 1_100_000}).encode(),
            "http-500": b"internal error",
            "nul-string": json.dumps({"op": "step", "id": "s", "data": "a\u0000b"}).encode(),
            "deep": b'{"op":"done","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        }
        body = bodies[label]
        signature = mac("wrong", body) if label == "bad-signature" else mac(key, body)
        return (500 if label == "http-500" else 200), {"X-Durable-Signature": signature}, body

    server = AppServer(raw_app(lambda m, h, b: _answering(holder["key"], make)(m, h, b)))
    try:
        created = provision(engine, server.url)
        holder["key"] = created["key"]
        client = CheckedClient(engine.url, created["id"], created["key"])
        name = f"raw.{uuid.uuid4().hex[:6]}"
        # the raw app speaks v1: it advertises no capabilities (no v2 answers)
        client.sync([DurableFunction(id="raw", trigger={"event": name},
                                     handler=lambda e, s: None, retries=1)], capabilities=[])
        run_id = client.send(name)["runIds"][0]
        run = wait_for(lambda: (r := client.get_run(run_id))["status"] == "failed" and r)
        assert expected in run["error"]["message"]
        assert run["error"]["code"] == "RETRIES_EXHAUSTED"
        failures = [f for f in client.list_failures(10) if f["runId"] == run_id]
        assert len(failures) == 1 and failures[0]["attempt"] == 1
        assert failures[0]["error"] == run["error"]
        errors = query(database_url, "SELECT error FROM deliveries WHERE run_id = %s", run_id)
        assert len(errors) == 2 and all(expected in e["error"] for e in errors)
    finally:
        server.close()


def test_timestamped_signatures_for_apps_that_ask(engine: EngineHandle,
                                                  database_url: str) -> None:
    holder: dict[str, Any] = {"seen": [], "sign_v2": True}

    def behaviour(method: str, headers: dict[str, str], body: bytes
                  ) -> tuple[int, dict[str, str], bytes]:
        key = holder["key"]
        if method == "GET":
            timestamp = headers.get("x-durable-timestamp", "")
            if headers.get("x-durable-signature") != mac(key, timestamp.encode()):
                return 401, {}, b"invalid signature"
            manifest = json.dumps({"functions": [], "sdkVersion": "raw/0",
                                   "capabilities": ["timestamped-signatures"]}).encode()
            return 200, {"X-Durable-Signature": mac(key, manifest)}, manifest
        timestamp = headers.get("x-durable-timestamp", "")
        v2 = headers.get("x-durable-signature-v2", "")
        if not timestamp or v2 != mac(key, timestamp.encode() + b"." + body):
            return 401, {}, b"invalid signature"
        if abs(int(timestamp) - time.time() * 1000) > 300_000:
            return 401, {}, b"stale"
        holder["seen"].append(timestamp)
        answer = json.dumps({"op": "done", "data": "v2 ok"}).encode()
        out = {"X-Durable-Signature": mac(key, answer)}
        if holder["sign_v2"]:
            out["X-Durable-Signature-V2"] = mac(key, timestamp.encode() + b"." + answer)
        return 200, out, answer

    server = AppServer(raw_app(behaviour))
    try:
        created = provision(engine, server.url)
        holder["key"] = created["key"]
        client = CheckedClient(engine.url, created["id"], created["key"])
        name = f"v2.{uuid.uuid4().hex[:6]}"
        # a v1 sync (no capabilities, no maxRequestBytes): the engine asks the manifest
        fn = DurableFunction(id="v2", trigger={"event": name}, handler=lambda e, s: None,
                             retries=0)
        client._post("/fn/sync", {"sdkVersion": "raw/0", "functions": [fn.definition()]})
        run_id = client.send(name)["runIds"][0]
        run = wait_for(lambda: (r := client.get_run(run_id))["status"] == "completed" and r)
        assert run["output"] == "v2 ok" and len(holder["seen"]) == 1
        caps = query(database_url, "SELECT capabilities FROM workspaces WHERE id = %s",
                     created["id"])[0]["capabilities"]
        assert caps == ["timestamped-signatures"]
        holder["sign_v2"] = False  # an answer not bound to its request is refused
        run_id = client.send(name)["runIds"][0]
        run = wait_for(lambda: (r := client.get_run(run_id))["status"] == "failed" and r)
        assert "X-Durable-Signature-V2" in run["error"]["message"]
    finally:
        server.close()


def test_key_rotation_accepts_both_then_only_the_new(engine: EngineHandle) -> None:
    created = provision(engine, "http://127.0.0.1:9/api/durable")
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}

    def admin(path: str) -> tuple[int, dict[str, Any]]:
        return post(f"{engine.url}/api/apps/{created['id']}/{path}", b"{}", headers)

    status, rotated = admin("rotate-key")
    assert status == 200 and rotated["activeKeys"] == 2 and rotated["key"] != created["key"]
    assert admin("rotate-key")[0] == 409
    for key in (created["key"], rotated["key"]):
        assert CheckedClient(engine.url, created["id"], key).search_runs()["runs"] == []
    status, retired = admin("retire-key")
    assert status == 200 and retired["activeKeys"] == 1
    assert admin("retire-key")[0] == 409
    with pytest.raises(DurableError, match="401"):
        CheckedClient(engine.url, created["id"], created["key"]).search_runs()
    assert CheckedClient(engine.url, created["id"], rotated["key"]).search_runs()["runs"] == []


def test_workspaces_are_isolated(engine: EngineHandle) -> None:
    name = f"iso.{uuid.uuid4().hex[:6]}"
    fn = DurableFunction(id="iso", trigger={"event": name}, handler=lambda e, s: "mine")
    a, b = provision(engine, "http://127.0.0.1:9/a"), provision(engine, "http://127.0.0.1:9/b")
    client_a = CheckedClient(engine.url, a["id"], a["key"])
    client_b = CheckedClient(engine.url, b["id"], b["key"])
    client_a.sync([fn])
    receipt_b = client_b.send(name, event_id="shared-id")
    assert receipt_b["runIds"] == []  # b has no function for it; a's is not triggered
    receipt_a = client_a.send(name, event_id="shared-id")  # same id, other workspace: new
    assert receipt_a["duplicate"] is False and len(receipt_a["runIds"]) == 1
    run_id = receipt_a["runIds"][0]
    with pytest.raises(DurableError, match="404"):
        client_b.get_run(run_id)
    with pytest.raises(DurableError, match="404"):
        client_b.cancel_run(run_id)
    assert client_b.search_runs()["runs"] == []
    with pytest.raises(DurableError, match="404"):
        client_b.get_version_status("iso")
    assert client_b.list_failures(10) == []
    assert client_a.get_run(run_id)["functionId"] == "iso"


def test_an_app_id_with_nul_is_no_app(engine: EngineHandle) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    for method, path, body in (("DELETE", "", None), ("PATCH", "", b'{"name": "x"}'),
                               ("POST", "/rotate-key", b"{}"), ("POST", "/retire-key", b"{}")):
        request = urllib.request.Request(f"{engine.url}/api/apps/a%00b{path}", data=body,
                                         method=method, headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 404, (method, path)
        assert json.loads(refused.value.read())["error"]["code"] == "NOT_FOUND"
