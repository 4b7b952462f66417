"""HMAC-SHA256 signing as the wire protocol defines it (v1 body, v2 timestamp + body)."""

from __future__ import annotations

import hashlib
import hmac
import time

SIG = "x-durable-signature"
SIG_V2 = "x-durable-signature-v2"
TIMESTAMP = "x-durable-timestamp"


def mac(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def v2_input(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode() + b"." + body


def now_ms() -> int:
    return int(time.time() * 1000)


def matches(expected: str, actual: str | None) -> bool:
    return actual is not None and hmac.compare_digest(expected, actual)


def invoke_headers(
    key: str, body: bytes, *, v2: bool, timestamp: int | None = None
) -> dict[str, str]:
    """Headers the engine sends on a POST invoke: v1 always, v2 for capable apps."""
    headers = {"content-type": "application/json", SIG: mac(key, body)}
    if v2:
        stamp = str(timestamp if timestamp is not None else now_ms())
        headers[TIMESTAMP] = stamp
        headers[SIG_V2] = mac(key, v2_input(stamp, body))
    return headers


def manifest_headers(key: str, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else now_ms())
    return {TIMESTAMP: stamp, SIG: mac(key, stamp.encode())}
