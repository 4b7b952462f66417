"""The suite's own gRPC signer (Caller.signed, used for call metadata and IngestEvents items)
against spec/vectors/grpc-signatures [GRPC-4], so a refusal the engine-grpc target reports is
the engine's doing, not a wrong signature of the suite."""

from __future__ import annotations

import base64

from durable_conformance.grpc_client import Caller
from durable_conformance.spec import Spec

CASES = [case.data for case in Spec().vectors("grpc-signatures")]


def test_valid_vectors_are_signed_exactly() -> None:
    valid = [c for c in CASES if c["valid"]]
    assert len(valid) >= 5
    for case in valid:
        request = base64.b64decode(case["request"])
        metadata = Caller.signed("app-vectors", case["signingKey"], case["method"], request,
                                 case["timestamp"])
        assert metadata == [("x-durable-app", "app-vectors"),
                            ("x-durable-timestamp", case["timestamp"]),
                            ("x-durable-signature", case["expectedSignature"])], case["id"]


def test_refused_signatures_are_not_what_the_suite_signs() -> None:
    checked = 0
    for case in CASES:
        if case["valid"] or "signature" not in case or not case.get("timestamp", "").isdigit():
            continue
        if abs(case["now"] - int(case["timestamp"])) > 300_000:
            continue
        request = base64.b64decode(case["request"])
        for key in case["keys"]:
            signed = dict(Caller.signed("app-vectors", key, case["method"], request,
                                        case["timestamp"]))
            assert signed["x-durable-signature"] != case["signature"], case["id"]
        checked += 1
    assert checked >= 5
