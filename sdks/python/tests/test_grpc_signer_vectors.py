"""spec/vectors/grpc-signatures through the gRPC client's signer [GRPC-4]: the metadata of a
call and the signature of an IngestEvents item, over the exact request bytes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

pytest.importorskip("grpc")

from durable._grpc import GrpcTransport, call_signature  # noqa: E402
from durable_testkit import SPEC  # noqa: E402

WINDOW_MS = 300_000


def load() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted((SPEC / "vectors" / "grpc-signatures").glob("*.json")):
        found += json.loads(path.read_text())["cases"]
    return found


CASES = load()
VALID = [c for c in CASES if c["valid"]]
# Invalid although the timestamp is well formed and fresh: only the signature is wrong, so the
# signer, given the received timestamp, method and bytes, must not produce it under any key.
WRONG_MAC = [c for c in CASES if not c["valid"] and c.get("signature") is not None
             and c.get("timestamp", "").isdigit()
             and abs(c["now"] - int(c["timestamp"])) <= WINDOW_MS]


def request(case: dict[str, Any]) -> bytes:
    return base64.b64decode(case["request"])


def test_the_vectors_are_there() -> None:
    assert len(VALID) >= 5 and len(WRONG_MAC) >= 5
    assert {c["carrier"] for c in VALID} == {"metadata", "ingest-item"}


@pytest.mark.parametrize("case", VALID, ids=[c["id"] for c in VALID])
def test_the_signer_produces_the_expected_signature(case: dict[str, Any]) -> None:
    key = case["signingKey"].encode()
    if case["carrier"] == "ingest-item":
        got = call_signature(key, case["timestamp"], case["method"], request(case))
        assert got == case["expectedSignature"]
        return
    transport = GrpcTransport("grpc://127.0.0.1:9", "app-vectors", key, timeout=1.0,
                              max_request_bytes=1_048_576, max_response_bytes=1_048_576)
    try:
        metadata = transport.metadata(case["method"], request(case), case["timestamp"])
    finally:
        transport.close()
    assert metadata == [("x-durable-app", "app-vectors"),
                        ("x-durable-timestamp", case["timestamp"]),
                        ("x-durable-signature", case["expectedSignature"])]


@pytest.mark.parametrize("case", WRONG_MAC, ids=[c["id"] for c in WRONG_MAC])
def test_the_signer_never_produces_a_refused_signature(case: dict[str, Any]) -> None:
    for key in case["keys"]:
        got = call_signature(key.encode(), case["timestamp"], case["method"], request(case))
        assert got != case["signature"]


def test_event_requests_are_event_input_messages() -> None:
    from durable._pb import engine_messages_pb2

    events = [c for c in CASES if c["method"].endswith(("/SendEvent", "/IngestEvents"))
              and c["request"]]
    assert events
    parsed = [engine_messages_pb2.EventInput.FromString(request(c)) for c in events]
    assert {p.name for p in parsed} == {"conf.grpc.signed"}
    # The reordered encoding is the same message in other bytes.
    assert len({p.SerializeToString() for p in parsed}) == 1
    assert len({request(c) for c in events}) == 2
