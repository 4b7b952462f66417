"""One engine (Postgres + `durable serve` through its CLI) with a provisioned workspace."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from durable_fuzz.engine import ADMIN_TOKEN, Engine
from durable_fuzz.signing import sign


class Api:
    def __init__(self, engine: Engine, app_id: str, key: str) -> None:
        self.engine, self.app_id, self.key = engine, app_id, key

    def signed_raw(self, path: str, body: bytes) -> tuple[int, Any]:
        return self.engine.request("POST", path, body, {
            "X-Durable-App": self.app_id, "X-Durable-Signature": sign(self.key, body)})

    def signed(self, path: str, payload: Any) -> tuple[int, Any]:
        return self.signed_raw(path, json.dumps(payload).encode())

    def admin(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        return self.engine.request(method, path, body,
                                   {"Authorization": f"Bearer {ADMIN_TOKEN}"})

    def get(self, path: str) -> tuple[int, Any]:
        return self.engine.request("GET", path, None, {})


@pytest.fixture(scope="session")
def api() -> Iterator[Api]:
    base = Path(tempfile.mkdtemp(prefix="durable-fuzz-test-"))
    engine = Engine(base, None)
    try:
        engine.start()
        app_id, key = engine.provision()
        yield Api(engine, app_id, key)
    finally:
        engine.stop()
        shutil.rmtree(base, ignore_errors=True)
