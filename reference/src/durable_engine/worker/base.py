"""The engine's shared state and plain types: its configuration, a claimed queue row, one HTTP
attempt's outcome, and the fields every part of the worker reads (pool, clock, queries, the
leases held, the slots in use)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp

from ..core.context import RunContext
from ..core.invocation import Op
from ..db import Conn, Pool, load_queries
from ..features.otel import Spans
from ..store.steps import StepCommitter
from ..store.wakeups import Wakeups


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


@dataclass
class Config:
    database_url: str
    # A direct (not pooled) URL for LISTEN. Set when database_url goes through PgBouncer in
    # transaction pooling: then no statement is prepared and no session setting is made on
    # database_url, as the next transaction may land on another server connection.
    direct_url: str | None = None
    worker_slots: int = 256  # invocations in flight at once (each waiting for the app)
    lease_s: float = 10.0  # a lease's length; renewed by the holder's heartbeat
    heartbeat_s: float = 0.0  # how often leases are renewed; 0: a third of lease_s
    default_timeout_ms: int = 300_000  # [RETRY-3] default timeoutMs
    backoff_base_ms: int = 1000
    backoff_cap_ms: int = 300_000
    manifest_ttl_s: float = 60.0
    idle_poll_s: float = 5.0
    pool_size: int = 10

    @property
    def pooled(self) -> bool:
        return self.direct_url is not None

    @property
    def listen_url(self) -> str:
        return self.direct_url or self.database_url


@dataclass
class Claim:
    run_id: str
    workspace_id: str
    namespace: str
    kind: str
    attempt: int
    due_at: datetime
    lease_token: uuid.UUID
    context: RunContext | None = None


@dataclass
class Outcome:
    """What one HTTP attempt produced: a valid op, or a delivery error."""

    op: Op | None
    error: str | None
    status: int | None
    started: datetime
    duration_ms: float
    code: str = "INVALID_RESPONSE"


@dataclass
class EngineBase:
    config: Config
    pool: Pool
    clock: Callable[[], datetime] = utcnow
    queries: dict[str, str] = field(default_factory=load_queries)
    session: aiohttp.ClientSession | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: bool = False
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _held: set[uuid.UUID] = field(default_factory=set)
    _manifests: dict[str, float] = field(default_factory=dict)
    _claimer: Conn | None = None
    _driving: set[str] = field(default_factory=set)  # run ids this process is invoking
    _cancelled: set[str] = field(default_factory=set)  # ... of which cancelled meanwhile
    _throttle_free_at: datetime | None = None  # when a full throttle window next has room
    _claimed_at: datetime | None = None  # the clock of the last claim round
    _fair_candidates: bool = False  # the queue's head is a blocked backlog: look per bucket
    last_manifest_status: int | None = None  # HTTP status of the last manifest GET (dev hints)
    _workers_running: bool = False  # this process invokes apps (serve without --no-workers)
    _reserved: int = 0  # slots promised to API calls handing new runs off to this process
    spans: Spans = field(default_factory=Spans.from_env)  # [TRACE-6], off by default
    wakeups: Wakeups = field(init=False)  # wakes the workers after a commit queued work
    step_commits: StepCommitter = field(init=False)  # `step` ops, committed in groups

    def __post_init__(self) -> None:
        self.wakeups = Wakeups(self.pool, self.queries, self._wake.set, self._free_slots)
        self.step_commits = StepCommitter(self.pool, self.queries, self.config.lease_s)

    def _free_slots(self) -> int:
        """Invocation slots free in this process (0 when its workers do not run)."""
        if not self._workers_running or self._stopping:
            return 0
        return max(0, self.config.worker_slots - len(self._tasks) - self._reserved)

    def q(self, name: str) -> str:
        return self.queries[name]

    async def start_http(self) -> None:
        if self.session is None:
            slots = self.config.worker_slots  # the slots bound the requests in flight
            connector = aiohttp.TCPConnector(limit=max(256, slots), limit_per_host=max(64, slots))
            self.session = aiohttp.ClientSession(connector=connector)

    async def close(self) -> None:
        await self.step_commits.close()
        await self.wakeups.close()
        if self.session is not None:
            await self.session.close()
            self.session = None
        await asyncio.to_thread(self.spans.shutdown)
