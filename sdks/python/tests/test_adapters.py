"""Each adapter (WSGI, ASGI, aiohttp) over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from aiohttp import web
from durable import AsyncStep, DurableFunction, Step, asgi, wsgi
from durable.aiohttp import application as aiohttp_application
from durable.signing import sign, sign_v2
from durable_testkit import KEY, encode, free_port, invoke_headers, manifest_headers


def sync_handler(event: dict[str, Any], step: Step) -> Any:
    return {"sum": step.run("add", lambda: event["data"]["a"] + event["data"]["b"])}


async def async_handler(event: dict[str, Any], step: AsyncStep) -> Any:
    async def double() -> int:
        await asyncio.sleep(0)
        return int(event["data"]["a"]) * 2

    return {"double": await step.run("double", double)}


FUNCTIONS = [
    DurableFunction(id="sync", trigger={"event": "a.sync"}, handler=sync_handler),
    DurableFunction(id="async", trigger={"event": "a.async"}, handler=async_handler),
]
OPTIONS: dict[str, Any] = {"signing_key": KEY, "max_body_bytes": 65_536}


def request(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def _wait_until_listening(url: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            request(url)
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


@pytest.fixture
def wsgi_url(serve_wsgi: Callable[[Any], str]) -> str:
    return serve_wsgi(wsgi(FUNCTIONS, **OPTIONS)) + "/api/durable"


@pytest.fixture
def asgi_url() -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        asgi(FUNCTIONS, **OPTIONS), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/api/durable"
    _wait_until_listening(url)
    yield url
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def aiohttp_url() -> Iterator[str]:
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(aiohttp_application(FUNCTIONS, **OPTIONS))

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/api/durable"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture(params=["wsgi", "asgi", "aiohttp"])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def invoke_body(function_id: str, steps: dict[str, Any] | None = None) -> bytes:
    return encode({"functionId": function_id, "runId": "r1",
                   "event": {"name": "x", "data": {"a": 2, "b": 3}}, "steps": steps or {}})


def test_manifest_over_http(url: str) -> None:
    status, _, _ = request(url)
    assert status == 401
    status, headers, body = request(url, headers=manifest_headers())
    assert status == 200
    assert headers["x-durable-signature"] == sign(KEY, body)
    manifest = json.loads(body)
    assert [f["id"] for f in manifest["functions"]] == ["sync", "async"]
    assert manifest["maxRequestBytes"] == 65_536


@pytest.mark.parametrize(
    ("function_id", "steps", "expected"),
    [
        ("sync", {}, {"op": "step", "id": "add", "data": 5}),
        ("sync", {"add": {"type": "run", "data": 9}}, {"op": "done", "data": {"sum": 9}}),
        ("async", {}, {"op": "step", "id": "double", "data": 4}),
        ("async", {"double": {"type": "run", "data": 4}}, {"op": "done", "data": {"double": 4}}),
    ],
)
def test_invoke_over_http(url: str, function_id: str, steps: dict[str, Any], expected: Any) -> None:
    body = invoke_body(function_id, steps)
    sent = invoke_headers(body)
    status, headers, answer = request(url, "POST", body, sent)
    assert status == 200, answer
    assert json.loads(answer) == expected
    assert headers["x-durable-signature"] == sign(KEY, answer)
    assert headers["x-durable-signature-v2"] == sign_v2(KEY, sent["X-Durable-Timestamp"], answer)


def test_refusals_over_http(url: str) -> None:
    body = invoke_body("sync")
    assert request(url, "POST", body, {"X-Durable-Signature": sign(KEY, body)})[0] == 401
    too_big = b"x" * 70_000
    assert request(url, "POST", too_big, invoke_headers(too_big))[0] == 413
    bad_json = b"{nope"
    assert request(url, "POST", bad_json, invoke_headers(bad_json))[0] == 400
    status, headers, _ = request(url, "PUT", b"", {})
    assert status == 405 and headers["allow"] == "GET, POST"
