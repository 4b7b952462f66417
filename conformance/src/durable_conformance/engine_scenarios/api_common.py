"""Shared by the engine API scenarios: signed sync bodies, error bodies, instants and
polling.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import signing
from ..client import Reply
from ..fake_app import Answer
from ..results import Result
from .workspace import Workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite


SDK_VERSION = "conformance/1.0.0"


# A valid definition placed before the one under test, so the error path's index is checked.
FIRST = {"id": "conf-first", "trigger": {"event": "conf.api.never"}}


def iso(ms: int) -> str:
    stamp = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso_ms(text: Any) -> int | None:
    try:
        return int(datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def in_ms(ms: int) -> str:
    return iso(signing.now_ms() + ms)


def error_of(reply: Reply) -> tuple[str | None, str | None]:
    """(error.code, error.path) of an engine error answer, (None, None) when it has none."""
    try:
        error = reply.json().get("error")
    except (ValueError, AttributeError):
        return None, None
    if not isinstance(error, dict):
        return None, None
    return error.get("code"), error.get("path")


def seen(reply: Reply) -> str:
    return f"{reply.status} {reply.text(160)!r}"


def sync_body(functions: list[Any], **extra: Any) -> dict[str, Any]:
    return {"sdkVersion": SDK_VERSION, "functions": functions, **extra}


def definitions_of(ws: Workspace, **changes: dict[str, Any]) -> list[dict[str, Any]]:
    """The fake app's definitions, with members changed per runtime id."""
    out = []
    for definition in ws.app.definitions():
        runtime = f"{definition['id']}@{definition['version']}" if definition.get(
            "version") else definition["id"]
        out.append({**definition, **changes.get(runtime, {})})
    return out


def wait_until(check: Callable[[], Any], timeout_s: float, every_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every_s)


def skipped(suite: EngineSuite, result: Result) -> bool:
    """A case the harness leaves out ("skipCases": {"case-id": "reason"}) is skipped."""
    reason = suite.harness.raw.get("skipCases", {}).get(result.case)
    if reason is not None:
        result.skip(str(reason))
    return reason is not None


def done(request: dict[str, Any]) -> Answer:
    return Answer(op={"op": "done", "data": {"runId": request.get("runId")}})
