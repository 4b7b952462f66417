"""The one command: embedded Postgres, migrations, serving; a second start keeps the data."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from conftest import free_port, wait_for
from durable_engine.db import migration_files


def start(pgdata: Path, pg_port: int, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "DURABLE_PGDATA": str(pgdata), "DURABLE_PG_PORT": str(pg_port),
           "DURABLE_PORT": str(port), "DURABLE_DEV_APP_URL": "http://127.0.0.1:1/api/durable"}
    env.pop("DATABASE_URL", None)
    env.pop("DURABLE_ADMIN_TOKEN", None)
    env.pop("DURABLE_ENV", None)
    return subprocess.Popen([sys.executable, "-m", "durable_engine.cli"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    return out


def up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def test_one_command_start_and_a_second_start_keeps_data() -> None:
    base = Path(tempfile.mkdtemp(prefix="durable-cli-"))
    pgdata, pg_port, port = base / "pgdata", free_port(), free_port()
    try:
        first = start(pgdata, pg_port, port)
        wait_for(lambda: up(port) or first.poll() is not None, 60, 0.2)
        body = json.dumps({"name": "kept", "environment": "dev",
                           "appUrl": "http://127.0.0.1:1/api/durable"}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/apps", data=body,
                                         method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:  # dev: loopback allowed
            created = json.loads(response.read())
        out = stop(first)
        assert first.returncode == 0, out
        total = len(migration_files())
        assert "embedded Postgres created" in out
        assert f"migrations: {total} applied, {total} in total" in out
        assert f"serving on http://localhost:{port}" in out
        assert "mode: dev" in out and "embedded Postgres stopped" in out

        second = start(pgdata, pg_port, port)
        wait_for(lambda: up(port) or second.poll() is not None, 60, 0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/apps", timeout=5) as response:
            apps = json.loads(response.read())["apps"]
        out = stop(second)
        assert "embedded Postgres reused" in out
        assert f"migrations: 0 applied, {total} in total" in out
        assert [a["id"] for a in apps if a["name"] == "kept"] == [created["id"]]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_migrate_against_an_external_database(server_url: str) -> None:
    import uuid

    import psycopg
    from conftest import with_database

    name = f"m_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(server_url, name)
        runs = [subprocess.run([sys.executable, "-m", "durable_engine.cli", "migrate",
                                "--database-url", url], capture_output=True, text=True,
                               timeout=60) for _ in range(2)]
        total = len(migration_files())
        assert f"migrations: {total} applied" in runs[0].stdout
        assert "migrations: 0 applied" in runs[1].stdout
        assert all(r.returncode == 0 for r in runs)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
