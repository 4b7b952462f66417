"""HMAC-SHA256 signatures of every hop (lowercase hex, 64 characters).

v1 signs the raw body (POST) or the timestamp string (GET). v2 signs
`timestamp + "." + body` and is bound to a unix-millisecond timestamp within a window.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from ._protocol import SIGNATURE_WINDOW_MS

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,16}")


def sign(key: str | bytes, message: bytes) -> str:
    secret = key.encode() if isinstance(key, str) else key
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def v2_message(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode() + b"." + body


def sign_v2(key: str | bytes, timestamp: str, body: bytes) -> str:
    return sign(key, v2_message(timestamp, body))


def verify(keys: Iterable[str | bytes], message: bytes, signature: str | None) -> bool:
    """True when `signature` is the MAC of `message` under any of `keys` (constant time)."""
    if not isinstance(signature, str) or _HEX64.fullmatch(signature) is None:
        return False
    matched = False
    for key in keys:
        # Every key is tried so the time taken does not tell which one matched.
        matched |= hmac.compare_digest(sign(key, message), signature)
    return matched


def fresh(timestamp: str | None, now_ms: float, window_ms: int = SIGNATURE_WINDOW_MS) -> bool:
    """True when `timestamp` is decimal unix milliseconds within `window_ms` of `now_ms`."""
    if not isinstance(timestamp, str) or _TIMESTAMP.fullmatch(timestamp) is None:
        return False
    return abs(now_ms - int(timestamp)) <= window_ms
