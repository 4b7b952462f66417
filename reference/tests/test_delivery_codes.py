"""Failed invocations record their [RETRY-3] code; a 401 answer makes the engine fetch the
manifest again before the retry ([MAN-6])."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest
from conftest import ADMIN_TOKEN, AppServer, CheckedClient, EngineHandle, free_port, wait_for
from durable import provision_app


def mac(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


class ScriptedApp:
    """A raw WSGI app: the manifest on GET; `answer(attempt)` decides each POST's answer."""

    def __init__(self, answer: Any, forge: bool = False) -> None:
        self.answer = answer
        self.key = ""
        self.forge = forge  # sign answers with another key
        self.requests: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        self.requests.append(environ["REQUEST_METHOD"])
        if environ["REQUEST_METHOD"] == "GET":
            status, out = 200, json.dumps({"functions": [], "sdkVersion": "raw/0"}).encode()
        else:
            status, out = self.answer(json.loads(body)["attempt"])
        start_response(f"{status} X", [("Content-Type", "application/json"),
                                       ("X-Durable-Signature",
                                        mac("forged" if self.forge else self.key, out)),
                                       ("Content-Length", str(len(out)))])
        return [out]


def _run_once(engine: EngineHandle, app_url: str, app: ScriptedApp | None,
              **definition: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    created = provision_app(base_url=engine.url, name=f"codes-{uuid.uuid4().hex[:8]}",
                            app_url=app_url, environment="test", admin_token=ADMIN_TOKEN)
    if app is not None:
        app.key = created["key"]
    client = CheckedClient(engine.url, created["id"], created["key"])
    name = f"codes.{uuid.uuid4().hex[:6]}"
    # raw definitions: the published SDK's DurableFunction has no timeoutMs
    client._post("/fn/sync", {"sdkVersion": "raw/0", "functions": [
        {"id": "f", "trigger": {"event": name}, **definition}]})
    run_id = client.send(name)["runIds"][0]
    run = wait_for(lambda: (r := client.get_run(run_id))["status"] in ("failed", "completed")
                   and r)
    failures = [f for f in client.list_failures(50) if f["runId"] == run_id]
    history = client._post("/runs/history", {"runId": run_id})["attempts"]
    run["history"] = history  # for the test: /runs/history of the run, schema-checked
    return run, failures[0] if failures else None


@pytest.mark.parametrize("label, code", [
    ("http-503", "DELIVERY_FAILED"),
    ("refused", "DELIVERY_FAILED"),
    ("timeout", "TIMEOUT"),
    ("bad-signature", "INVALID_RESPONSE"),
])
def test_failed_invocations_record_their_code(engine: EngineHandle, label: str,
                                              code: str) -> None:
    def answer(attempt: int) -> tuple[int, bytes]:
        if label == "timeout":
            time.sleep(1.0)
        return (503 if label == "http-503" else 200), b'{"op":"done","data":1}'

    app = ScriptedApp(answer, forge=label == "bad-signature")
    server = None if label == "refused" else AppServer(app)
    url = server.url if server else f"http://127.0.0.1:{free_port()}/api/durable"
    try:
        definition: dict[str, Any] = {"retries": 0}
        if label == "timeout":
            definition["timeoutMs"] = 200
        run, failure = _run_once(engine, url, app, **definition)
        assert run["status"] == "failed" and run["error"]["code"] == "RETRIES_EXHAUSTED"
        assert run["error"]["message"].startswith(code + ": ")
        assert failure is not None and failure["detail"].startswith(code + ": ")
        assert [a["code"] for a in run["history"]] == [code]  # [API-19]: machine-readable
    finally:
        if server is not None:
            server.close()


def test_manifest_is_fetched_again_after_a_401(engine: EngineHandle) -> None:
    app = ScriptedApp(lambda attempt: (401, b"invalid signature") if attempt == 0
                      else (200, b'{"op":"done","data":"ok"}'))
    server = AppServer(app)
    try:
        run, _ = _run_once(engine, server.url, app, retries=1)
        assert run["status"] == "completed" and run["output"] == "ok"
        posts = [n for n, method in enumerate(app.requests) if method == "POST"]
        assert len(posts) == 2
        assert "GET" in app.requests[posts[0] + 1:posts[1]], app.requests
    finally:
        server.close()
