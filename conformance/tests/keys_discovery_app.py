"""A tiny app for the keys, dev discovery and method checks, deliberately broken on demand.

Plain v1 signatures, advertises `key-rotation` (primary DURABLE_SIGNING_KEY, fallback
DURABLE_SIGNING_KEY_FALLBACK), dev mode with DURABLE_DEV=1; serves `serial` only.
`BROKEN=fallback-signs` signs an answer with the key that signed the request (the
fallback too); `BROKEN=discovery-always` answers discovery without dev mode;
`BROKEN=discovery-no-key` leaves `signingKey` out of the dev discovery answer;
`BROKEN=options` answers `OPTIONS` with 204 (a comma list turns on several; each bug
breaks a different case). With BROKEN unset it is correct for those checks: the control.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from typing import Any

from aiohttp import web

KEY = os.environ["DURABLE_SIGNING_KEY"]
FALLBACK = os.environ.get("DURABLE_SIGNING_KEY_FALLBACK") or None
DEV = os.environ.get("DURABLE_DEV") == "1"
APP_ID = os.environ.get("DURABLE_APP_ID") or None
APP_NAME = os.environ.get("DURABLE_APP_NAME") or None
BROKEN = set(os.environ.get("BROKEN", "").split(","))
README = os.path.join(os.path.dirname(__file__), "..", "README.md")
OPTIONS: dict[str, dict[str, Any]] = {
    "flaky": {"retries": 2},
    "with-failure": {"retries": 0, "hasOnFailure": True},
    "batcher": {"batch": {"maxSize": 3, "timeoutMs": 1000}},
    "versioned": {"version": "2"},
}


def mac(message: bytes, key: str) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def signer_of(signature: str, message: bytes) -> str | None:
    """The configured key that made `signature`, if any."""
    for key in (KEY, FALLBACK):
        if key and len(signature) == 64 and hmac.compare_digest(mac(message, key), signature):
            return key
    return None


def manifest() -> dict[str, Any]:
    with open(README) as handle:
        ids = re.findall(r"^\| `([a-z0-9-]+)` \|", handle.read(), flags=re.M)
    functions = []
    for fid in ids:
        trigger = {"cron": "0 3 * * *"} if fid == "nightly" else {"event": f"conf.{fid}"}
        functions.append({"id": fid, "trigger": trigger, **OPTIONS.get(fid, {})})
    return {"functions": functions, "sdkVersion": "keys-test/0.0.1",
            "capabilities": ["key-rotation"]}


def signed(value: Any, key: str) -> web.Response:
    body = json.dumps(value, separators=(",", ":")).encode()
    # The rule under test: answers are signed with the primary, whoever signed the request.
    use = key if "fallback-signs" in BROKEN else KEY
    return web.Response(body=body, content_type="application/json",
                        headers={"X-Durable-Signature": mac(body, use)})


def refused() -> web.Response:
    return web.Response(status=401, text="invalid signature")


async def endpoint(request: web.Request) -> web.Response:
    body = await request.read()
    if request.method == "GET":
        if request.headers.get("X-Durable-Discovery") == "true" and (
                DEV or "discovery-always" in BROKEN):
            answer = {**manifest(), "signingKey": KEY}
            if "discovery-no-key" in BROKEN:
                del answer["signingKey"]
            answer.update({k: v for k, v in (("appId", APP_ID), ("appName", APP_NAME)) if v})
            return signed(answer, KEY)
        stamp = request.headers.get("X-Durable-Timestamp", "")
        fresh = stamp.isdigit() and abs(time.time() * 1000 - int(stamp)) <= 300_000
        key = signer_of(request.headers.get("X-Durable-Signature", ""), stamp.encode())
        return signed(manifest(), key) if fresh and key else refused()
    if request.method == "OPTIONS" and "options" in BROKEN:
        return web.Response(status=204)
    if request.method != "POST":
        return web.Response(status=405, text="method not allowed", headers={"Allow": "GET, POST"})
    key = signer_of(request.headers.get("X-Durable-Signature", ""), body)
    if key is None:
        return refused()
    try:
        parsed = json.loads(body)
    except ValueError:
        return web.Response(status=400, text="invalid JSON")
    if not isinstance(parsed, dict):
        return web.Response(status=400, text="invalid request")
    steps = parsed.get("steps") or {}
    if parsed.get("functionId") != "serial":
        return signed({"op": "error", "id": None, "message": "unknown function",
                       "retryable": False}, key)
    if "a" not in steps:
        return signed({"op": "step", "id": "a", "data": {"n": 1}}, key)
    return signed({"op": "done", "data": "served"}, key)


def main() -> None:
    app = web.Application()
    app.router.add_route("*", "/api/durable", endpoint)
    web.run_app(app, host="127.0.0.1", port=int(os.environ["PORT"]), print=None)


if __name__ == "__main__":
    main()
