"""A fresh fake app registered as its own workspace of the engine under test."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import signing
from ..client import Reply, call
from ..fake_app import TERMINAL, FakeApp, Received, Script

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite


class WorkspaceError(Exception):
    """The workspace could not be set up (registration or sync refused)."""


@dataclass
class Workspace:
    suite: EngineSuite
    app: FakeApp
    app_id: str

    @property
    def base(self) -> str:
        return self.suite.base

    def post(self, path: str, payload: Any, headers: dict[str, str] | None = None,
             key: str | None = None) -> Reply:
        """A signed engine API call (`key`, default the app's key) over the suite's transport;
        with `headers` or a bytes payload an HTTP request exactly as given (v1-signed unless
        `headers` replace the signature)."""
        if headers is None and not isinstance(payload, bytes):
            return self.suite.api_reply(self.app_id, key or self.app.key, path, payload)
        body = payload if isinstance(payload, bytes) else json.dumps(
            payload, separators=(",", ":")).encode()
        sent = {"content-type": "application/json", "x-durable-app": self.app_id,
                signing.SIG: signing.mac(key or self.app.key, body), **(headers or {})}
        return call(self.base + path, "POST", body, sent)

    def api(self, path: str, payload: Any) -> tuple[int, Any]:
        reply = self.post(path, payload)
        try:
            return reply.status, reply.json()
        except ValueError:
            return reply.status, reply.text()

    def admin(self, method: str, path: str, payload: Any = None) -> Reply:
        return self.suite.admin_reply(method, path, payload)

    def sync(self) -> tuple[int, Any]:
        return self.api("/fn/sync", self.app.manifest())

    def send(self, name: str, data: Any, event_id: str | None = None) -> tuple[int, Any]:
        event_id = event_id or f"conf-{name}-{secrets.token_hex(6)}"
        return self.api("/e", {"id": event_id, "name": name, "data": data})

    def run(self, run_id: str) -> dict[str, Any] | None:
        code, answer = self.api("/runs/get", {"runId": run_id})
        if code != 200 or not isinstance(answer, dict):
            return None
        run = answer.get("run", answer)
        return run if isinstance(run, dict) else None

    def wait_run(self, run_id: str, statuses: set[str] | None = None,
                 timeout_s: float = 30.0) -> dict[str, Any] | None:
        """The run once its status is in `statuses` (default: terminal), else its last
        seen state (check the status yourself)."""
        wanted = statuses or TERMINAL
        deadline = time.monotonic() + timeout_s
        run = None
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run is not None and run.get("status") in wanted:
                return run
            time.sleep(0.1)
        return run

    def runs(self, function_id: str | None = None, status: str | None = None
             ) -> list[dict[str, Any]]:
        """Every run of the workspace (all pages), newest first."""
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            request: dict[str, Any] = {"limit": 100}
            if function_id:
                request["functionId"] = function_id
            if status:
                request["status"] = status
            if cursor:
                request["cursor"] = cursor
            code, answer = self.api("/runs/search", request)
            if code != 200 or not isinstance(answer, dict):
                return found
            found += answer.get("runs", [])
            cursor = answer.get("nextCursor")
            if not cursor:
                return found

    def invokes(self, function_id: str) -> list[Received]:
        return self.app.invokes(function_id)

    def history(self, run_id: str) -> list[dict[str, Any]] | None:
        """Every attempt /runs/history lists for the run (all pages), or None if refused."""
        attempts: list[dict[str, Any]] = []
        cursor = None
        while True:
            request: dict[str, Any] = {"runId": run_id, "limit": 1000}
            if cursor:
                request["cursor"] = cursor
            code, answer = self.api("/runs/history", request)
            if code != 200 or not isinstance(answer, dict):
                return None
            attempts += answer.get("attempts", [])
            cursor = answer.get("nextCursor")
            if not cursor:
                return attempts

    def failure_of(self, run_id: str) -> dict[str, Any] | None:
        """The /failures/search entry of a failed run (its last failed invocation)."""
        code, answer = self.api("/failures/search", {"limit": 100})
        if code != 200 or not isinstance(answer, dict):
            return None
        return next((f for f in answer.get("failures", []) if f.get("runId") == run_id), None)

    def take_offline(self) -> None:
        """Stop the fake app: the engine's next invocation finds the port closed."""
        self.app.stop()
        self.app._loop = None
        self.app._thread = None


@contextmanager
def workspace(suite: EngineSuite, scripts: dict[str, tuple[dict[str, Any], Script]],
              capabilities: list[str] | None = None, max_request_bytes: int = 1_048_576,
              sync: bool = True, app_type: type[FakeApp] = FakeApp) -> Iterator[Workspace]:
    """Start a fake app serving `scripts` (runtime id -> (definition members, script)),
    register it as a new workspace and (by default) sync its functions. Definition
    members override the defaults, e.g. {"trigger": {"event": "x"}, "concurrency": ...};
    without a trigger a function is triggered by `conf.fake.<id>`. `app_type` may be a
    FakeApp subclass that answers in ways a script cannot (e.g. unsigned)."""
    app = app_type(scripts=scripts, max_request_bytes=max_request_bytes,
                   capabilities=["timestamped-signatures"] if capabilities is None
                   else capabilities)
    app.start()
    try:
        payload = {"name": "conformance-" + secrets.token_hex(6), "environment": "dev",
                   "appUrl": app.url}
        reply = suite.admin_reply("POST", "/api/apps", payload)
        try:
            created = reply.json()
            app_id, app.key = created["id"], created["key"]
        except (ValueError, KeyError, TypeError) as error:
            raise WorkspaceError(f"POST /api/apps answered {reply.status}:"
                                 f" {reply.text()!r}") from error
        space = Workspace(suite, app, app_id)
        if sync:
            code, answer = space.sync()
            if code != 200:
                raise WorkspaceError(f"/fn/sync answered {code}: {answer!r}")
        yield space
    finally:
        app.stop()
