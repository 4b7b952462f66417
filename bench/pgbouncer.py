"""PgBouncer (Debian `pgbouncer`, `apt-get install pgbouncer`) in transaction pooling in front
of a Postgres, for running the engine through it.

`python -m bench.pgbouncer COMMAND...` starts an embedded Postgres and PgBouncer in front of it
and runs COMMAND with DATABASE_URL set to a fresh database reached through PgBouncer (the
fault suite uses it: `python -m bench.pgbouncer python -m durable_faults --no-tests`).
`python -m bench --via-pgbouncer` points the engine processes at PgBouncer the same way while
the bench's own measurements go straight to Postgres."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

INI = """[databases]
* = host={host} port={port} user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = trust
auth_file = {dir}/users.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = {pool}
logfile = {dir}/pgbouncer.log
ignore_startup_parameters = extra_float_digits,options
"""


class PgBouncer:
    def __init__(self, host: str, port: int, listen: int, pool: int = 20) -> None:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not Path(binary).exists():
            raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer)")
        self.dir = Path(tempfile.mkdtemp(prefix="durable-pgbouncer-"))
        self.dir.chmod(0o777)  # pgbouncer refuses root: it runs as nobody and logs here
        (self.dir / "users.txt").write_text('"postgres" ""\n')
        ini = self.dir / "pgbouncer.ini"
        ini.write_text(INI.format(host=host, port=port, listen=listen, dir=self.dir, pool=pool))
        for path in (ini, self.dir / "users.txt"):
            path.chmod(0o644)
        self.port = listen
        self.log = self.dir / "pgbouncer.log"
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self.proc = subprocess.Popen([binary, *user, str(ini)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                psycopg.connect(f"postgresql://postgres@127.0.0.1:{listen}/postgres",
                                connect_timeout=2).close()
                return
            except psycopg.Error:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"pgbouncer did not come up; see {self.log}") from None
                time.sleep(0.2)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def warnings(self) -> dict[str, int]:
        """What PgBouncer logged that matters to the engine, counted by kind."""
        counts: dict[str, int] = {}
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        for marker, name in (("got packet 'A' from server when not linked",
                              "notifications dropped (LISTEN on a pooled connection)"),
                             ("prepared statement", "prepared statement errors"),
                             ("ERROR", "errors")):
            n = text.count(marker)
            if n:
                counts[name] = n
        return counts

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def main(argv: list[str]) -> int:
    from bench.common import Postgres, free_port  # noqa: PLC0415

    if not argv:
        print(__doc__)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="durable-pgbouncer-pg-"))
    pg = Postgres(workdir)
    pg.start()
    bouncer = None
    try:
        bouncer = PgBouncer(pg.host, pg.port, free_port())
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE through_pgbouncer")
        url = bouncer.url("through_pgbouncer")
        print(f"pgbouncer (transaction pooling) on {url}", flush=True)
        direct = pg.url.rsplit("/", 1)[0] + "/through_pgbouncer"  # LISTEN, migrations
        code = subprocess.run(argv, env={**os.environ, "DATABASE_URL": url,
                                         "DURABLE_DIRECT_URL": direct}).returncode
        print(f"pgbouncer log: {bouncer.warnings() or 'nothing the engine should care about'}")
        return code
    finally:
        if bouncer is not None:
            bouncer.stop()
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
