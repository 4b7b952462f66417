"""The fake app: a scripted app on loopback that the reference engine calls.

It records every request the engine makes and answers each from the request alone (its
memo map, its `attempt`), so the engine suite (engine_suite.py) can check what the engine
sent. The suite itself, which drives the engine, is not in this module.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import signing
from .harness import HarnessError, free_port

WINDOW_MS = 300_000
RUN_TIMEOUT_S = 60.0
TERMINAL = {"completed", "failed", "cancelled", "skipped"}
# Timing tolerance over real HTTP and a real queue: early is never allowed beyond the
# clock resolution; late is allowed by this much (the engine's wake-up latency).
EARLY_MS = 50
LATE_MS = 2_500


@dataclass
class Received:
    method: str
    headers: dict[str, str]
    body: bytes
    at_ms: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    op: Any = None
    raw: bytes | None = None  # sent as is, unsigned (garbage)
    wrong_signature: bool = False
    wrong_signature_v2: bool = False  # v1 right, v2 forged: a v2 app's answer must fail
    delay_s: float = 0.0  # answer this late (an app slower than the function's timeoutMs)


Script = Callable[[dict[str, Any]], Answer]


def _serial(request: dict[str, Any]) -> Answer:
    steps = request.get("steps") or {}
    if "a" not in steps:
        return Answer(op={"op": "step", "id": "a", "data": {"n": 1}})
    if "b" not in steps:
        return Answer(op={"op": "step", "id": "b", "data": {"n": steps["a"]["data"]["n"] + 1}})
    return Answer(op={"op": "done", "data": {"a": steps["a"]["data"], "b": steps["b"]["data"]}})


def _flaky(request: dict[str, Any]) -> Answer:
    steps = request.get("steps") or {}
    if "flaky" in steps:
        return Answer(op={"op": "done", "data": {"result": steps["flaky"]["data"]}})
    if request.get("attempt", 0) < 2:
        return Answer(op={"op": "error", "id": "flaky", "message": "boom", "name": "Error",
                          "retryable": True})
    return Answer(op={"op": "step", "id": "flaky", "data": "ok"})


def _garbage(request: dict[str, Any]) -> Answer:
    attempt = request.get("attempt", 0)
    if attempt == 0:
        return Answer(status=500, raw=b"internal oops")
    if attempt == 1:
        return Answer(raw=b"this is not json")
    if attempt == 2:
        return Answer(op={"op": "done", "data": "forged"}, wrong_signature=True)
    return Answer(op={"op": "done", "data": "survived"})


def _exhaust(request: dict[str, Any]) -> Answer:
    return Answer(op={"op": "error", "id": None, "message": "always", "name": "Error",
                      "retryable": True})


def _sleeper(request: dict[str, Any]) -> Answer:
    steps = request.get("steps") or {}
    if "before" not in steps:
        return Answer(op={"op": "step", "id": "before", "data": "x"})
    if "nap" not in steps:
        until = time.time() + 1.0
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(until))
        return Answer(op={"op": "sleep", "id": "nap",
                          "until": f"{stamp}.{int(until * 1000) % 1000:03d}Z"})
    return Answer(op={"op": "done", "data": "slept"})


def _in(ms: int) -> str:
    until = time.time() + ms / 1000
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(until))
    return f"{stamp}.{int(until * 1000) % 1000:03d}Z"


def _waiter(request: dict[str, Any]) -> Answer:
    steps = request.get("steps") or {}
    if "approve" not in steps:
        return Answer(op={"op": "wait", "id": "approve", "event": "conf.fake.approved",
                          "match": {"userId": request["event"]["data"]["userId"]},
                          "until": _in(60_000)})
    return Answer(op={"op": "done", "data": {"got": steps["approve"]["data"]}})


def _sender(request: dict[str, Any]) -> Answer:
    steps = request.get("steps") or {}
    if "emit" not in steps:
        child = {"id": f"child-{request['runId']}", "name": "conf.fake.child", "data": {"n": 1}}
        return Answer(op={"op": "sendEvent", "id": "emit", "events": [child]})
    return Answer(op={"op": "done", "data": {"receipts": steps["emit"]["data"]}})


def _with_failure(request: dict[str, Any]) -> Answer:
    steps = request.get("steps") or {}
    if "failure" not in request:
        if "explode" in steps:  # the handler's memo must never show up here
            return Answer(op={"op": "done", "data": "memo leaked"})
        return Answer(op={"op": "error", "id": "explode", "message": "exploded",
                          "name": "Error", "code": "E_BOOM", "retryable": True})
    if "cleanup" not in steps:
        return Answer(op={"op": "step", "id": "cleanup", "data": "cleaned"})
    return Answer(op={"op": "done", "data": {"cleanup": steps["cleanup"]["data"],
                                             "message": request["failure"].get("message")}})


SCRIPTS: dict[str, tuple[dict[str, Any], Script]] = {
    "serial": ({}, _serial),
    "flaky": ({"retries": 2}, _flaky),
    "garbage": ({"retries": 3}, _garbage),
    "exhaust": ({"retries": 1}, _exhaust),
    "sleeper": ({}, _sleeper),
    "waiter": ({}, _waiter),
    "sender": ({}, _sender),
    "with-failure": ({"retries": 0, "hasOnFailure": True}, _with_failure),
}


@dataclass
class FakeApp:
    key: str = ""
    capabilities: list[str] = field(default_factory=lambda: ["timestamped-signatures"])
    # runtime id -> (definition members over the defaults, script); groups bring their own
    scripts: dict[str, tuple[dict[str, Any], Script]] = field(
        default_factory=lambda: dict(SCRIPTS))
    max_request_bytes: int = 1_048_576
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/durable"

    def definitions(self) -> list[dict[str, Any]]:
        return [{"id": fid, "trigger": {"event": f"conf.fake.{fid}"}, "priority": 0,
                 "enabled": True, "hasOnFailure": False, **options}
                for fid, (options, _) in self.scripts.items()]

    def manifest(self) -> dict[str, Any]:
        return {"functions": self.definitions(), "sdkVersion": "conformance/1.0.0",
                "capabilities": self.capabilities, "maxRequestBytes": self.max_request_bytes}

    def _signed(self, value: Any, request_stamp: str | None, wrong: bool = False,
                wrong_v2: bool = False) -> web.Response:
        body = json.dumps(value, separators=(",", ":")).encode()
        key = ("forged-" + self.key) if wrong else self.key
        headers = {signing.SIG: signing.mac(key, body)}
        if request_stamp is not None:
            key_v2 = ("forged-" + self.key) if wrong or wrong_v2 else self.key
            headers[signing.SIG_V2] = signing.mac(key_v2, signing.v2_input(request_stamp, body))
        return web.Response(body=body, content_type="application/json", headers=headers)

    async def _endpoint(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self.lock:
            self.received.append(Received(request.method, headers, body, signing.now_ms()))
        if request.method == "GET":
            return self._signed(self.manifest(), None)
        if len(body) > self.max_request_bytes:  # as a real app does ([INV-6])
            return web.Response(status=413, text="request too large")
        try:
            invoke = json.loads(body)
            _, script = self.scripts[invoke["functionId"]]
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400, text="unexpected request")
        answer = script(invoke)
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        if answer.raw is not None:
            return web.Response(status=answer.status, body=answer.raw,
                                headers={signing.SIG: signing.mac(self.key, answer.raw)})
        stamp = headers.get(signing.TIMESTAMP) if "timestamped-signatures" in \
            self.capabilities else None
        return self._signed(answer.op, stamp, answer.wrong_signature, answer.wrong_signature_v2)

    def start(self) -> None:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            # aiohttp refuses bodies over 1 MiB by itself; the app states its own limit.
            app = web.Application(client_max_size=max(self.max_request_bytes, 1_048_576) * 4)
            app.router.add_route("*", "/api/durable", self._endpoint)
            self._runner = web.AppRunner(app)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            loop.run_until_complete(site.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-app", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise HarnessError("the fake app did not start")

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def invokes(self, function_id: str) -> list[Received]:
        with self.lock:
            found = [r for r in self.received if r.method == "POST"]
        out = []
        for item in found:
            try:
                if item.json().get("functionId") == function_id:
                    out.append(item)
            except (ValueError, AttributeError):
                continue
        return out
