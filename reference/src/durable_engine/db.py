"""Connections, numbered migrations and named queries (SQL lives in .sql files)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any, TypeAlias, cast

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

MIGRATION_LOCK = 727_272  # advisory lock id: concurrent `durable migrate` runs queue up
# Every connection the engine opens reads rows as dicts (row_factory=dict_row).
Conn: TypeAlias = psycopg.AsyncConnection[DictRow]
Pool: TypeAlias = AsyncConnectionPool[Conn]
Row: TypeAlias = dict[str, Any]  # a row read through a Conn (dict_row)
Queries: TypeAlias = Mapping[str, str]  # the named queries, by name (load_queries)
_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def load_queries() -> dict[str, str]:
    """Every `-- name: x` section of every file in queries/, by name."""
    queries: dict[str, str] = {}
    for entry in sorted(resources.files(__package__).joinpath("queries").iterdir(),
                        key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        parts = _NAME.split(entry.read_text())
        for name, sql in zip(parts[1::2], parts[2::2], strict=True):
            if name in queries:
                raise ValueError(f"query {name} defined twice")
            queries[name] = sql.strip()
    return queries


def migration_files() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        match = re.match(r"^(\d{4})_([a-z0-9_]+)\.sql$", entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text()))
    return sorted(found)


def wait_for_database(url: str, timeout_s: float = 30.0,
                      say: Callable[[str], None] | None = None) -> None:
    """Return once Postgres accepts a connection. A process started while Postgres restarts
    (a failover, both deployed at once) waits like the pool does instead of exiting; after
    `timeout_s` the last connection error is raised."""
    deadline = time.monotonic() + timeout_s
    delay = 0.1
    while True:
        try:
            with psycopg.connect(url, connect_timeout=5):
                return
        except psycopg.OperationalError as error:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            if say is not None and delay == 0.1:
                say(f"waiting for the database: {str(error).strip().splitlines()[0]}")
            time.sleep(min(delay, left))
            delay = min(delay * 2, 2.0)


def migrate(url: str) -> tuple[int, int]:
    """Apply pending migrations in order; returns (applied now, total)."""
    files = migration_files()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            applied = 0
            for version, name, sql in files:
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (version, name),
                    )
                applied += 1
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied, len(files)


def connect_options(pooled: bool) -> dict[str, Any]:
    """Connection options for a URL that may go through PgBouncer in transaction pooling,
    where a statement psycopg prepared on one server connection is missing on the next."""
    return {"prepare_threshold": None} if pooled else {}


async def open_pool(url: str, max_size: int = 10, *, pooled: bool = False) -> Pool:
    # The pool's type follows connection_class, but passing one would swap the pool's own
    # connection class out; row_factory=dict_row is what makes each connection a Conn.
    pool = cast(Pool, AsyncConnectionPool(
        url, min_size=1, max_size=max_size, open=False,
        kwargs={"row_factory": dict_row, **connect_options(pooled)},
    ))
    await pool.open(wait=True, timeout=30)
    return pool
