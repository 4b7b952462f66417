"""What every benchmark shares: the embedded Postgres, an engine (1..n processes) with the
bench app in its own process, process CPU/RSS from /proc, the machine, tables and JSON."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from durable_engine.db import migrate
from durable_engine.pg import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def post(url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as error:
        detail = error.read()[:500].decode(errors="replace")
        raise RuntimeError(f"POST {url} answered {error.code}: {detail}") from None


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


# ---- /proc -----------------------------------------------------------------------------------

def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU of a process (and of its reaped children when asked)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICK


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def child_pids(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == parent:
                pids.append(int(entry.name))
    return pids


def machine(pg_url: str) -> dict[str, Any]:
    model, mem = "unknown", 0
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) // 1024
    with psycopg.connect(pg_url) as conn:
        settings = {name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                    for name in ("server_version", "fsync", "synchronous_commit",
                                 "shared_buffers")}
    return {"cores": os.cpu_count(), "ramMiB": mem, "cpu": model,
            "python": platform.python_version(), "postgres": settings["server_version"],
            "fsync": settings["fsync"], "synchronousCommit": settings["synchronous_commit"],
            "sharedBuffers": settings["shared_buffers"],
            "loadAverage1m": round(os.getloadavg()[0], 2)}


# ---- Postgres --------------------------------------------------------------------------------

class Postgres:
    """The embedded Postgres with pg_stat_statements preloaded; one database per engine."""

    def __init__(self, workdir: Path) -> None:
        self.pg = EmbeddedPostgres(workdir / "pgdata", free_port())
        self.statements = False
        self._databases = 0
        self.engine_url_for: Callable[[str], str] | None = None  # e.g. through PgBouncer

    def start(self) -> None:
        self.pg.start()
        with psycopg.connect(self.pg.url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            conn.execute("ALTER SYSTEM SET pg_stat_statements.track = 'all'")
        self.pg.stop()
        self.pg.start()
        try:
            with psycopg.connect(self.pg.url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            self.statements = True
        except psycopg.Error:
            self.statements = False

    def stop(self) -> None:
        self.pg.stop()

    @property
    def url(self) -> str:
        return self.pg.url

    @property
    def host(self) -> str:
        return self.pg.host

    @property
    def port(self) -> int:
        return self.pg.port

    def database_url(self, name: str) -> str:
        return self.pg.url.rsplit("/", 1)[0] + "/" + name

    def new_database(self) -> str:
        """A fresh, migrated database, so no benchmark sees another's leftovers."""
        self._databases += 1
        name = f"durable_{self._databases}"
        with psycopg.connect(self.pg.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        migrate(self.database_url(name))
        return name

    def postmaster_pid(self) -> int:
        return int((self.pg.pgdata / "postmaster.pid").read_text().splitlines()[0])

    def cpu_seconds(self) -> float:
        """Postgres' CPU: the postmaster with its reaped children, plus live backends."""
        pid = self.postmaster_pid()
        return cpu_seconds(pid, children=True) + sum(cpu_seconds(c) for c in child_pids(pid))

    def reset_statements(self) -> None:
        if self.statements:
            with psycopg.connect(self.pg.url, autocommit=True) as conn:
                conn.execute("SELECT pg_stat_statements_reset()")

    def top_statements(self, database: str, limit: int = 8) -> list[dict[str, Any]]:
        """The statements that took the most database time since the last reset."""
        if not self.statements:
            return []
        with psycopg.connect(self.pg.url) as conn:
            rows = conn.execute(
                "SELECT calls, total_exec_time, mean_exec_time, max_exec_time, query"
                " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
                " WHERE d.datname = %s ORDER BY total_exec_time DESC LIMIT %s",
                (database, limit)).fetchall()
        return [{"calls": r[0], "totalMs": round(r[1], 1), "meanMs": round(r[2], 3),
                 "maxMs": round(r[3], 2), "query": " ".join(r[4].split())[:110]} for r in rows]

    def statement_calls(self, database: str) -> int | None:
        if not self.statements:
            return None
        with psycopg.connect(self.pg.url) as conn:
            row = conn.execute(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s"
                " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
                (database,)).fetchone()
        return int(row[0]) if row else 0

    def xact_commits(self, database: str) -> int:
        with psycopg.connect(self.pg.url) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            row = conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database"
                               " WHERE datname = %s", (database,)).fetchone()
        return int(row[0]) if row else 0


# ---- engine + app ----------------------------------------------------------------------------

