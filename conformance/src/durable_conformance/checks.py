"""Requirement IDs of the checks the fake engine and fake app make beyond a vector's own.

A vector case cites its requirements itself; these are the rules every answer must also
follow (a signed answer, a valid op...). Each check names the IDs of
`spec/wire-protocol.md` it enforces, so a failure message names the rule that was broken.
"""

from __future__ import annotations

# check name -> requirement IDs (kept in step with spec/wire-protocol.md; `python -m
# durable_conformance ids` lists any ID here that the spec does not define).
CHECKS: dict[str, list[str]] = {
    # app side (fake engine checks the SDK)
    "response-signature": ["SIG-7"],
    "response-signature-v2": ["SIG-10"],
    "request-signature": ["SIG-4"],
    "request-signature-v2": ["SIG-9"],
    "manifest-signature": ["SIG-5"],
    "timestamp-window": ["LIMIT-1"],
    "op-schema": ["OP-1"],
    "manifest-schema": ["MAN-1"],
    "manifest-catalog": ["MAN-1"],
    "capabilities": ["MAN-3"],
    "malformed-body": ["INV-6"],
    "unknown-function": ["ERR-4"],
    "oversized-body": ["HTTP-4"],
    "wrong-method": ["INV-6"],
    "key-rotation": ["KEY-2"],
    # engine side (fake app checks the engine)
    "engine-sync": ["SYNC-1"],
    "engine-invoke": ["INV-1"],
    "engine-status": ["RUN-1"],
    "engine-timer": ["OP-5"],
    "engine-request-signature": ["SIG-1"],
    "engine-request-signature-v2": ["SIG-8"],
    "engine-manifest-request": ["SIG-2"],
    "engine-invoke-schema": ["INV-1"],
    "engine-memo": ["INV-2"],
    "engine-retries": ["RETRY-1"],
    "engine-backoff": ["RETRY-2"],
    "engine-garbage-answer": ["RETRY-3"],
}


def ids(check: str) -> list[str]:
    return list(CHECKS.get(check, []))
