"""The benchmark app, in its own process. It speaks protocol v1 directly (signed answers,
replay by counting memos), so the figures measure the engine rather than any SDK.

What a function does is chosen by its id's prefix:
- `noop…`: `steps` memoized no-op steps (argv, or `event.data.steps`), then done.
- `ping…`: done at once; the time the app received the invoke is recorded.
- `sleeper…`: sleeps until `event.data.until` (ISO) or for `event.data.sleepMs` from the first
  invoke; the post-sleep invoke is recorded with its lateness.
- `waiter…`: waits for an event that never comes (deadline `event.data.waitS`, 1 h), then done.
- `slow…`: holds the invoke `event.data.ms` ms; the most invokes in flight at once is recorded.

`GET /bench/stats` answers what was recorded (times are the app's `time.time()`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from aiohttp import web


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def main() -> None:
    port, key, steps = int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3])
    records: list[dict[str, Any]] = []
    sleep_until: dict[str, float] = {}
    in_flight: dict[str, int] = defaultdict(int)
    max_in_flight: dict[str, int] = defaultdict(int)

    def signed(value: object) -> web.Response:
        body = json.dumps(value, separators=(",", ":")).encode()
        signature = hmac.new(key, body, hashlib.sha256).hexdigest()
        return web.Response(body=body, content_type="application/json",
                            headers={"X-Durable-Signature": signature})

    async def manifest(request: web.Request) -> web.Response:
        return signed({"functions": [], "sdkVersion": "bench/0"})

    async def invoke(request: web.Request) -> web.Response:
        received = time.time()
        body = await request.read()
        expected = hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Durable-Signature", "")):
            return web.Response(status=401, text="invalid signature")
        invocation = json.loads(body)
        function, run_id = invocation["functionId"], invocation["runId"]
        memos: dict[str, Any] = invocation["steps"]
        data = (invocation.get("event") or {}).get("data") or {}
        done = len(memos)
        if function.startswith("noop"):
            wanted = int(data.get("steps", steps))
            if done < wanted:
                return signed({"op": "step", "id": f"s{done}", "data": done})
            return signed({"op": "done", "data": done})
        if function.startswith("ping"):
            if done == 0:
                records.append({"fn": function, "run": run_id, "t": received})
            return signed({"op": "done", "data": None})
        if function.startswith("sleeper"):
            if "nap" not in memos:
                until = (parse_iso(data["until"]) if "until" in data
                         else received + data.get("sleepMs", 1000) / 1000)
                sleep_until[run_id] = until
                return signed({"op": "sleep", "id": "nap", "until": iso(until)})
            until = sleep_until.get(run_id)
            if until is None and "until" in data:
                until = parse_iso(data["until"])
            records.append({"fn": function, "run": run_id, "t": received, "until": until})
            return signed({"op": "done", "data": None})
        if function.startswith("waiter"):
            if "w" not in memos:
                return signed({"op": "wait", "id": "w", "event": "bench.never", "match": None,
                               "until": iso(received + data.get("waitS", 3600))})
            return signed({"op": "done", "data": None})
        if function.startswith("slow"):
            in_flight[function] += 1
            max_in_flight[function] = max(max_in_flight[function], in_flight[function])
            records.append({"fn": function, "run": run_id, "t": received})
            try:
                await asyncio.sleep(data.get("ms", 200) / 1000)
            finally:
                in_flight[function] -= 1
            return signed({"op": "done", "data": None})
        return signed({"op": "done", "data": None})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"records": records, "maxInFlight": max_in_flight})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/api/durable", manifest)
    app.router.add_post("/api/durable", invoke)
    app.router.add_get("/bench/stats", stats)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
