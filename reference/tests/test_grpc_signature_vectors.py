"""spec/vectors/grpc-signatures through the engine's own gRPC verifier [GRPC-4]
(signing.verify_grpc_call, which GrpcApi.authenticate and IngestEvents items call)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from durable_engine import signing
from durable_engine.validation import spec_dir

SPEC = spec_dir()
CASES: list[dict[str, Any]] = [
    case
    for path in (sorted((SPEC / "vectors" / "grpc-signatures").glob("*.json")) if SPEC else [])
    for case in json.loads(path.read_text())["cases"]
]


def test_the_vectors_are_there() -> None:
    assert SPEC is not None
    assert sum(c["valid"] for c in CASES) >= 5
    assert sum(not c["valid"] for c in CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_the_engine_verifies_as_the_vector_says(case: dict[str, Any]) -> None:
    request = base64.b64decode(case["request"])
    problem = signing.verify_grpc_call(case["keys"], case.get("timestamp"),
                                       case.get("signature"), case["method"], request,
                                       case["now"])
    assert (problem is None) is case["valid"], problem
    if case["valid"]:
        message = f"{case['timestamp']}.{case['method']}.".encode() + request
        assert signing.sign(case["signingKey"], message) == case["expectedSignature"]
