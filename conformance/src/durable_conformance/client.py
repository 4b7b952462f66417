"""A minimal HTTP client with exact control over bytes and headers (stdlib only)."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    error: str | None = None  # transport failure: no HTTP answer at all

    def json(self) -> Any:
        return json.loads(self.body)

    def text(self, limit: int = 200) -> str:
        return self.body[:limit].decode("utf-8", errors="replace")


def call(
    url: str,
    method: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Reply:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        try:
            conn.request(method, path, body=body, headers=headers or {})
        except (BrokenPipeError, ConnectionResetError):
            # The app may answer (413) and close before reading a large body.
            pass
        response = conn.getresponse()
        data = response.read()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, data
        )
    except (OSError, http.client.HTTPException) as error:
        return Reply(0, {}, b"", error=f"{type(error).__name__}: {error}")
    finally:
        conn.close()
