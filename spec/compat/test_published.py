"""Proof of v1 compatibility: the published dicabrio-durable-sdk 0.1.0 agrees with every
signature and replay vector that needs no capability (spec/vectors/README.md).

The app side is driven through `durable.handle_request` (the package's own entry point);
the client side through `durable.Client` against a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import durable
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from published_catalog import PREDATES, UNSUPPORTED, functions  # noqa: E402

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
KEY = "compat-signing-key"


def _cases(area: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted((VECTORS / area).glob("*.json")):
        cases.extend(json.loads(path.read_text())["cases"])
    return cases


def _v1(area: str) -> list[Any]:
    return [
        pytest.param(
            case,
            id=case["id"],
            marks=[pytest.mark.xfail(reason=PREDATES[case["id"]], strict=True)]
            if case["id"] in PREDATES
            else [],
        )
        for case in _cases(area)
        if not case.get("capabilities")
    ]


def _mac(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def test_vectors_present() -> None:
    assert len(_v1("signatures")) >= 15
    assert len(_v1("replay")) >= 20


# ------------------------------------------------------------------ replay


def _parse_iso(value: str) -> float:
    assert isinstance(value, str) and len(value) == 24 and value.endswith("Z"), value
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp() * 1000


def _agrees(expected: Any, actual: Any, invoked_ms: float, where: str = "") -> None:
    if isinstance(expected, dict) and set(expected) == {"$afterMs"}:
        assert abs(_parse_iso(actual) - (invoked_ms + expected["$afterMs"])) <= 5000, where
        return
    if isinstance(expected, dict) and set(expected) == {"$type"}:
        assert expected["$type"] == "string" and isinstance(actual, str), where
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), (where, actual, expected)
        for key, value in expected.items():
            _agrees(value, actual[key], invoked_ms, f"{where}/{key}")
        return
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (where, actual)
        for index, (value, got) in enumerate(zip(expected, actual, strict=True)):
            _agrees(value, got, invoked_ms, f"{where}/{index}")
        return
    assert type(actual) is type(expected) and actual == expected, (where, actual, expected)


@pytest.mark.parametrize("case", _v1("replay"))
def test_replay(case: dict[str, Any]) -> None:
    if case["function"] in UNSUPPORTED:
        pytest.skip(UNSUPPORTED[case["function"]])
    if "rawBody" in case:
        body = case["rawBody"].encode()
    else:
        body = json.dumps(case["request"], separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"x-durable-signature": _mac(KEY, body), **case.get("headers", {})}
    invoked_ms = time.time() * 1000
    response = durable.handle_request(
        case.get("method", "POST"), headers, body, functions, signing_key=KEY
    )
    if "expectStatus" in case:
        assert response.status == case["expectStatus"]
        return
    assert response.status == 200
    answer_headers = dict(response.headers)
    assert answer_headers["x-durable-signature"] == _mac(KEY, response.body)
    _agrees(case["expect"], json.loads(response.body), invoked_ms)


# ------------------------------------------------------------------ signatures


@pytest.mark.parametrize(
    "case", [c for c in _v1("signatures") if c.values[0]["hop"] in ("invoke", "manifest")]
)
def test_app_verifies(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    (key,) = case["keys"]
    monkeypatch.setattr(time, "time", lambda: case["now"] / 1000)
    method = "POST" if case["hop"] == "invoke" else "GET"
    response = durable.handle_request(
        method, case["headers"], case["body"].encode(), functions, signing_key=key
    )
    if case["valid"]:
        assert response.status == 200, response.body
        for name, value in case["expectedSignatures"].items():
            signed = case["body"] if case["hop"] == "invoke" else case["timestamp"]
            assert value == _mac(case["signingKey"], signed.encode()) == case["headers"][name]
    else:
        assert response.status == 401
        assert response.body == b"invalid signature"


@pytest.mark.parametrize("case", [c for c in _v1("signatures") if c.values[0]["hop"] == "response"])
def test_app_signs_answers(case: dict[str, Any]) -> None:
    if not case["valid"]:
        pytest.skip("the engine verifies answers; the published package only produces them")
    answer = json.loads(case["body"])
    assert answer["op"] == "done", "response vectors are echo answers"
    request = {
        "functionId": "echo",
        "runId": "run-compat",
        "event": answer["data"]["event"],
        "steps": {},
    }
    body = json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode()
    key = case["signingKey"]
    response = durable.handle_request(
        "POST", {"X-Durable-Signature": _mac(key, body)}, body, functions, signing_key=key
    )
    assert response.status == 200
    assert response.body.decode() == case["body"]
    assert (
        dict(response.headers)["x-durable-signature"]
        == case["expectedSignatures"]["x-durable-signature"]
    )


class _Capture(BaseHTTPRequestHandler):
    captured: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.captured.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        receipt = json.dumps({"id": "x", "duplicate": False}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(receipt)))
        self.end_headers()
        self.wfile.write(receipt)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("case", [c for c in _v1("signatures") if c.values[0]["hop"] == "api"])
def test_client_signs_calls(case: dict[str, Any]) -> None:
    if not case["valid"]:
        pytest.skip("the engine verifies API calls; the published package only produces them")
    event = json.loads(case["body"])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _Capture.captured.clear()
        client = durable.Client(
            f"http://127.0.0.1:{server.server_address[1]}",
            case["headers"]["x-durable-app"],
            case["signingKey"],
        )
        client.send(event["name"], event["data"], event_id=event["id"])
    finally:
        server.shutdown()
        server.server_close()
    ((path, headers, body),) = _Capture.captured
    assert path == "/e"
    assert body.decode() == case["body"]
    assert headers["x-durable-app"] == case["headers"]["x-durable-app"]
    assert headers["x-durable-signature"] == case["expectedSignatures"]["x-durable-signature"]
