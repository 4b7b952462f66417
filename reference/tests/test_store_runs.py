"""store.runs.create: the one statement every run is created (or a failed run restarted)
through, so a run's flow rules come from its function whatever made it ([FLOW-1], [FLOW-3]).
On the database alone: no engine claims these runs."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from conftest import query
from durable_engine.db import load_queries
from durable_engine.store.runs import Receipt, create, new_run
from psycopg.rows import dict_row

QUERIES = load_queries()
LIMITED = {"id": "f", "concurrency": {"limit": 2, "key": "k"},
           "throttle": {"limit": 3, "periodMs": 1000}}


def workspace(database_url: str) -> str:
    ws = f"ws-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO workspaces (id, name, environment, app_url, keys, created_at)"
                     " VALUES (%s, %s, 'test', 'http://127.0.0.1:1/x', ARRAY['k'], now())",
                     (ws, ws))
    return ws


def event(**data: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "name": "e", "data": data, "ts": 0}


async def run(database_url: str, work: Any) -> Any:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True,
                                                     row_factory=dict_row) as conn:
        async with conn.transaction():
            return await work(conn)


def test_every_created_run_carries_its_functions_flow_rules(database_url: str) -> None:
    ws = workspace(database_url)
    now = datetime.now(UTC)
    limited = new_run(ws, "f", LIMITED, event(k="a"), 5)
    plain = new_run(ws, "g", {"id": "g"}, event(), 0)
    skipped = new_run(ws, "f", LIMITED, event(k="b"), 0, skip_reason="rate_limited")
    created = asyncio.run(run(database_url, lambda conn: create(
        conn, QUERIES, [limited, plain, skipped], now)))
    assert created == {limited.id: None, plain.id: None, skipped.id: None}
    rows = {r["run_id"]: r for r in query(
        database_url, "SELECT q.run_id, q.flow_keys, q.flow_limits, q.throttle_key, q.priority,"
        " r.throttle_key AS run_throttle, r.status FROM queue q JOIN runs r ON r.id = q.run_id"
        " WHERE r.workspace_id = %s", ws)}
    assert set(rows) == {limited.id, plain.id}  # a skipped run is never queued
    row = rows[limited.id]
    assert row["flow_keys"] == [f'{ws}|f|0|"a"'] and row["flow_limits"] == [2]
    assert row["throttle_key"] == row["run_throttle"] == f"{ws}|f|throttle|"
    assert row["priority"] == 5 and row["status"] == "queued"
    assert rows[plain.id]["flow_keys"] == [] and rows[plain.id]["throttle_key"] is None
    status = query(database_url, "SELECT status, ended_at FROM runs WHERE id = %s", skipped.id)
    assert status[0]["status"] == "skipped" and status[0]["ended_at"] is not None


def test_a_receipt_is_stored_even_without_runs(database_url: str) -> None:
    ws = workspace(database_url)
    ev = event()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO events (workspace_id, id, name, data, ts, received_at,"
                     " receipt) VALUES (%s, %s, 'e', '{}', 0, now(), '{}')", (ws, ev["id"]))
    body = {"id": ev["id"], "runIds": []}
    asyncio.run(run(database_url, lambda conn: create(
        conn, QUERIES, [], datetime.now(UTC), receipt=Receipt(ws, ev["id"], body))))
    stored = query(database_url, "SELECT receipt FROM events WHERE id = %s", ev["id"])
    assert stored[0]["receipt"] == body


def test_only_a_failed_run_restarts_and_its_rules_come_again(database_url: str) -> None:
    ws = workspace(database_url)
    now = datetime.now(UTC)
    first = new_run(ws, "f", {"id": "f"}, event(k="a"), 0)
    asyncio.run(run(database_url, lambda conn: create(conn, QUERIES, [first], now)))
    again = new_run(ws, "f", LIMITED, first.event, 0, id=first.id)
    with pytest.raises(RuntimeError, match="not there to restart"):  # queued, not failed
        asyncio.run(run(database_url, lambda conn: create(conn, QUERIES, [again], now,
                                                          restart=True)))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM queue WHERE run_id = %s", (first.id,))
        conn.execute("UPDATE runs SET status = 'failed', error = '{\"message\": \"x\"}',"
                     " ended_at = now() WHERE id = %s", (first.id,))
    asyncio.run(run(database_url, lambda conn: create(conn, QUERIES, [again], now,
                                                      restart=True)))
    row = query(database_url, "SELECT r.status, r.error, r.ended_at, q.flow_keys, q.attempt"
                " FROM runs r JOIN queue q ON q.run_id = r.id WHERE r.id = %s", first.id)[0]
    assert (row["status"], row["error"], row["ended_at"]) == ("queued", None, None)
    assert row["flow_keys"] == [f'{ws}|f|0|"a"'] and row["attempt"] == 0
    with pytest.raises(RuntimeError, match="exist already"):  # a new run's id is new
        asyncio.run(run(database_url, lambda conn: create(
            conn, QUERIES, [new_run(ws, "f", None, event(), 0, id=first.id)], now)))
