"""Hand-off: new runs without flow rules that the accepting process can invoke at once are
leased in the event's own transaction (no wake-up, no claim round trip), but never ahead of
due work that ranks before them ([FLOW-2]). Checked on the database, in transactions that
are rolled back, so the module's running engine never sees them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from conftest import ADMIN_TOKEN, CheckedClient, EngineHandle
from durable import provision_app
from durable_engine.engine import Claim, Config, Engine
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


def workspace(engine: EngineHandle, functions: list[dict[str, Any]]) -> str:
    created = provision_app(base_url=engine.url, name=f"handoff-{uuid.uuid4().hex[:8]}",
                            app_url="http://127.0.0.1:1/x", environment="test",
                            admin_token=ADMIN_TOKEN)
    client = CheckedClient(engine.url, created["id"], created["key"])
    client._post("/fn/sync", {"sdkVersion": "raw/0", "functions": functions})
    return str(created["id"])


async def ingest_twice(database_url: str, workspace_id: str, first: str | None,
                       second: str, slots: int) -> tuple[list[Claim], dict[str, Any]]:
    """Accept `first` (no hand-off) then `second` (with `slots`) in one transaction; the
    claims handed off for `second`, and every run's status and lease, by function."""
    engine = Engine(Config(database_url=database_url),
                    AsyncConnectionPool(database_url, open=False))
    now = datetime.now(UTC)
    handoff: list[Claim] = []
    async with await psycopg.AsyncConnection.connect(database_url,
                                                     row_factory=dict_row) as conn:
        try:
            async with conn.transaction(force_rollback=True):
                if first is not None:
                    await engine.ingest(conn, workspace_id, [{"name": first}], now)
                await engine.ingest(conn, workspace_id, [{"name": second}], now, handoff,
                                    slots)
                cur = await conn.execute(
                    "SELECT r.function_id, r.status, r.started_at, q.lease_token"
                    " FROM runs r JOIN queue q ON q.run_id = r.id WHERE r.workspace_id = %s",
                    (workspace_id,))
                rows = {row["function_id"]: row for row in await cur.fetchall()}
        finally:
            await engine.pool.close()
    return handoff, rows


def test_new_plain_runs_are_handed_off_flow_controlled_ones_are_not(
        engine: EngineHandle, database_url: str) -> None:
    ws = workspace(engine, [
        {"id": "plain", "trigger": {"event": "h.go"}},
        {"id": "limited", "trigger": {"event": "h.go"}, "concurrency": {"limit": 1}},
        {"id": "throttled", "trigger": {"event": "h.go"},
         "throttle": {"limit": 1, "periodMs": 1000}}])
    handoff, rows = asyncio.run(ingest_twice(database_url, ws, None, "h.go", slots=5))
    assert [c.context.function_id for c in handoff if c.context] == ["plain"]
    assert rows["plain"]["status"] == "running" and rows["plain"]["started_at"] is not None
    assert rows["plain"]["lease_token"] == handoff[0].lease_token
    for name in ("limited", "throttled"):
        assert rows[name]["status"] == "queued" and rows[name]["lease_token"] is None


def test_no_hand_off_without_slots(engine: EngineHandle, database_url: str) -> None:
    ws = workspace(engine, [{"id": "plain", "trigger": {"event": "h.none"}}])
    handoff, rows = asyncio.run(ingest_twice(database_url, ws, None, "h.none", slots=0))
    assert handoff == [] and rows["plain"]["status"] == "queued"


def test_hand_off_never_jumps_due_work_that_ranks_ahead(
        engine: EngineHandle, database_url: str) -> None:
    """A due unleased run of equal rank waits in the queue: the new run queues behind it.
    With priority 600 the new run ranks 600 s earlier, so nothing is ahead of it."""
    ws = workspace(engine, [
        {"id": "waiting", "trigger": {"event": "h.first"}, "concurrency": {"limit": 1}},
        {"id": "plain", "trigger": {"event": "h.second"}},
        {"id": "urgent", "trigger": {"event": "h.third"}, "priority": 600}])
    handoff, rows = asyncio.run(ingest_twice(database_url, ws, "h.first", "h.second", 5))
    assert handoff == [] and rows["plain"]["status"] == "queued"
    handoff, rows = asyncio.run(ingest_twice(database_url, ws, "h.first", "h.third", 5))
    assert [c.run_id for c in handoff] and rows["urgent"]["status"] == "running"
    assert rows["waiting"]["status"] == "queued"
