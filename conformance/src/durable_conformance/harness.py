"""Harness protocol v1: how the runner starts an implementation's conformance app.

`conformance/harnesses/<target>.json`:

    {"harness": 1, "kind": "sdk", "start": ["sdks/python/conformance/start"],
     "cwd": ".", "env": {}, "path": "/api/durable", "readyTimeoutSeconds": 60,
     "expectedGaps": {"requirements": {"ID": "reason"}, "cases": {"case-id": "reason"},
                      "functions": {"catalog-function-id": "reason"}}}

The runner sets PORT, DURABLE_SIGNING_KEY, DURABLE_APP_ID and, per case group,
DURABLE_SIGNING_KEY_FALLBACK, DURABLE_CAPABILITIES=none or DURABLE_DEV=1 with
DURABLE_APP_NAME (dev mode: the app answers dev discovery); the app is ready when
`GET <path>` answers anything over HTTP.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import HARNESS_PROTOCOL
from .paths import conformance_dir, repo_root, reports_dir

DEFAULT_APP_ID = "conformance-app"
# The app name a dev-mode app is started with (DURABLE_APP_NAME); discovery must echo it.
DEV_APP_NAME = "conformance-dev-app"


class HarnessError(RuntimeError):
    """The implementation could not be started (not a conformance failure of a case)."""


@dataclass
class Harness:
    target: str
    kind: str
    start: list[str]
    cwd: Path
    env: dict[str, str]
    path: str
    ready_timeout: float
    stop_timeout: float = 10.0
    expected_requirements: dict[str, str] = field(default_factory=dict)
    expected_cases: dict[str, str] = field(default_factory=dict)
    expected_functions: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, target: str) -> Harness:
        """A target name (conformance/harnesses/<name>.json) or a harness file's path."""
        path = conformance_dir() / "harnesses" / f"{target}.json"
        if target.endswith(".json"):
            path = Path(target).resolve()
            target = path.stem
        if not path.is_file():
            raise HarnessError(f"no harness file {path}")
        data = json.loads(path.read_text())
        version = data.get("harness")
        if version != HARNESS_PROTOCOL:
            raise HarnessError(
                f"{path}: harness protocol {version!r}, runner speaks {HARNESS_PROTOCOL}"
            )
        gaps = data.get("expectedGaps", {})
        return cls(
            target=target,
            kind=data.get("kind", "sdk"),
            start=list(data.get("start", [])),
            cwd=(repo_root() / data.get("cwd", ".")).resolve(),
            env={str(k): str(v) for k, v in data.get("env", {}).items()},
            path=data.get("path", "/api/durable"),
            ready_timeout=float(data.get("readyTimeoutSeconds", 60)),
            stop_timeout=float(data.get("stopTimeoutSeconds", 10)),
            expected_requirements=dict(gaps.get("requirements", {})),
            expected_cases=dict(gaps.get("cases", {})),
            expected_functions=dict(gaps.get("functions", {})),
            raw=data,
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningApp:
    """One started conformance app; `url` is its endpoint."""

    harness: Harness
    port: int
    key: str
    fallback: str | None
    capabilities_none: bool
    process: subprocess.Popen[bytes]
    log_path: Path
    scratch: str | None = None
    dev: bool = False
    app_id: str = DEFAULT_APP_ID
    app_name: str | None = None
    # The start command's placeholder values ({port}, {tmp}, {free_port}, {grpc_port}).
    values: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.harness.path}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        try:
            self._stop()
        finally:
            if self.scratch:
                shutil.rmtree(self.scratch, ignore_errors=True)

    def _stop(self) -> None:
        if self.process.poll() is not None:
            return
        # The app may spawn children (npm, php -S): signal its own process group only.
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        wait_or_kill(self.process, self.harness.stop_timeout)


def wait_or_kill(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for a process asked to stop; past `timeout`, SIGKILL its whole process group
    (an app or driver may have spawned children: npm, php -S)."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=5)


_counter = 0


def resolve_command(command: list[str], what: str) -> list[str]:
    """A harness command whose first word is a file of this repository (made absolute;
    it must be executable) or a program on PATH."""
    executable = command[0]
    candidate = repo_root() / executable
    if candidate.exists():
        if not os.access(candidate, os.X_OK):
            raise HarnessError(f"{what} {candidate} is not executable (chmod +x)")
        return [str(candidate), *command[1:]]
    if shutil.which(executable) is None:
        raise HarnessError(f"{what} {executable!r} not found (is the harness written?)")
    return list(command)


def start_app(
    harness: Harness,
    *,
    key: str,
    fallback: str | None = None,
    capabilities_none: bool = False,
    dev: bool = False,
    app_id: str = DEFAULT_APP_ID,
    capabilities: str | None = None,
) -> RunningApp:
    global _counter
    if not harness.start:
        raise HarnessError(f"harness {harness.target}: no start command")
    # Placeholders let an engine harness take its port and a scratch folder as arguments.
    scratch = tempfile.mkdtemp(prefix=f"durable-conf-{harness.target}-")
    values = {"port": str(port := free_port()), "tmp": scratch, "free_port": str(free_port()),
              "grpc_port": str(free_port())}
    command = resolve_command(
        [arg.format(**values) if "{" in arg else arg for arg in harness.start], "start command")
    env = dict(os.environ)
    env.update(harness.env)
    # Lets a Python start script use the runner's interpreter (the nox session's venv).
    env["DURABLE_CONFORMANCE_PYTHON"] = sys.executable
    env.update({"PORT": str(port), "DURABLE_SIGNING_KEY": key, "DURABLE_APP_ID": app_id})
    env.pop("DURABLE_SIGNING_KEY_FALLBACK", None)
    env.pop("DURABLE_CAPABILITIES", None)
    # Dev mode only when asked: a DURABLE_DEV left in the runner's environment must not
    # turn the ordinary apps into ones that hand out their key.
    env.pop("DURABLE_DEV", None)
    env.pop("DURABLE_APP_NAME", None)
    if fallback is not None:
        env["DURABLE_SIGNING_KEY_FALLBACK"] = fallback
    if capabilities_none:
        env["DURABLE_CAPABILITIES"] = "none"
    elif capabilities is not None:
        env["DURABLE_CAPABILITIES"] = capabilities
    app_name = DEV_APP_NAME if dev else None
    if dev:
        env["DURABLE_DEV"] = "1"
        env["DURABLE_APP_NAME"] = DEV_APP_NAME
    logs = reports_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    _counter += 1
    # The pid keeps logs of runs at the same time in one checkout apart.
    log_path = logs / f"{harness.target}-{os.getpid()}-{_counter}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        command, cwd=harness.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    log.close()
    app = RunningApp(harness, port, key, fallback, capabilities_none, process, log_path, scratch,
                     dev=dev, app_id=app_id, app_name=app_name, values=values)
    deadline = time.monotonic() + harness.ready_timeout
    while True:
        if process.poll() is not None:
            shutil.rmtree(scratch, ignore_errors=True)
            raise HarnessError(
                f"{harness.target} app exited with {process.returncode} before it was ready;"
                f" log {log_path}:\n{app.log_tail()}"
            )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", harness.path)
            conn.getresponse().read()
            conn.close()
            return app
        except OSError:
            pass
        if time.monotonic() > deadline:
            app.stop()
            raise HarnessError(
                f"{harness.target} app not ready on port {port} after {harness.ready_timeout:.0f}s;"
                f" log {log_path}:\n{app.log_tail()}"
            )
        time.sleep(0.1)