class Engine:
    """`processes` engine processes (one `serve`, the rest `worker`) on a fresh database, the
    bench app in its own process, and the given functions synced. `slots`: each process's
    invocation slots; None: the engine's default."""

    def __init__(self, pg: Postgres, functions: list[dict[str, Any]], processes: int = 1,
                 slots: int | None = None, steps: int = 10, wrap: list[str] | None = None,
                 grpc: bool = False) -> None:
        self.pg = pg
        self.database = pg.new_database()
        self.db_url = (pg.engine_url_for or pg.database_url)(self.database)
        self.port, self.app_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # the serve process's gRPC port when asked for, else gRPC off (no port contention)
        self.grpc_port = free_port() if grpc else None
        token = uuid.uuid4().hex
        env = {**os.environ, "DURABLE_ADMIN_TOKEN": token}
        env.pop("DURABLE_WORKER_SLOTS", None)
        if slots is not None:
            env["DURABLE_WORKER_SLOTS"] = str(slots)
        if pg.engine_url_for is not None:  # pooled: LISTEN and migrations go direct
            env["DURABLE_DIRECT_URL"] = pg.database_url(self.database)
        self.env = env
        self.engines: list[subprocess.Popen[bytes]] = []
        self.app: subprocess.Popen[bytes] | None = None
        try:
            for i in range(processes):
                # wrap: the first process's command before the module (a profiler)
                start = [*wrap, "-m"] if wrap and i == 0 else [sys.executable, "-m"]
                self.engines.append(subprocess.Popen(
                    [*start, "durable_engine.cli",
                     "serve" if i == 0 else "worker", "--prod", "--database-url", self.db_url,
                     "--port", str(self.port), "--host", "127.0.0.1", "--grpc-port",
                     str(self.grpc_port) if i == 0 and self.grpc_port else "off"],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_http(self.base + "/health")
            created = post(self.base + "/api/apps", json.dumps({
                "name": f"bench-{uuid.uuid4().hex[:6]}", "environment": "bench",
                "appUrl": f"http://127.0.0.1:{self.app_port}/api/durable"}).encode(),
                {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            self.workspace, self.key = created["id"], created["key"]
            self.app = subprocess.Popen(
                [sys.executable, str(ROOT / "noop_app.py"), str(self.app_port), self.key,
                 str(steps)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_http(f"http://127.0.0.1:{self.app_port}/api/durable")
            self.signed("/fn/sync", {"sdkVersion": "bench/0", "functions": functions})
        except BaseException:
            self.stop()
            raise

    def add_worker(self, slots: int) -> None:
        """One more `durable worker` process on the same database."""
        self.engines.append(subprocess.Popen(
            [sys.executable, "-m", "durable_engine.cli", "worker", "--prod", "--database-url",
             self.db_url, "--workers", str(slots)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def signed(self, path: str, value: Any) -> dict[str, Any]:
        body = json.dumps(value, separators=(",", ":")).encode()
        return post(self.base + path, body, {
            "X-Durable-App": self.workspace, "Content-Type": "application/json",
            "X-Durable-Signature": hmac.new(self.key.encode(), body,
                                            hashlib.sha256).hexdigest()})

    def send(self, name: str, datas: list[dict[str, Any]], chunk: int = 100) -> None:
        for offset in range(0, len(datas), chunk):
            self.signed("/e/bulk", {"events": [{"name": name, "data": d}
                                               for d in datas[offset:offset + chunk]]})

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.db_url, autocommit=True)

    def count(self, where: str, params: tuple[Any, ...] = ()) -> int:
        with self.connect() as conn:
            row = conn.execute(f"SELECT count(*) FROM runs WHERE {where}", params).fetchone()
        return int(row[0]) if row else 0

    def wait_until(self, done: Callable[[], bool], timeout: float, what: str,
                   every: float = 0.1) -> float:
        """Poll until done(); seconds it took. Raises after timeout."""
        started = time.monotonic()
        while not done():
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(every)
        return time.monotonic() - started

    def app_stats(self) -> dict[str, Any]:
        return get_json(f"http://127.0.0.1:{self.app_port}/bench/stats")  # type: ignore[no-any-return]

    def engine_pids(self) -> list[int]:
        return [p.pid for p in self.engines]

    def engine_cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.engine_pids())

    def engine_rss(self) -> float:
        return sum(rss_mib(pid) for pid in self.engine_pids())

    def app_cpu(self) -> float:
        return cpu_seconds(self.app.pid) if self.app else 0.0

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.engines)

    def stop(self) -> None:
        for process in (self.app, *self.engines):
            if process is not None and process.poll() is None:
                process.terminate()
        for process in (self.app, *self.engines):
            if process is not None:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@contextmanager
def engine(pg: Postgres, functions: list[dict[str, Any]], **kwargs: Any) -> Iterator[Engine]:
    running = Engine(pg, functions, **kwargs)
    try:
        yield running
    finally:
        running.stop()


class CpuMeter:
    """CPU % of the engine, the app and Postgres over a window (100% = one core)."""

    def __init__(self, pg: Postgres, eng: Engine) -> None:
        self.pg, self.eng = pg, eng
        self.start = self._sample()

    def _sample(self) -> tuple[float, float, float, float]:
        return (time.monotonic(), self.eng.engine_cpu(), self.eng.app_cpu(),
                self.pg.cpu_seconds())

    def read(self) -> dict[str, float]:
        end = self._sample()
        wall = max(end[0] - self.start[0], 1e-9)
        return {"engineCpuPct": round(100 * (end[1] - self.start[1]) / wall, 1),
                "appCpuPct": round(100 * (end[2] - self.start[2]) / wall, 1),
                "postgresCpuPct": round(100 * (end[3] - self.start[3]) / wall, 1)}


def percentiles(values: list[float], *quantiles: float) -> list[float | None]:
    if not values:
        return [None for _ in quantiles]
    ordered = sorted(values)
    out: list[float | None] = []
    for q in quantiles:
        position = q * (len(ordered) - 1)
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        out.append(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
    return out


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["—" if v is None else str(v) for v in row]
                                           for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(row, widths, strict=True))) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_result(name: str, value: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(value, indent=2, default=str) + "\n")
    return out
