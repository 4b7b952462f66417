"""The engine under test: Postgres (embedded, or DATABASE_URL) and `durable serve` via its CLI,
plus a provisioned workspace with one synced function and a run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from durable_engine.pg import EmbeddedPostgres

from .signing import sign

ADMIN_TOKEN = "fuzz-admin-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Engine:
    def __init__(self, base: Path, external_url: str | None) -> None:
        self.base = base
        self.external_url = external_url
        self.pg: EmbeddedPostgres | None = None
        self.db = f"fuzz_{uuid.uuid4().hex[:10]}"
        self.port = free_port()
        self.grpc_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = base / "serve.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def server_url(self) -> str:
        return self.pg.url if self.pg is not None else str(self.external_url)

    @property
    def database_url(self) -> str:
        return urlunsplit(urlsplit(self.server_url)._replace(path=f"/{self.db}"))

    def start(self) -> None:
        if self.external_url is None:
            self.pg = EmbeddedPostgres(self.base / "pgdata", free_port())
            self.pg.start()
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db}"')
        cli = [sys.executable, "-m", "durable_engine.cli"]
        env = {**os.environ, "DURABLE_ADMIN_TOKEN": ADMIN_TOKEN}
        with self.log.open("ab") as out:
            subprocess.run([*cli, "migrate", "--database-url", self.database_url], check=True,
                           stdout=out, stderr=subprocess.STDOUT, timeout=120)
            self.proc = subprocess.Popen(
                [*cli, "serve", "--prod", "--database-url", self.database_url, "--host",
                 "127.0.0.1", "--port", str(self.port), "--grpc-port", str(self.grpc_port),
                 "--workers", "2"],
                stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"durable serve did not start; see {self.log}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        try:
            with psycopg.connect(self.server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        except psycopg.Error:
            pass
        if self.pg is not None:
            self.pg.stop()

    def request(self, method: str, path: str, body: bytes | None,
                headers: dict[str, str]) -> tuple[int, Any]:
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def signed(self, app_id: str, key: str, path: str, payload: Any) -> tuple[int, Any]:
        body = json.dumps(payload).encode()
        return self.request("POST", path, body, {"X-Durable-App": app_id,
                                                 "X-Durable-Signature": sign(key, body)})

    def provision(self, name: str = "fuzz") -> tuple[str, str]:
        """A workspace, one function (its app is unreachable, so the run fails and the
        failures view has rows) and one event."""
        status, created = self.request(
            "POST", "/api/apps",
            json.dumps({"name": name, "environment": "fuzz",
                        "appUrl": "http://127.0.0.1:9/api/durable"}).encode(),
            {"Authorization": f"Bearer {ADMIN_TOKEN}"})
        if status != 200:
            raise RuntimeError(f"provisioning failed: {status} {created!r}")
        app_id, key = created["id"], created["key"]
        definition = {"id": "fuzz-fn", "trigger": {"event": "fuzz/go"}, "retries": 0}
        for path, payload in (("/fn/sync", {"sdkVersion": "fuzz", "functions": [definition]}),
                              ("/e", {"name": "fuzz/go", "data": {}})):
            status, answer = self.signed(app_id, key, path, payload)
            if status != 200:
                raise RuntimeError(f"seeding {path} failed: {status} {answer!r}")
        return app_id, key

    def server_errors_logged(self) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines()
                if "unexpected error on" in line or "unexpected error in a gRPC call" in line]
