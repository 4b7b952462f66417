"""A no-op app for benchmarks, in its own process: run `steps` memoized no-op steps, then done.

It speaks protocol v1 directly (signed answers, replay by counting memos), so the figure
measures the engine rather than any SDK's overhead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys

from aiohttp import web


def main() -> None:
    port, key, steps = int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3])

    def signed(value: object) -> web.Response:
        body = json.dumps(value, separators=(",", ":")).encode()
        signature = hmac.new(key, body, hashlib.sha256).hexdigest()
        return web.Response(body=body, content_type="application/json",
                            headers={"X-Durable-Signature": signature})

    async def manifest(request: web.Request) -> web.Response:
        return signed({"functions": [], "sdkVersion": "bench/0"})

    async def invoke(request: web.Request) -> web.Response:
        body = await request.read()
        expected = hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Durable-Signature", "")):
            return web.Response(status=401, text="invalid signature")
        done = len(json.loads(body)["steps"])
        if done < steps:
            return signed({"op": "step", "id": f"s{done}", "data": done})
        return signed({"op": "done", "data": done})

    app = web.Application()
    app.router.add_get("/api/durable", manifest)
    app.router.add_post("/api/durable", invoke)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
