"""Malformed input never gets a 500: random mutations of valid bodies to every endpoint."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import urllib.error
import urllib.request
import uuid
from typing import Any

from conftest import ADMIN_TOKEN, EngineHandle
from durable import provision_app

VALID: dict[str, Any] = {
    "/fn/sync": {"sdkVersion": "python/0.1.0", "functions": [
        {"id": "f", "trigger": {"event": "a"}, "priority": 0, "enabled": True,
         "hasOnFailure": False, "retries": 2, "concurrency": {"limit": 1, "key": "t"}}]},
    "/e": {"id": "e1", "name": "a", "data": {"x": 1}},
    "/e/bulk": {"events": [{"name": "a", "data": {}}, {"id": "e2", "name": "b"}]},
    "/runs/search": {"functionId": "f", "status": "queued", "limit": 5},
    "/runs/get": {"runId": "r"},
    "/runs/cancel": {"runId": "r"},
    "/failures/search": {"limit": 5},
    "/failures/retry": {"deliveryId": "d"},
    "/versions/status": {"functionId": "f"},
}
ODD: list[Any] = [None, True, 0, -1, 1.5, 10**20, "", "x" * 300, [], {}, [1], {"a": None},
                  "\u0000", "🙂", float(2**53)]


def mutate(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict) and value and rng.random() < 0.7:
        key = rng.choice(list(value))
        copy = dict(value)
        roll = rng.random()
        if roll < 0.3:
            del copy[key]
        elif roll < 0.5:
            copy[rng.choice(["extra", "op", key + "x"])] = rng.choice(ODD)
        else:
            copy[key] = mutate(value[key], rng)
        return copy
    if isinstance(value, list) and value and rng.random() < 0.7:
        copy = list(value)
        index = rng.randrange(len(copy))
        copy[index] = mutate(copy[index], rng)
        if rng.random() < 0.2:
            copy = copy * 60
        return copy
    return rng.choice(ODD)


def test_random_bodies_get_4xx_or_200_never_5xx(engine: EngineHandle) -> None:
    created = provision_app(base_url=engine.url, name=f"fuzz-{uuid.uuid4().hex[:6]}",
                            app_url="http://127.0.0.1:1/x", environment="test",
                            admin_token=ADMIN_TOKEN)
    rng = random.Random(20261125)
    seen: dict[int, int] = {}
    for i in range(400):
        path = rng.choice(list(VALID))
        body_value = mutate(VALID[path], rng) if i % 10 else VALID[path]
        body = json.dumps(body_value).encode() if rng.random() < 0.95 else b"{\xff"
        signature = hmac.new(created["key"].encode(), body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(engine.url + path, data=body, method="POST", headers={
            "X-Durable-App": created["id"], "X-Durable-Signature": signature})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, answer = response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            status, answer = error.code, json.loads(error.read())
            assert set(answer) == {"error"} and {"code", "message"} <= set(answer["error"])
        assert status in (200, 400, 404, 409, 413), (path, body_value, answer)
        seen[status] = seen.get(status, 0) + 1
    assert seen.get(200, 0) > 20 and seen.get(400, 0) > 100  # both paths really exercised
