"""schemathesis hook module (SCHEMATHESIS_HOOKS=durable_fuzz.hooks).

Two halves, because the signature covers the exact bytes sent, which exist only after
schemathesis serializes the case:
- an auth provider puts X-Durable-App and a placeholder signature (or the admin bearer token)
  on the case, so schemathesis knows the credentials and can remove or spoil them in its
  auth probes (ignored_auth, missing_required_header);
- a requests auth, attached in before_call, swaps the placeholder for the HMAC of the
  prepared body. A request whose credentials were removed or spoiled goes out as it is.
"""

from __future__ import annotations

from typing import Any

import schemathesis

from .signing import PLACEHOLDER, Credentials

_credentials: Credentials | None = None


def credentials() -> Credentials:
    global _credentials
    if _credentials is None:
        _credentials = Credentials.from_env()
    return _credentials


@schemathesis.auth()
class DurableAuth:
    def get(self, case: Any, ctx: Any) -> Credentials:
        return credentials()

    def set(self, case: Any, data: Credentials, ctx: Any) -> None:
        case.headers = dict(case.headers or {})
        if case.operation.path.startswith("/api/apps"):
            case.headers["Authorization"] = f"Bearer {data.admin_token}"
            return
        for name in ("X-Durable-Timestamp", "X-Durable-Signature-V2"):
            case.headers.pop(name, None)
        case.headers["X-Durable-App"] = data.app_id
        case.headers["X-Durable-Signature"] = PLACEHOLDER


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    kwargs["auth"] = credentials()
