"""Requirement IDs of the checks the fake engine and fake app make beyond a vector's own.

A vector case cites its requirements itself; these are the rules every answer must also
follow (a signed answer, a valid op...). Each check names the IDs of
`spec/wire-protocol.md` it enforces, so a failure message names the rule that was broken.
"""

from __future__ import annotations

# check name -> requirement IDs (kept in step with spec/wire-protocol.md; `python -m
# durable_conformance ids` lists any ID here that the spec does not define).
CHECKS: dict[str, list[str]] = {
    # app side (the fake engine checks an SDK's app)
    "response-signature": ["SIG-7"],
    "response-signature-v2": ["SIG-10"],
    "request-signature": ["SIG-4"],
    "refusal": ["SIG-12"],
    "signature-format": ["SIG-2", "SIG-4"],
    "request-signature-v2": ["SIG-9"],
    "manifest-signature": ["SIG-5"],
    "timestamp-window": ["LIMIT-1"],
    "op-schema": ["OP-1"],
    "manifest-schema": ["MAN-1"],
    "manifest-catalog": ["MAN-4"],
    "minor-members": ["MINOR-2"],
    "capabilities": ["VER-3", "VER-4"],
    "malformed-body": ["INV-6"],
    "unknown-function": ["ERR-4"],
    "v1-mistyped": ["INV-8", "INV-6"],
    "oversized-body": ["INV-6", "LIMIT-2"],
    "wrong-method": ["INV-6", "ROLE-1"],
    "primary-key": ["KEY-3"],
    "fallback-key": ["KEY-2"],
    "discovery": ["DISC-2"],
    "first-memo": ["REPLAY-5"],
    # engine side (the fake app checks the engine)
    "engine-sync": ["API-6"],
    "engine-invoke": ["INV-1"],
    "engine-event": ["EVT-2"],
    "engine-request-signature": ["SIG-1", "SIG-13"],
    "engine-request-signature-v2": ["SIG-9", "MAN-5"],
    "engine-manifest-request": ["SIG-5", "SIG-6"],
    "engine-invoke-schema": ["INV-1"],
    "engine-memo": ["REPLAY-7"],
    "engine-retries": ["RETRY-1", "RETRY-2"],
    "engine-backoff": ["RETRY-4"],
    "engine-garbage-answer": ["RETRY-3", "OP-10"],
    "engine-status": ["STATUS-1", "RETRY-5"],
    "engine-timer": ["OP-5"],
    "engine-rotation": ["KEY-1", "KEY-2", "KEY-5"],
    "engine-v1-app": ["VER-3", "MAN-2", "MINOR-1"],
    "engine-failure-handler": ["FAIL-1", "FAIL-2", "FAIL-3", "FAIL-5"],
    "engine-wait": ["OP-6", "MATCH-2"],
    "engine-send-event": ["OP-4"],
    "engine-api-routing": ["API-4", "API-2"],
    "engine-admin-auth": ["ADMIN-1"],
    "engine-admin-keys": ["ADMIN-3"],
}


def ids(check: str) -> list[str]:
    return list(CHECKS.get(check, []))
