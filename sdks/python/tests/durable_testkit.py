"""Shared helpers of the SDK tests: signed requests, the catalog, vectors, servers."""

from __future__ import annotations

import importlib.util
import json
import socket
import time
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import pytest
from durable.signing import sign, sign_v2

SDK = Path(__file__).resolve().parents[1]
REPO = SDK.parents[1]
SPEC = REPO / "spec"
KEY = "test-signing-key"


def now_ms() -> int:
    return int(time.time() * 1000)


def load_catalog() -> Any:
    """The conformance app module (its FUNCTIONS are the catalog)."""
    path = SDK / "conformance" / "app.py"
    spec = importlib.util.spec_from_file_location("durable_conformance_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def invoke_headers(body: bytes, key: str = KEY, *, timestamp: int | None = None) -> dict[str, str]:
    """Headers the engine sends on an invoke: v1 plus the v2 pair."""
    ts = str(now_ms() if timestamp is None else timestamp)
    return {
        "X-Durable-Signature": sign(key, body),
        "X-Durable-Timestamp": ts,
        "X-Durable-Signature-V2": sign_v2(key, ts, body),
    }


def manifest_headers(key: str = KEY, *, timestamp: int | None = None) -> dict[str, str]:
    ts = str(now_ms() if timestamp is None else timestamp)
    return {"X-Durable-Timestamp": ts, "X-Durable-Signature": sign(key, ts.encode())}


def encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def vector_files(area: str) -> list[Path]:
    return sorted((SPEC / "vectors" / area).glob("*.json"))


def vector_cases(area: str) -> list[Any]:
    """pytest params for every case of every file of an area (picked up as files land)."""
    params = []
    for path in vector_files(area):
        document = json.loads(path.read_text())
        for case in document.get("cases", []):
            params.append(pytest.param(case, id=f"{path.stem}:{case.get('id')}"))
    if not params:
        params.append(
            pytest.param(None, id="none", marks=pytest.mark.skip(reason=f"no {area} vectors yet"))
        )
    return params


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadedWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass
