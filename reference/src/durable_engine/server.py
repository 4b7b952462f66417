"""Process wiring: the API and workers on one event loop, and dev-mode discovery."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from aiohttp import web

from .api import Api
from .core.manifest import Manifest, parse_manifest
from .db import open_pool
from .engine import Config, Engine, utcnow
from .metrics import Sampler
from .service import ChangeFeed
from .store import workspaces
from .validation import Invalid, validate_definition

log = logging.getLogger("durable.server")


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 3030
    grpc_port: int | None = None  # the gRPC surface (§18) beside the HTTP API; None: off
    grpc_required: bool = False  # a port in use fails the start (else: a warning, no gRPC)
    api: bool = True
    workers: bool = True
    dev: bool = False
    admin_token: str | None = None
    dev_app_url: str = "http://localhost:3000/api/durable"
    discovery_interval_s: float = 2.0
    retention_s: float | None = 30 * 86400.0  # prune ended runs older than this; None: never
    retention_interval_s: float = 300.0
    drain_timeout_s: float = 30.0  # SIGTERM: how long in-flight invocations may finish
    metrics_sample_s: float = 10.0  # how often the backlog is sampled (decision 0040)
    metrics_grace_s: float = 20.0  # how long after a minute ends it is rolled, at the earliest
    metrics_public: bool = False  # /metrics without the admin token


class Server:
    """Runs the engine API and/or workers inside the current event loop."""

    def __init__(self, config: Config, options: Options,
                 clock: Callable[[], datetime] = utcnow,
                 say: Callable[[str], None] = print) -> None:
        self.config = config
        self.options = options
        self.clock = clock
        self.say = say
        self.engine: Engine | None = None
        self.sampler: Sampler | None = None
        self.runner: web.AppRunner | None = None
        self.port: int | None = None
        self.feed: ChangeFeed | None = None
        self.grpc_port: int | None = None
        self._grpc: Any = None
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        # An invocation holds a connection only while it reads or commits, not while the app
        # works: up to 16 slots get one each, more slots share them (plus a few for the API).
        size = max(self.config.pool_size, min(self.config.worker_slots, 16) + 4) \
            if self.options.workers else self.config.pool_size
        pool = await open_pool(self.config.database_url, size, pooled=self.config.pooled)
        self.engine = Engine(self.config, pool, clock=self.clock)
        self.sampler = Sampler(self.engine, sample_s=self.options.metrics_sample_s,
                               grace_s=self.options.metrics_grace_s)
        await self.engine.start_http()
        if self.options.api:
            # One change feed per process: the dashboard's live pages all read from it.
            self.feed = ChangeFeed(self.config.listen_url)
            api = Api(self.engine, dev=self.options.dev, admin_token=self.options.admin_token,
                      feed=self.feed, metrics=self.sampler,
                      metrics_public=self.options.metrics_public)
            self.runner = web.AppRunner(api.app(), access_log=None, handle_signals=False)
            await self.runner.setup()
            site = web.TCPSite(self.runner, self.options.host, self.options.port,
                               reuse_address=True)
            await site.start()
            addresses = self.runner.addresses  # (host, port) of each listening socket
            self.port = addresses[0][1] if addresses else self.options.port
            if self.options.grpc_port is not None:
                try:
                    await self._start_grpc(api)
                except BaseException:  # a named gRPC port that is taken: leave nothing open
                    await self.stop(crash=True)
                    raise
        if self.options.workers:
            self._tasks.append(asyncio.create_task(self.engine.run_workers()))
            self._tasks.append(asyncio.create_task(self.engine.run_cron()))
            self._tasks.append(asyncio.create_task(self.sampler.run_forever()))
            if self.options.retention_s:
                from .ops import retention_forever

                self._tasks.append(asyncio.create_task(retention_forever(
                    self.engine, self.options.retention_s, self.options.retention_interval_s)))
        if self.options.dev:
            for url in dev_app_urls(self.options.dev_app_url):
                self._tasks.append(asyncio.create_task(self.discover_forever(url)))

    async def _start_grpc(self, api: Api) -> None:
        from .grpc_api import GrpcApi, start_server  # grpcio: loaded only when serving gRPC
        from .grpc_streams import Streams
        assert self.engine is not None and self.options.grpc_port is not None
        assert self.feed is not None
        grpc_api = GrpcApi(self.engine, api.service, dev=self.options.dev,
                           admin_token=self.options.admin_token)
        try:
            if self.options.grpc_port:
                # Probe first: gRPC's C core writes a bind failure to stderr itself, which
                # would break a log read line by line (--log-format json).
                port_is_free(self.options.host, self.options.grpc_port)
            self._grpc, self.grpc_port = await start_server(
                grpc_api, Streams(grpc_api, self.feed), self.options.host,
                self.options.grpc_port)
        except (OSError, RuntimeError) as error:
            if self.options.grpc_required:
                raise OSError(f"gRPC: {error}") from error
            self.say(f"gRPC: port {self.options.grpc_port} is not free ({error}); serving "
                     "without gRPC (choose one with --grpc-port or DURABLE_GRPC_PORT)")

    async def stop(self, crash: bool = False) -> None:
        if self._grpc is not None:
            await self._grpc.stop(0 if crash else 1.0)
        for task in self._tasks[1:] if self.options.workers else self._tasks:
            task.cancel()
        if self.engine is not None:
            if crash:
                await self.engine.abort()
            else:
                await self.engine.stop(self.options.drain_timeout_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.runner is not None:
            await self.runner.cleanup()
        if self.feed is not None:
            await self.feed.close()
        if self.engine is not None:
            await self.engine.pool.close()

    async def discover_forever(self, url: str) -> None:
        """Dev mode: find the app, create/refresh its workspace; quietly retry until it is up."""
        assert self.engine is not None
        self.say(f"dev mode: looking for your app at {url}")
        known: Any = None
        hinted = False
        while True:
            try:
                found = await self.discover_once(url)
                if found is not None and found != known:
                    workspace_id, count = found
                    self.say(f"dev app found at {url}: workspace {workspace_id}, "
                             f"{count} function(s)")
                    known = found
                elif found is None and not hinted and self.engine.last_manifest_status == 401:
                    # The app is up but not in dev mode: it will never answer discovery.
                    self.say(f"dev mode: the app at {url} answered 401 to discovery; start it "
                             "in dev mode (DURABLE_DEV=1 / dev: true) or provision a workspace "
                             "with POST /api/apps")
                    hinted = True
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - keep looking, never crash the engine
                log.debug("discovery failed: %s", error)
            await asyncio.sleep(self.options.discovery_interval_s if known is None else 10)

    async def discover_once(self, url: str) -> tuple[str, int] | None:
        assert self.engine is not None
        manifest = parse_manifest(await self.engine.fetch_manifest(url, [], discovery=True))
        if manifest is None or manifest.signing_key is None or manifest.functions is None:
            return None
        valid = []
        for i, definition in enumerate(manifest.functions):
            try:
                valid.append(validate_definition(definition, f"/functions/{i}"))
            except Invalid as error:
                self.say(f"dev app: function definition refused at {error.path}: "
                         f"{error.message}")
        # [DISC-3] generated when absent; derived from the URL so rediscovery finds it again
        app_id = manifest.app_id or "dev-" + hashlib.sha256(url.encode()).hexdigest()[:12]
        name = manifest.app_name if manifest.app_name is not None else app_id
        now = self.clock()
        try:
            return await self._store_discovered(app_id, name, url, manifest.signing_key,
                                                manifest, valid, now)
        except psycopg.errors.UniqueViolation:
            self.say(f"dev app: an app named {name!r} already exists in 'dev' with another id;"
                     f" not replacing it")
            return None

    async def _store_discovered(self, app_id: str, name: str, url: str, key: str,
                                manifest: Manifest, valid: list[dict[str, Any]], now: datetime
                                ) -> tuple[str, int]:
        assert self.engine is not None
        async with self.engine.pool.connection() as conn, conn.transaction():
            await workspaces.upsert_dev(
                conn, self.engine.queries, workspace_id=app_id, name=name, app_url=url,
                key=key, capabilities=manifest.capabilities,
                max_request_bytes=manifest.max_request_bytes,
                sdk_version=manifest.sdk_version, now=now)
            await workspaces.store_functions(conn, self.engine.queries, app_id, valid, now)
        return app_id, len(valid)


def dev_app_urls(value: str) -> list[str]:
    """DURABLE_DEV_APP_URL: one URL or several, comma-separated (one app each)."""
    return [url.strip() for url in value.split(",") if url.strip()]


def port_is_free(host: str, port: int) -> None:
    """Raise OSError when (host, port) cannot be bound for listening now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
