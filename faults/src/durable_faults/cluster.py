"""The parts under test: one Postgres and engine processes started through the `durable` CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from durable_engine.pg import EmbeddedPostgres

ADMIN_TOKEN = "faults-admin-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


class Postgres:
    """The embedded cluster (restartable) or an external DATABASE_URL (not restartable).

    Either way the suite works in a fresh database of its own, dropped at the end."""

    def __init__(self, base: Path, external_url: str | None) -> None:
        self.external_url = external_url
        self.embedded: EmbeddedPostgres | None = None
        if external_url is None:
            self.embedded = EmbeddedPostgres(base / "pgdata", free_port())
        self.name = f"faults_{uuid.uuid4().hex[:10]}"
        self.restarts = 0

    @property
    def server_url(self) -> str:
        if self.embedded is not None:
            return self.embedded.url
        assert self.external_url is not None
        return self.external_url

    @property
    def url(self) -> str:
        return with_database(self.server_url, self.name)

    @property
    def restartable(self) -> bool:
        return self.embedded is not None

    def start(self) -> None:
        if self.embedded is not None:
            self.embedded.start()
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def restart(self, down_s: float) -> None:
        """pg_ctl stop -m fast, stay down a moment, start again: every connection breaks."""
        assert self.embedded is not None
        self.embedded.stop()
        time.sleep(down_s)
        self.embedded.start()
        self.restarts += 1

    def close(self) -> None:
        try:
            with psycopg.connect(self.server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except psycopg.Error:
            pass
        if self.embedded is not None:
            self.embedded.stop()


def durable_cli(*args: str) -> list[str]:
    """The engine's console script, run with this interpreter (the nox venv's)."""
    return [sys.executable, "-m", "durable_engine.cli", *args]


def engine_env(url: str) -> dict[str, str]:
    """The environment of an engine process on `url`. Behind PgBouncer (DURABLE_DIRECT_URL
    set, e.g. by `python -m bench.pgbouncer`) the direct URL names the same database."""
    env = dict(os.environ)
    if env.get("DURABLE_DIRECT_URL"):
        env["DURABLE_DIRECT_URL"] = with_database(env["DURABLE_DIRECT_URL"],
                                                  urlsplit(url).path.lstrip("/"))
    return env


def migrate(url: str, log: Path) -> None:
    with log.open("ab") as out:
        subprocess.run(durable_cli("migrate", "--database-url", url), check=True,
                       stdout=out, stderr=subprocess.STDOUT, timeout=120,
                       env=engine_env(url))


@dataclass
class EngineProcess:
    """One `durable serve` (API + workers) or `durable worker` process, restartable."""

    role: str  # serve | worker
    database_url: str
    log: Path
    slots: int = 8
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    unexpected_exits: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**engine_env(self.database_url), "DURABLE_ADMIN_TOKEN": ADMIN_TOKEN,
               "DURABLE_LOG": "WARNING"}
        args = [self.role, "--prod", "--database-url", self.database_url,
                "--workers", str(self.slots)]
        if self.role == "serve":
            args += ["--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as out:
            out.write(f"---- start #{self.starts + 1} at {time.time():.3f}\n".encode())
            self.proc = subprocess.Popen(durable_cli(*args), stdout=out,
                                         stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        """SIGKILL: no drain, no lease release, exactly like a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill9()

    def wait_ready(self, timeout: float = 30.0) -> None:
        if self.role != "serve":
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"durable {self.role} exited; see {self.log}")
            try:
                with urllib.request.urlopen(self.base_url + "/health", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"durable serve not healthy within {timeout}s; see {self.log}")
