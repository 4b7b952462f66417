"""Fixtures: a real Postgres (DATABASE_URL or an embedded one), a fresh database per test
module, the engine on a free loopback port, and apps written with our Python SDK
(sdks/python; `nox -s reference-compat` runs the compatibility tests on the published one)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import durable
import psycopg
import pytest
from durable import Client, DurableFunction, provision_app, wsgi
from durable_engine.db import migrate
from durable_engine.engine import Config
from durable_engine.pg import EmbeddedPostgres
from durable_engine.server import Options, Server
from psycopg.rows import dict_row

_OURS = Path(__file__).resolve().parents[2] / "sdks" / "python"
if os.environ.get("DURABLE_TEST_SDK") != "published" and \
        _OURS not in Path(durable.__file__).resolve().parents:
    raise RuntimeError(f"the engine's tests use our SDK from {_OURS}, but `durable` is "
                       f"{durable.__file__} (the published package?): pip uninstall "
                       "dicabrio-durable-sdk; pip install -e sdks/python")

ADMIN_TOKEN = "test-admin-token"


ANSWER_SCHEMAS = {
    "/fn/sync": "sync-answer", "/e": "receipt", "/e/bulk": "bulk-answer",
    "/runs/search": "runs-search-answer", "/runs/get": "run", "/runs/cancel": "runs-cancel-answer",
    "/failures/search": "failures-search-answer", "/failures/retry": "ok-answer",
    "/runs/rerun": "runs-rerun-answer",
    "/versions/status": "versions-status-answer", "/runs/history": "runs-history-answer",
}


def spec_check(schema: str, value: Any) -> None:
    """Assert that value matches spec/schemas/<schema>.schema.json (skipped without the spec)."""
    from durable_engine.validation import Invalid, _schema_validator, validate_schema

    if _schema_validator(schema) is None:
        return
    try:
        validate_schema(schema, value)
    except Invalid as error:
        raise AssertionError(f"{schema}: {error.path} {error.message}: {value!r}") from None


class CheckedClient(Client):
    """The SDK's client, with every engine answer checked against the spec's schemas."""

    def _post(self, path: str, payload: Any, retries: int = 0) -> dict[str, Any]:
        answer = super()._post(path, payload, retries)
        spec_check(ANSWER_SCHEMAS[path], answer)
        return answer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        time.sleep(interval)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    base = Path(tempfile.mkdtemp(prefix="durable-test-"))
    pg = EmbeddedPostgres(base / "pgdata", free_port())
    pg.start()
    try:
        yield pg.url
    finally:
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, migrated database on the test server, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server_url, name)
    migrate(url)
    yield url
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def database_url(server_url: str) -> Iterator[str]:
    with fresh_database(server_url) as url:
        yield url


def query(url: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


class EngineHandle:
    """The engine (API + workers) on its own event loop in a thread."""

    def __init__(self, database_url: str, *, dev: bool = False,
                 admin_token: str | None = ADMIN_TOKEN,
                 dev_app_url: str = "", api: bool = True, workers: bool = True,
                 **config: Any) -> None:
        settings = {"backoff_base_ms": 50, "lease_s": 6.0, "idle_poll_s": 1.0,
                    "default_timeout_ms": 5000, "pool_size": 6, **config}
        self.config = Config(database_url=database_url, **settings)
        self.options = Options(port=0, dev=dev, admin_token=admin_token, api=api,
                               workers=workers, dev_app_url=dev_app_url,
                               discovery_interval_s=0.2)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: Server | None = None
        self.lines: list[str] = []

    def start(self) -> EngineHandle:
        self.thread.start()

        async def boot() -> Server:
            server = Server(self.config, self.options, say=self.lines.append)
            await server.start()
            return server

        self.server = asyncio.run_coroutine_threadsafe(boot(), self.loop).result(90)
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    def stop(self, crash: bool = False) -> None:
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self.server.stop(crash=crash), self.loop).result(90)
            self.server = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[EngineHandle]:
    handle = EngineHandle(database_url).start()
    yield handle
    handle.stop()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class AppServer:
    """A WSGI app on a free loopback port, in a thread."""

    def __init__(self, application: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.httpd = make_server("127.0.0.1", self.port, application,
                                 server_class=_ThreadingServer, handler_class=_QuietHandler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/durable"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class App:
    """A workspace provisioned through the admin API plus its app on the SDK."""

    def __init__(self, engine: EngineHandle, functions: list[DurableFunction],
                 name: str | None = None, sync: bool = True,
                 serve: dict[str, Any] | None = None) -> None:
        port = free_port()
        url = f"http://127.0.0.1:{port}/api/durable"
        created = provision_app(base_url=engine.url, name=name or f"app-{uuid.uuid4().hex[:8]}",
                                app_url=url, environment="test",
                                admin_token=engine.options.admin_token)
        self.id: str = created["id"]
        self.key: str = created["key"]
        self.functions = functions
        self.server = AppServer(wsgi(functions, signing_key=self.key, **(serve or {})), port)
        self.client = CheckedClient(engine.url, self.id, self.key, timeout=10)
        if sync:
            self.client.sync(functions)

    def send(self, name: str, data: Any = None, event_id: str | None = None) -> dict[str, Any]:
        return self.client.send(name, data or {}, event_id=event_id)

    def run_of(self, receipt: dict[str, Any], index: int = 0) -> str:
        return str(receipt["runIds"][index])

    def wait_run(self, run_id: str, statuses: tuple[str, ...] = ("completed", "failed",
                                                                 "cancelled"),
                 timeout: float = 15.0) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            run = self.client.get_run(run_id)
            return run if run["status"] in statuses else None

        return wait_for(done, timeout)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def make_app(engine: EngineHandle) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(functions: list[DurableFunction], **kwargs: Any) -> App:
        app = App(engine, functions, **kwargs)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def provision_served(engine_url: str, database_url: str, name: str,
                     functions: list[DurableFunction]) -> tuple[dict[str, Any], AppServer]:
    """A workspace whose app serves `functions` with its key. The app needs the key, which
    provisioning makes, so the workspace starts with a placeholder URL and is pointed after."""
    created = provision_app(base_url=engine_url, name=name, app_url="http://127.0.0.1:1/x",
                            environment="test", admin_token=ADMIN_TOKEN)
    server = AppServer(wsgi(functions, signing_key=created["key"]))
    query(database_url, "UPDATE workspaces SET app_url = %s WHERE id = %s RETURNING id",
          server.url, created["id"])
    return created, server
