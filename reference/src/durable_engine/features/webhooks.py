"""Webhook ingest ([HOOK-1..5]): tokens, the sender's signature check and the JMESPath
transform from a request to an event. Pure functions; storage is the service's job.

A transform is a JMESPath expression (a query language with a specification: no code runs,
never `eval`) over `{"body", "headers" (lowercase names), "query"}`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from ..validation import Invalid, TooLarge, load_json, reject_nul, validate_request, validate_schema

TOKEN_BYTES = 32  # [HOOK-1]: at least 32 random bytes; 43 URL-safe characters
STRIPE_TOLERANCE_S = 300
PRESET_HEADERS = {"github": "x-hub-signature-256", "stripe": "stripe-signature"}


class Refused(Exception):
    """A delivery the engine refuses: an API code, a message, and the JSON pointer if any."""

    def __init__(self, code: str, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What the engine looks tokens up by: a digest, so that how long an index lookup takes
    says nothing about the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def compile_transform(expression: str) -> Any:
    """The parsed expression, or Invalid at /transform ([HOOK-1])."""
    try:
        return jmespath.compile(expression)
    except JMESPathError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "syntax error"
        raise Invalid("/transform", f"not a JMESPath expression: {first}") from None
    except (ValueError, TypeError, RecursionError):
        raise Invalid("/transform", "not a JMESPath expression") from None


def _hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.strip().lower().encode(), expected.encode())


@dataclass(frozen=True)
class Signature:
    preset: str
    secret: str
    header: str | None = None


def verify_signature(signature: Signature, headers: dict[str, str], body: bytes,
                     now_s: float) -> None:
    """[HOOK-2] on the raw body, before parsing it; Refused(INVALID_SIGNATURE) when it fails.
    `headers` has lowercase names."""
    if signature.preset == "stripe":
        _verify_stripe(signature.secret, headers.get("stripe-signature"), body, now_s)
        return
    name = (PRESET_HEADERS.get(signature.preset) or signature.header or "").lower()
    given = headers.get(name)
    if given is None:
        raise Refused("INVALID_SIGNATURE", f"missing signature header {name}")
    expected = _hex_hmac(signature.secret, body)
    if signature.preset == "github":
        if not given.startswith("sha256="):
            raise Refused("INVALID_SIGNATURE", f"{name} must be sha256=<hex>")
        given = given[len("sha256="):]
    if not _same(given, expected):
        raise Refused("INVALID_SIGNATURE", f"{name} does not match the body")


def _verify_stripe(secret: str, header: str | None, body: bytes, now_s: float) -> None:
    if header is None:
        raise Refused("INVALID_SIGNATURE", "missing signature header stripe-signature")
    stamp: str | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            stamp = value
        elif key == "v1":
            candidates.append(value)
    if stamp is None or not stamp.isdigit() or not candidates:
        raise Refused("INVALID_SIGNATURE", "stripe-signature must hold t=<unix s> and v1=<hex>")
    if abs(now_s - int(stamp)) > STRIPE_TOLERANCE_S:
        raise Refused("INVALID_SIGNATURE", f"stripe-signature timestamp is more than "
                      f"{STRIPE_TOLERANCE_S} s away from the engine's clock")
    expected = _hex_hmac(secret, stamp.encode() + b"." + body)
    # Every candidate is compared (no early exit on the first), each in constant time.
    matches = [_same(candidate, expected) for candidate in candidates]
    if not any(matches):
        raise Refused("INVALID_SIGNATURE", "stripe-signature does not match the body")


def parse_body(body: bytes) -> Any:
    """[HOOK-3]: the body must be JSON (INVALID_JSON)."""
    try:
        value = load_json(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused("INVALID_JSON", "request body is not valid JSON") from None
    try:
        reject_nul(value)
    except Invalid as error:
        raise Refused("INVALID_JSON", error.message, error.path) from None
    return value


def to_event(transform: str, body: Any, headers: dict[str, str],
             query: dict[str, str]) -> dict[str, Any]:
    """[HOOK-3]: evaluate the transform and check that its result is an event input as /e
    takes it ([EVT-2]); Refused(INVALID_REQUEST) with the reason otherwise."""
    document = {"body": body, "headers": {k.lower(): v for k, v in headers.items()},
                "query": query}
    try:
        result = compile_transform(transform).search(document)
    except Invalid as error:
        raise Refused("INVALID_REQUEST", error.message, error.path) from None
    except Exception as error:  # noqa: BLE001 - any failure of the query on this input
        # (a type error of a JMESPath function, a recursion too deep...) is the request's
        # fault as far as the sender is concerned: a 400 with the reason, never a 500.
        reason = str(error).strip().replace("\x00", "\\u0000")[:500] or type(error).__name__
        raise Refused("INVALID_REQUEST", f"the transform failed: {reason}") from None
    if not isinstance(result, dict):
        kind = "null" if result is None else type(result).__name__
        raise Refused("INVALID_REQUEST", f"the transform gave {kind}, not an event object "
                      "like {name, data, id?}")
    try:
        reject_nul(result)
        event = validate_request("/e", result)
        validate_schema("event-input", result)
    except TooLarge as error:
        raise Refused("PAYLOAD_TOO_LARGE", f"the event: {error.message}", error.path) from None
    except Invalid as error:
        raise Refused("INVALID_REQUEST", f"the transform's event is not valid: "
                      f"{error.path or '/'} {error.message}", error.path) from None
    return event
