"""Shared helpers of the SDK tests: signed requests, the catalog, vectors, servers."""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
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
        # The spec ships vectors for every area this SDK runs; none is a regression.
        # A None case makes the runner fail loudly.
        params.append(pytest.param(None, id=f"no-{area}-vectors"))
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


class FakeEngine:
    """A loopback engine API: verifies signatures like the engine and records calls.

    `script[path]` may hold a list of (status, body) answers served in order before the
    default answer for that path.
    """

    def __init__(self, app_id: str = "app_1", key: str = KEY, admin_token: str = "admin") -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from durable.signing import fresh, verify

        self.app_id, self.key, self.admin_token = app_id, key, admin_token
        self.calls: list[dict[str, Any]] = []
        self.script: dict[str, list[tuple[int, bytes]]] = {}
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                engine.calls.append({"path": self.path, "headers": headers, "body": body})
                status, answer = engine.answer(self.path, headers, body, verify, fresh)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeEngine:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(
        self, path: str, headers: dict[str, str], body: bytes, verify: Any, fresh: Any
    ) -> tuple[int, bytes]:
        if path == "/api/apps":
            if headers.get("authorization") != f"Bearer {self.admin_token}":
                return 401, encode({"error": {"code": "UNAUTHORIZED"}})
            request = json.loads(body)
            return 200, encode({"id": self.app_id, "key": self.key, "name": request["name"],
                                "environment": request["environment"], "appUrl": request["appUrl"]})
        if headers.get("x-durable-app") != self.app_id:
            return 401, encode({"error": {"code": "INVALID_SIGNATURE"}})
        if "x-durable-signature-v2" in headers:
            timestamp = headers.get("x-durable-timestamp")
            ok = fresh(timestamp, now_ms()) and verify(
                [self.key], f"{timestamp}.".encode() + body, headers["x-durable-signature-v2"]
            )
        else:
            ok = verify([self.key], body, headers.get("x-durable-signature"))
        if not ok:
            return 401, encode({"error": {"code": "INVALID_SIGNATURE"}})
        scripted = self.script.get(path)
        if scripted:
            return scripted.pop(0)
        request = json.loads(body)
        defaults: dict[str, Any] = {
            "/fn/sync": {"ok": True, "functions": len(request.get("functions", []))},
            "/e": {"id": request.get("id"), "name": request.get("name"), "ts": 1,
                   "duplicate": False, "runIds": []},
            "/e/bulk": {"events": [{"id": e["id"], "duplicate": False}
                                   for e in request.get("events", [])]},
            "/runs/search": {"runs": [], "cursor": None},
            "/runs/get": {"id": request.get("runId"), "status": "completed"},
            "/runs/cancel": {"ok": True},
            "/runs/rerun": {"runId": "r2", "idempotencyKey": request.get("idempotencyKey")},
            "/failures/search": {"failures": [{"deliveryId": "d1"}]},
            "/failures/retry": {"ok": True},
            "/versions/status": {"functionId": request.get("functionId"), "versions": []},
            "/runs/history": {"runId": request.get("runId"), "nextCursor": None, "attempts": [
                {"deliveryId": "d1", "namespace": "main", "attempt": 0,
                 "at": "2026-01-01T00:00:00.000Z", "durationMs": 12, "httpStatus": 500,
                 "op": None, "error": "500: boom", "code": None}]},
            "/runs/bulk-cancel": {"cancelled": ["r1", "r2"], "nextCursor": "c2"},
            "/runs/bulk-rerun": {"reruns": [{"runId": "r9", "rerunOf": "r1", "duplicate": False}],
                                 "nextCursor": None},
            "/functions/list": {"functions": [
                {"functionId": "f", "runtimeId": "f", "version": None,
                 "trigger": {"event": "e"}, "active": True, "runs": {"completed": 3}}]},
        }
        if path not in defaults:
            return 404, encode({"error": {"code": "NOT_FOUND"}})
        return 200, encode(defaults[path])
