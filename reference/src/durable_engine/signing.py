"""HMAC-SHA256 signatures for every hop (protocol v1, and v2 per decision 0001)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence

V2_WINDOW_MS = 300_000
_SIGNATURE = re.compile(r"[0-9a-f]{64}")  # [SIG-2]: lowercase only
_TIMESTAMP = re.compile(r"[0-9]+")  # [SIG-6]: ASCII digits, no sign, no spaces


def sign(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def sign_v2(key: str, timestamp: str, body: bytes) -> str:
    return sign(key, timestamp.encode() + b"." + body)


def well_formed(signature: str) -> bool:
    return _SIGNATURE.fullmatch(signature) is not None


def matches_any(keys: Sequence[str], message: bytes, signature: str) -> bool:
    if not well_formed(signature):
        return False
    # Compare against every key, even after a match, so timing does not reveal which key.
    results = [hmac.compare_digest(sign(key, message), signature) for key in keys]
    return any(results)


def verify_api_request(
    keys: Sequence[str], headers: Mapping[str, str], body: bytes, now_ms: int
) -> str | None:
    """Verify an app→engine call. Returns None when valid, else the reason."""
    v2 = headers.get("X-Durable-Signature-V2")
    timestamp = headers.get("X-Durable-Timestamp")
    if v2 is not None:
        # [SIG-11]: a present V2 is the signature; v1 is ignored, never a fallback.
        if timestamp is None:
            return "missing X-Durable-Timestamp"
        if not _TIMESTAMP.fullmatch(timestamp):
            return "X-Durable-Timestamp is not unix milliseconds"
        if abs(now_ms - int(timestamp)) > V2_WINDOW_MS:
            return "X-Durable-Timestamp is outside the 300000 ms window"
        if not matches_any(keys, timestamp.encode() + b"." + body, v2):
            return "invalid X-Durable-Signature-V2"
        return None
    v1 = headers.get("X-Durable-Signature")
    if v1 is None:
        return "missing X-Durable-Signature"
    if not matches_any(keys, body, v1):
        return "invalid X-Durable-Signature"
    return None


def verify_grpc_call(keys: Sequence[str], timestamp: str | None, signature: str | None,
                     method: str, payload: bytes, now_ms: int) -> str | None:
    """[GRPC-4]: the signature over `timestamp.method.payload`, the timestamp within the
    window. None when valid, else the reason."""
    if timestamp is None:
        return "missing x-durable-timestamp"
    if not _TIMESTAMP.fullmatch(timestamp):
        return "x-durable-timestamp is not unix milliseconds"
    if abs(now_ms - int(timestamp)) > V2_WINDOW_MS:
        return "x-durable-timestamp is outside the 300000 ms window"
    if signature is None:
        return "missing x-durable-signature"
    if not matches_any(keys, f"{timestamp}.{method}.".encode() + payload, signature):
        return "invalid signature"
    return None
