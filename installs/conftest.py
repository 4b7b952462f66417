"""Builds every package once and starts one engine from the engine's wheel for all tests.

Everything happens in a temporary directory outside the repository: the packages are
built (`python -m build`, `npm pack`), installed the way each ecosystem installs them, and
the engine is started with the README's one line (`pipx run --spec <wheel> durable`), in dev
mode, looking for one app per SDK install at the ports chosen here.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ("python-wheel", "python-sdist", "ts", "php")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 300) -> str:
    """Run a command; its output is the failure message when it fails."""
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, timeout=timeout,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {done.returncode}\n"
                    f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done.stdout


@dataclass
class Process:
    """A background process whose output goes to a log file (read back on failure)."""

    args: list[str]
    log: Path
    cwd: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.args, cwd=self.cwd, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class Engine:
    """The engine started from its wheel; `cli(...)` runs `durable` from the same wheel."""

    url: str
    wheel: Path
    env: dict[str, str]
    process: Process
    app_urls: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str, app: dict[str, str] | None = None) -> Any:
        env = dict(self.env, DURABLE_URL=self.url)
        if app is not None:
            env.update(DURABLE_APP_ID=app["id"], DURABLE_SIGNING_KEY=app["key"])
        out = run(sys.executable, "-m", "pipx", "run", "--spec", self.wheel, "durable", "--json",
                  *args, env=env, timeout=120)
        return json.loads(out)

    def dev_app(self, url: str, key: str, timeout: float = 60) -> dict[str, str]:
        """The dev workspace the engine made for the app at `url` when it discovered it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for found in self.cli("apps", "list")["apps"]:
                if found["appUrl"] == url:
                    return {"id": found["id"], "key": key}
            time.sleep(0.5)
        pytest.fail(f"the engine did not discover {url}:\n{self.process.output()[-3000:]}")

    def wait_run(self, app: dict[str, str], run_id: str, status: str,
                 timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        run_: dict[str, Any] = {}
        while time.monotonic() < deadline:
            run_ = self.cli("runs", "get", run_id, app=app)
            if run_["status"] == status:
                return run_
            if run_["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.5)
        pytest.fail(f"run {run_id} is {run_.get('status')}, not {status}: {run_}\n"
                    f"{self.process.output()[-3000:]}")


@pytest.fixture(scope="session")
def work() -> Iterator[Path]:
    """A directory of our own: pytest's shared temp root prunes old runs' directories, which
    would pull the engine's venv (and its Postgres) away under a concurrent pytest run."""
    path = Path(tempfile.mkdtemp(prefix="durable-installs-"))
    assert ROOT not in path.parents, "installs must happen outside the repository"
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def dist(work: Path) -> Path:
    """Wheel and sdist of the engine and of the Python SDK, and the TypeScript tarball."""
    out = work / "dist"
    out.mkdir()
    for project in ("reference", "sdks/python"):
        run(sys.executable, "-m", "build", "--outdir", out, ROOT / project)
    run("npm", "pack", "--pack-destination", out, cwd=ROOT / "sdks" / "ts")
    return out


def one(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    assert len(found) == 1, f"{pattern}: {found}"
    return found[0]


@pytest.fixture(scope="session")
def app_ports() -> dict[str, int]:
    return {name: free_port() for name in APPS}


@pytest.fixture(scope="session")
def engine(work: Path, dist: Path, app_ports: dict[str, int]) -> Iterator[Engine]:
    if shutil.which("pipx") is None and subprocess.run(
            [sys.executable, "-m", "pipx", "--version"], capture_output=True).returncode != 0:
        pytest.fail("pipx is not installed (nox -s packaging installs it)")
    wheel = one(dist, "durable_engine-*.whl")
    port = free_port()
    app_urls = {name: f"http://127.0.0.1:{p}/api/durable" for name, p in app_ports.items()}
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DURABLE_", "PIPX_", "VIRTUAL_ENV"))}
    env.update(PIPX_HOME=str(work / "pipx"), PIPX_BIN_DIR=str(work / "pipx" / "bin"),
               HOME=str(work / "home"))
    (work / "home").mkdir()
    engine_env = dict(env, DURABLE_DEV_APP_URL=",".join(app_urls.values()))
    # The README's line, with a data directory and ports of its own.
    process = Process([sys.executable, "-m", "pipx", "run", "--spec", str(wheel), "durable",
                       "--pgdata", str(work / "pgdata"), "--pg-port", str(free_port()),
                       "--port", str(port)], work / "engine.log", work, engine_env).start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert process.proc is not None
            if process.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"engine did not start:\n{process.output()[-4000:]}")
            time.sleep(0.5)
        yield Engine(url, wheel, env, process, app_urls)
    finally:
        process.stop()


def new_key() -> str:
    return secrets.token_urlsafe(32)
