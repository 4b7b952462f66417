'''The README example of dicabrio-durable-sdk 0.1.0 runs unchanged on this package.

The three code blocks below are that README's Python blocks, verbatim, executed with
`exec` so no tool can reformat them. The only substitution is the hosted engine URL,
replaced at run time by a loopback fake engine. The app is served over real HTTP and
driven through a whole run; the client block talks to the fake engine.
'''

from __future__ import annotations

import json
from typing import Any

import pytest
from durable_testkit import KEY, FakeEngine, encode, invoke_headers, manifest_headers
from test_adapters import request

README_DEFINE = """
from durable import DurableFunction, NonRetriableError


def onboarding(event, step):
    def load_user():
        user_id = event.get("data", {}).get("id")
        if not user_id:
            raise NonRetriableError("user id required", code="USER_ID_REQUIRED")
        return {"id": user_id}

    user = step.run("load-user", load_user)
    step.sleep("cooldown", "3s")
    return {"user": user}


functions = [
    DurableFunction(
        id="onboarding-python",
        trigger={"event": "user.created"},
        retries=2,
        handler=onboarding,
    )
]
"""

README_SERVE = """
import os
from durable import wsgi

application = wsgi(
    functions,
    signing_key=os.environ["DURABLE_APP_KEY"],
    app_id=os.environ.get("DURABLE_APP_ID", "app_python_dev"),
    app_name="python-app",
    dev=True,
)
"""

README_CLIENT = """
import os
from durable import Client, provision_app

credentials = provision_app(
    base_url="https://app.durable.dicabrio.com",
    name="python-app",
    app_url="https://python-app.example/api/durable",
    environment="prod",
    admin_token=os.environ["DURABLE_ADMIN_TOKEN"],
)

client = Client(
    "https://app.durable.dicabrio.com",
    credentials["id"],
    credentials["key"],
)
client.sync(functions)
receipt = client.send("user.created", {"id": "u1"}, event_id="user:u1")
"""

HOSTED_ENGINE = "https://app.durable.dicabrio.com"


def run_blocks(*blocks: str, namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    namespace = {} if namespace is None else namespace
    for index, block in enumerate(blocks):
        exec(compile(block, f"<published README block {index + 1}>", "exec"), namespace)
    return namespace


@pytest.fixture
def app_url(serve_wsgi: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DURABLE_APP_KEY", KEY)
    monkeypatch.delenv("DURABLE_APP_ID", raising=False)
    namespace = run_blocks(README_DEFINE, README_SERVE)
    return serve_wsgi(namespace["application"]) + "/api/durable"


def invoke(url: str, steps: dict[str, Any], data: Any) -> dict[str, Any]:
    body = encode({"functionId": "onboarding-python", "runId": "run-1",
                   "event": {"name": "user.created", "data": data}, "steps": steps})
    status, _, answer = request(url, "POST", body, invoke_headers(body))
    assert status == 200, answer
    return json.loads(answer)  # type: ignore[no-any-return]


def test_discovery_and_manifest(app_url: str) -> None:
    status, _, body = request(app_url, headers={"X-Durable-Discovery": "true"})
    discovery = json.loads(body)
    assert status == 200
    assert (discovery["signingKey"], discovery["appId"], discovery["appName"]) == (
        KEY, "app_python_dev", "python-app")
    status, _, body = request(app_url, headers=manifest_headers())
    definition = json.loads(body)["functions"][0]
    assert definition == {"id": "onboarding-python", "trigger": {"event": "user.created"},
                          "priority": 0, "enabled": True, "hasOnFailure": False, "retries": 2}


def test_a_whole_run(app_url: str) -> None:
    assert invoke(app_url, {}, {"id": "u1"}) == {
        "op": "step", "id": "load-user", "data": {"id": "u1"}}
    steps = {"load-user": {"type": "run", "data": {"id": "u1"}}}
    slept = invoke(app_url, steps, {"id": "u1"})
    assert (slept["op"], slept["id"]) == ("sleep", "cooldown")
    steps["cooldown"] = {"type": "sleep", "data": None}
    assert invoke(app_url, steps, {"id": "u1"}) == {"op": "done", "data": {"user": {"id": "u1"}}}


def test_missing_user_id_is_not_retried(app_url: str) -> None:
    failed = invoke(app_url, {}, {})
    assert failed == {"op": "error", "id": "load-user", "message": "user id required",
                      "name": "NonRetriableError", "code": "USER_ID_REQUIRED", "retryable": False}


def test_client_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DURABLE_ADMIN_TOKEN", "t0ken")
    with FakeEngine(admin_token="t0ken") as engine:
        client_block = README_CLIENT.replace(HOSTED_ENGINE, engine.url)
        assert client_block.count(engine.url) == 2
        namespace = run_blocks(README_DEFINE, client_block)
    assert namespace["receipt"]["id"] == "user:u1"
    assert [call["path"] for call in engine.calls] == ["/api/apps", "/fn/sync", "/e"]
    sent = json.loads(engine.calls[2]["body"])
    assert sent == {"id": "user:u1", "name": "user.created", "data": {"id": "u1"}}
    synced = json.loads(engine.calls[1]["body"])
    assert [f["id"] for f in synced["functions"]] == ["onboarding-python"]
