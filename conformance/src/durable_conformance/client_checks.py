"""The `client` driver area: an SDK's engine-API client against a fake engine API.

The cases are the vectors of spec/vectors/client: the runner serves a small engine API on
loopback that answers each case's POSTs to `<base URL>/e` with the case's `answers` (the
first path segment names the case, so the base URL always has a path prefix), asks the
driver to send one event through the SDK's client, and checks what arrived:

    request  {"area": "client", "case": {"id", "engineUrl", "appId", "key", "event"}}
    answer   {"receipt": <the answer's JSON object>}   the client returned it
             {"failed": "<message>"}                   the client raised / refused

The driver sends `event` ({id, name, data}) with its client's ordinary send call to
`engineUrl`, signing with `key` for workspace `appId`; no options beyond the defaults.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import signing
from .harness import HarnessError, free_port
from .results import FAIL, PASS, Result
from .spec import Spec, VectorCase

WINDOW_MS = 300_000
API_RESPONSE_BYTES = 1_048_576


def client_cases() -> list[VectorCase]:
    return Spec().vectors("client")


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    at_ms: int


@dataclass
class FakeEngineApi:
    port: int = field(default_factory=free_port)
    seen: dict[str, list[Seen]] = field(default_factory=dict)
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    def url(self, case_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/{case_id}"

    def requests(self, case_id: str) -> list[Seen]:
        with self.lock:
            return list(self.seen.get(case_id, []))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        case_id, _, rest = request.path.lstrip("/").partition("/")
        with self.lock:
            bucket = self.seen.setdefault(case_id, [])
            bucket.append(Seen("/" + rest, {k.lower(): v for k, v in request.headers.items()},
                               body, signing.now_ms()))
            count = sum(1 for s in bucket if s.path == "/e")
        answers = self.answers.get(case_id)
        if rest != "e" or not answers:
            return web.json_response({"error": {"code": "NOT_FOUND", "message": "no such path"}},
                                     status=404)
        answer = answers[min(count - 1, len(answers) - 1)]
        status = int(answer["status"])
        if "location" in answer:
            return web.Response(status=status, headers={
                "Location": f"/{case_id}/{answer['location']}"})
        if not answer.get("receipt"):
            return web.json_response({"error": {"code": "UNAVAILABLE", "message": "busy"}},
                                     status=status)
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        receipt = {"id": event.get("id"), "name": event.get("name"), "ts": signing.now_ms(),
                   "duplicate": False, "runIds": []}
        if "padBytes" in answer:
            receipt["padding"] = "x" * int(answer["padBytes"])
        return web.json_response(receipt, status=status)

    def start(self) -> None:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application(client_max_size=4 * API_RESPONSE_BYTES)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-engine-api", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise HarnessError("the fake engine API did not start")

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


def check_signed(result: Result, seen: Seen, app_id: str, key: str) -> None:
    """[SIG-8] X-Durable-App and either the v1 MAC of the raw body or, [SIG-11], the V2
    pair (then the v1 header is not needed and not looked at: the engine ignores it)."""
    if seen.headers.get("x-durable-app") != app_id:
        result.fail(["SIG-8"], f"X-Durable-App is {seen.headers.get('x-durable-app')!r},"
                               f" expected {app_id!r}")
    v2 = seen.headers.get(signing.SIG_V2)
    if v2 is None:
        if signing.SIG not in seen.headers:
            result.fail(["SIG-8"], "the call carries neither X-Durable-Signature nor"
                                   " X-Durable-Signature-V2")
        elif not signing.matches(signing.mac(key, seen.body), seen.headers.get(signing.SIG)):
            result.fail(["SIG-8", "SIG-1"], "X-Durable-Signature is not HMAC-SHA256(key, body)"
                                            " in 64 lowercase hex")
        return
    result.cover(["SIG-11"])
    stamp = seen.headers.get(signing.TIMESTAMP) or ""
    if not stamp.isdigit() or abs(int(stamp) - seen.at_ms) > WINDOW_MS:
        result.fail(["SIG-11", "SIG-6"], f"X-Durable-Timestamp {stamp!r} is not current"
                                         " unix milliseconds")
    elif not signing.matches(signing.mac(key, signing.v2_input(stamp, seen.body)), v2):
        result.fail(["SIG-11"], "X-Durable-Signature-V2 is not HMAC(key, timestamp.body)")


def judge(case: VectorCase, answer: Any, seen: list[Seen], app_id: str, key: str,
          event: dict[str, Any]) -> Result:
    result = Result(case.id, "client", list(case.requirements))
    if not isinstance(answer, dict) or not ("receipt" in answer or "failed" in answer):
        result.fail(case.requirements, "driver answer must be {\"receipt\": ...} or"
                                       f" {{\"failed\": ...}}: {json.dumps(answer)[:200]}")
        return result
    posts = [s for s in seen if s.path == "/e"]
    for item in posts:
        check_signed(result, item, app_id, key)
    expect = case.data["expect"]
    others = sorted({s.path for s in seen if s.path != "/e"})
    if others:
        result.fail(case.requirements, f"requests went to {others} besides <base URL>/e"
                    " (a redirect followed, or the base URL's path prefix not kept)")
    if "requests" in expect and len(posts) != expect["requests"]:
        result.fail(case.requirements, f"{len(posts)} requests reached POST <base URL>/e,"
                    f" expected {expect['requests']} (the base URL ends in a path prefix"
                    " that every call keeps)")
    if "minRequests" in expect and len(posts) < expect["minRequests"]:
        result.fail(case.requirements, f"{len(posts)} request(s) and answer {answer!r}: the"
                    f" engine's answer {case.data['answers'][0]['status']} MUST be retried")
    if "retryWithinMs" in expect and len(posts) >= 2 and \
            posts[1].at_ms - posts[0].at_ms > expect["retryWithinMs"]:
        result.fail(case.requirements, f"the retry came {posts[1].at_ms - posts[0].at_ms} ms"
                    " after the first answer (at most 2000 ms)")
    if expect["result"] == "receipt":
        got = answer.get("receipt")
        if not isinstance(got, dict) or got.get("id") != event["id"]:
            result.fail(case.requirements, f"the client did not return the receipt: {answer!r}")
        for item in posts[:1]:
            try:
                sent = json.loads(item.body)
            except ValueError:
                sent = None
            if sent != event:
                result.fail(["SIG-8"], f"the body {item.body[:200]!r} is not the event sent")
    elif "failed" not in answer:
        result.fail(case.requirements, f"the send was reported as a success ({answer!r}),"
                    f" the engine answered {case.data['answers'][0]['status']}")
    return result


def run_client_cases(ask: Callable[[dict[str, Any]], Any],
                     cases: list[VectorCase] | None = None) -> list[Result]:
    """Every client case through `ask` (one driver request -> its answer)."""
    cases = client_cases() if cases is None else cases
    api = FakeEngineApi()
    api.answers = {case.id: list(case.data["answers"]) for case in cases}
    api.start()
    results: list[Result] = []
    try:
        for number, case in enumerate(cases):
            app_id, key = f"conf-client-{number}", f"conf-client-key-{number}"
            event = {"id": f"conf-client-event-{number}", "name": "conf.client.sent",
                     "data": {"case": case.id, "text": "Zürich"}}
            url = api.url(case.id) + ("/" if case.data.get("trailingSlash") else "")
            answer = ask({"area": "client", "case": {
                "id": case.id, "engineUrl": url, "appId": app_id, "key": key,
                "event": event}})
            if isinstance(answer, dict) and answer.get("unsupported") is True:
                results.append(Result(case.id, "client", list(case.requirements)).skip(
                    "driver does not implement area client"))
                continue
            if isinstance(answer, dict) and "error" in answer:
                broken = Result(case.id, "client", list(case.requirements), status="error")
                broken.failures.append(f"driver error: {answer['error']}")
                results.append(broken)
                continue
            result = judge(case, answer, api.requests(case.id), app_id, key, event)
            assert result.status in (PASS, FAIL)
            results.append(result)
    finally:
        api.stop()
    return results
