"""Credentials for fuzzed requests: the engine API's HMAC signature over the exact bytes sent,
and the admin bearer token for /api/apps. Configured through the environment so the
schemathesis CLI (a separate process) can load them as a hook module."""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

import requests

APP_ENV, KEY_ENV, ADMIN_ENV = "DURABLE_FUZZ_APP", "DURABLE_FUZZ_KEY", "DURABLE_FUZZ_ADMIN"
# Set by the auth provider; replaced by the real HMAC once the body is serialized.
PLACEHOLDER = "sign-me"


def sign(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


class Credentials(requests.auth.AuthBase):
    """Applied by requests to the prepared request, so `r.body` is what goes on the wire."""

    def __init__(self, app_id: str, key: str, admin_token: str) -> None:
        self.app_id, self.key, self.admin_token = app_id, key, admin_token

    @classmethod
    def from_env(cls) -> Credentials:
        return cls(os.environ[APP_ENV], os.environ[KEY_ENV], os.environ[ADMIN_ENV])

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if r.headers.get("X-Durable-Signature") != PLACEHOLDER:
            return r  # no credentials, or credentials spoiled on purpose by an auth probe
        body: Any = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        if isinstance(body, bytes):
            r.headers["X-Durable-Signature"] = sign(self.key, body)
        return r
