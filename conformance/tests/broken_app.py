"""A tiny conformance app written from scratch, deliberately broken on demand.

It implements only `serial` and `sleeper` of the catalog (enough for the transcripts the
tests look at), plain v1 (no capabilities). `BROKEN=signature` signs answers with the
wrong key; `BROKEN=missing-op` never emits the `sleep` op (answers `done` in its place).
With BROKEN unset it is correct for those two functions: the control.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

KEY = os.environ["DURABLE_SIGNING_KEY"]
BROKEN = os.environ.get("BROKEN", "")
LIMIT = 1_048_576
README = os.path.join(os.path.dirname(__file__), "..", "README.md")
OPTIONS: dict[str, dict[str, Any]] = {
    "flaky": {"retries": 2},
    "with-failure": {"retries": 0, "hasOnFailure": True},
    "batcher": {"batch": {"maxSize": 3, "timeoutMs": 1000}},
    "versioned": {"version": "2"},
}


def mac(message: bytes, key: str = KEY) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def definitions() -> list[dict[str, Any]]:
    with open(README) as handle:
        ids = re.findall(r"^\| `([a-z0-9-]+)` \|", handle.read(), flags=re.M)
    found = []
    for fid in ids:
        trigger = {"cron": "0 3 * * *"} if fid == "nightly" else {"event": f"conf.{fid}"}
        found.append({"id": fid, "trigger": trigger, "priority": 0, "enabled": True,
                      "hasOnFailure": False, **OPTIONS.get(fid, {})})
    return found


def signed(value: Any) -> web.Response:
    body = json.dumps(value, separators=(",", ":")).encode()
    key = "wrong-" + KEY if BROKEN == "signature" else KEY
    return web.Response(body=body, content_type="application/json",
                        headers={"X-Durable-Signature": mac(body, key)})


def valid(signature: str, message: bytes) -> bool:
    return len(signature) == 64 and hmac.compare_digest(mac(message), signature)


class Interrupt(Exception):
    def __init__(self, op: dict[str, Any]) -> None:
        super().__init__(op.get("op"))
        self.op = op


def run_step(steps: dict[str, Any], step_id: str, value: Any) -> Any:
    if step_id in steps:
        return steps[step_id].get("data")
    raise Interrupt({"op": "step", "id": step_id, "data": value})


def sleep(steps: dict[str, Any], step_id: str, ms: int) -> None:
    if step_id in steps:
        return
    if BROKEN == "missing-op":
        return  # the bug under test: the sleep never reaches the engine
    until = datetime.now(UTC) + timedelta(milliseconds=ms)
    raise Interrupt({"op": "sleep", "id": step_id,
                     "until": until.isoformat(timespec="milliseconds").replace("+00:00", "Z")})


def execute(request: dict[str, Any]) -> dict[str, Any]:
    steps = request.get("steps") or {}
    function = request.get("functionId")
    try:
        if function == "serial":
            a = run_step(steps, "a", {"n": 1})
            b = run_step(steps, "b", {"n": a["n"] + 1})
            return {"op": "done", "data": {"a": a, "b": b}}
        if function == "sleeper":
            run_step(steps, "before", "x")
            sleep(steps, "nap", 2000)
            return {"op": "done", "data": "slept"}
    except Interrupt as interrupt:
        return interrupt.op
    return {"op": "error", "id": None, "message": f"not implemented: {function}",
            "name": "Error", "retryable": False}


async def endpoint(request: web.Request) -> web.Response:
    body = await request.read()
    if request.method == "GET":
        stamp = request.headers.get("X-Durable-Timestamp", "")
        fresh = stamp.isdigit() and abs(time.time() * 1000 - int(stamp)) <= 300_000
        if not fresh or not valid(request.headers.get("X-Durable-Signature", ""), stamp.encode()):
            return web.Response(status=401, text="invalid signature")
        return signed({"functions": definitions(), "sdkVersion": "broken/0.0.1"})
    if request.method != "POST":
        return web.Response(status=405, text="method not allowed", headers={"Allow": "GET, POST"})
    if len(body) > LIMIT:
        return web.Response(status=413, text="too large")
    if not valid(request.headers.get("X-Durable-Signature", ""), body):
        return web.Response(status=401, text="invalid signature")
    try:
        parsed = json.loads(body)
    except ValueError:
        return web.Response(status=400, text="invalid JSON")
    if not isinstance(parsed, dict):
        return web.Response(status=400, text="invalid request")
    return signed(execute(parsed))


def main() -> None:
    app = web.Application(client_max_size=8 * LIMIT)
    app.router.add_route("*", "/api/durable", endpoint)
    web.run_app(app, host="127.0.0.1", port=int(os.environ["PORT"]), print=None)


if __name__ == "__main__":
    main()
