"""store.steps.StepCommitter: `step` ops of several runs commit together in one statement,
each behind its own lease fence; a stale attempt writes only its delivery; a step that cannot
be written fails its own caller and no other. On the database alone (no engine)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from conftest import query
from durable_engine.db import load_queries, open_pool
from durable_engine.store.runs import create, new_run
from durable_engine.store.steps import StepCommit, StepCommitter
from test_store_runs import event, run, workspace

QUERIES = load_queries()


def leased_runs(database_url: str, ws: str, count: int) -> dict[str, uuid.UUID]:
    runs = [new_run(ws, "f", {"id": "f"}, event(), 0, lease_s=30.0) for _ in range(count)]
    created = asyncio.run(run(database_url, lambda conn: create(
        conn, QUERIES, runs, datetime.now(UTC))))
    return {run_id: token for run_id, token in created.items() if token is not None}


def step(ws: str, run_id: str, token: uuid.UUID, step_id: str, data: Any,
         **more: Any) -> StepCommit:
    now = datetime.now(UTC)
    return StepCommit(**{
        "run_id": run_id, "lease_token": token, "new_token": uuid.uuid4(), "now": now,
        "namespace": "main", "step_id": step_id, "data": data, "position": 0,
        "queued_at": now, "started_at": now, "app_ms": 1.5, "workspace_id": ws,
        "function_id": "f", "attempt": 0, "url": "http://app", "status": 200,
        "delivery_id": str(uuid.uuid4()), **more})


def test_steps_of_many_runs_commit_as_one_group_each_behind_its_fence(
        database_url: str) -> None:
    ws = workspace(database_url)
    leases = leased_runs(database_url, ws, 8)
    values: list[Any] = [None, 0, "x", [1, {"a": None}], {"b": "é\u2028"}, 1.5, True, False]

    async def scenario() -> None:
        pool = await open_pool(database_url, 4)
        committer = StepCommitter(pool, QUERIES, 30.0, in_flight=1)
        try:
            steps = [step(ws, r, t, "s1", v) for (r, t), v in zip(leases.items(), values,
                                                                  strict=True)]
            done = await asyncio.gather(*(committer.commit(s) for s in steps))
            assert all(d.fenced and d.memoized for d in done)
            assert committer.steps == 8 and committer.groups <= 2  # the first, then the rest
            rows = {r["run_id"]: r for r in query(
                database_url, "SELECT s.run_id, s.data, q.lease_token FROM steps s JOIN queue q"
                " USING (run_id) WHERE s.run_id = ANY(%s)", list(leases))}
            for s, v in zip(steps, values, strict=True):
                assert rows[s.run_id]["data"] == v
                assert rows[s.run_id]["lease_token"] == s.new_token  # the next lease

            first = steps[0]
            stale = step(ws, first.run_id, first.lease_token, "s2", 1)  # the old token
            again = step(ws, first.run_id, first.new_token, "s1", "other")  # memo exists
            assert (await committer.commit(stale)).fenced is False
            redo = await committer.commit(again)
            assert redo.fenced and not redo.memoized
            deliveries = query(database_url, "SELECT error FROM deliveries WHERE id = %s",
                               stale.delivery_id)
            assert deliveries == [{"error": "stale attempt"}]
            assert query(database_url, "SELECT 1 FROM steps WHERE run_id = %s AND step_id"
                         " = 's2'", first.run_id) == []
        finally:
            await committer.close()
            await pool.close()

    asyncio.run(scenario())


def test_a_step_that_cannot_be_written_fails_alone(database_url: str) -> None:
    ws = workspace(database_url)
    leases = list(leased_runs(database_url, ws, 4).items())

    async def scenario() -> None:
        pool = await open_pool(database_url, 4)
        committer = StepCommitter(pool, QUERIES, 30.0, in_flight=1)
        try:
            taken = step(ws, *leases[0], "s", 1)
            await committer.commit(taken)
            # the same delivery id again: the group's statement fails, then each goes alone
            clash = step(ws, *leases[1], "s", 2, delivery_id=taken.delivery_id)
            fine = step(ws, *leases[2], "s", 3)
            unwritable = step(ws, *leases[3], "s", float("nan"))
            results = await asyncio.gather(committer.commit(clash), committer.commit(fine),
                                           committer.commit(unwritable),
                                           return_exceptions=True)
            assert isinstance(results[0], Exception)
            assert not isinstance(results[1], BaseException) and results[1].fenced
            assert isinstance(results[2], ValueError)
            written = {r["run_id"] for r in query(
                database_url, "SELECT run_id FROM steps WHERE run_id = ANY(%s)",
                [r for r, _ in leases])}
            assert written == {leases[0][0], leases[2][0]}
        finally:
            await committer.close()
            await pool.close()

    asyncio.run(scenario())
