"""An app's manifest ([MAN-1..6], [DISC-1..3]) read once into typed values: what the engine
keeps of it (capabilities, maxRequestBytes, sdkVersion) and what discovery needs (signing
key, app id and name, function definitions). Values out of range fall back to defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .context import DEFAULT_MAX_REQUEST_BYTES

MIN_REQUEST_BYTES = 65_536


@dataclass(frozen=True)
class Manifest:
    capabilities: list[str] = field(default_factory=list)
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    sdk_version: str | None = None
    signing_key: str | None = None  # discovery only ([DISC-2])
    app_id: str | None = None
    app_name: str | None = None
    functions: list[Any] | None = None  # None: absent or not a list


def parse_manifest(value: Any) -> Manifest | None:
    """A manifest from its parsed JSON; None when it is not an object."""
    if not isinstance(value, dict):
        return None
    capabilities = value.get("capabilities", [])
    caps = [c for c in capabilities if isinstance(c, str)] \
        if isinstance(capabilities, list) else []
    max_bytes = value.get("maxRequestBytes")
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or \
            not MIN_REQUEST_BYTES <= max_bytes < 2**31:
        max_bytes = DEFAULT_MAX_REQUEST_BYTES
    functions = value.get("functions", [])

    def text(name: str) -> str | None:
        found = value.get(name)
        return found if isinstance(found, str) else None

    app_id = text("appId") or None
    return Manifest(caps, max_bytes, text("sdkVersion"), text("signingKey"), app_id,
                    text("appName"), functions if isinstance(functions, list) else None)
