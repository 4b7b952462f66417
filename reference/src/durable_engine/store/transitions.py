"""A claimed run's transitions, each a statement or two in the caller's transaction: the lease
fence, the delivery record, and what an op does to the run and its queue row (continue at
once, park until a time, wait for an event, end, fail, retry later). The worker decides which
(worker/lifecycle.py); the grouped `step` commits are store/steps.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..core.status import RunStatus
from ..db import Conn, Queries, Row


@dataclass(frozen=True, slots=True)
class Delivery:
    """One HTTP attempt to the app, as its run's history shows it."""

    workspace_id: str
    run_id: str
    function_id: str
    namespace: str
    attempt: int
    url: str
    status: int | None
    duration_ms: float
    op: str | None
    error: str | None
    code: str | None
    at: datetime


async def fence(conn: Conn, queries: Queries, run_id: str, lease_token: uuid.UUID) -> bool:
    """Lock the run's queue row if `lease_token` still holds it (else the attempt is stale)."""
    cur = await conn.execute(queries["fence"], {"run_id": run_id, "lease_token": lease_token})
    return await cur.fetchone() is not None


async def record_delivery(conn: Conn, queries: Queries, delivery: Delivery) -> None:
    await conn.execute(queries["delivery_insert"], {
        "id": str(uuid.uuid4()), "workspace_id": delivery.workspace_id,
        "run_id": delivery.run_id, "function_id": delivery.function_id,
        "namespace": delivery.namespace, "attempt": delivery.attempt, "url": delivery.url,
        "status": delivery.status, "duration_ms": delivery.duration_ms, "op": delivery.op,
        "error": delivery.error, "code": delivery.code, "at": delivery.at})


async def go_on(conn: Conn, queries: Queries, run_id: str, now: datetime,
                new_token: uuid.UUID, lease_s: float) -> None:
    """The run has more to do at once: its next lease goes to the same process."""
    await conn.execute(queries["queue_continue"], {
        "run_id": run_id, "now": now, "new_token": new_token, "lease_s": lease_s})


async def schedule(conn: Conn, queries: Queries, run_id: str, *, attempt: int, kind: str,
                   namespace: str, due_at: datetime) -> None:
    """Queue the run's next invocation (`kind`) at `due_at`, its lease released."""
    await conn.execute(queries["queue_schedule"], {
        "run_id": run_id, "attempt": attempt, "kind": kind, "namespace": namespace,
        "due_at": due_at})


async def set_status(conn: Conn, queries: Queries, run_id: str, status: RunStatus,
                     now: datetime) -> None:
    await conn.execute(queries["run_set_status"],
                       {"run_id": run_id, "status": status.value, "now": now})


async def add_wait(conn: Conn, queries: Queries, run_id: str, namespace: str, step_id: str,
                   workspace_id: str, event_name: str, match: Any, until: datetime,
                   now: datetime) -> None:
    await conn.execute(queries["wait_insert"], {
        "run_id": run_id, "namespace": namespace, "step_id": step_id,
        "workspace_id": workspace_id, "event_name": event_name, "match": Jsonb(match),
        "until": until, "now": now})


async def dequeue(conn: Conn, queries: Queries, run_id: str) -> None:
    await conn.execute(queries["queue_delete"], {"run_id": run_id})


async def complete(conn: Conn, queries: Queries, run_id: str, output: Any,
                   now: datetime) -> None:
    await conn.execute(queries["run_complete"],
                       {"run_id": run_id, "output": Jsonb(output), "now": now})


async def end_failure_handler(conn: Conn, queries: Queries, run_id: str, state: str,
                              output: Any, now: datetime) -> None:
    """The failure handler ended (`state`: completed or failed); the run stays failed."""
    await conn.execute(queries["run_failure_handler_end"], {
        "run_id": run_id, "state": state, "output": Jsonb(output), "now": now})


async def fail(conn: Conn, queries: Queries, run_id: str, error: Row, now: datetime,
               failure_handler: str | None) -> None:
    """The run failed with `error`; its parked waits go."""
    await conn.execute(queries["run_fail"], {
        "run_id": run_id, "error": Jsonb(error), "now": now,
        "failure_handler": failure_handler})
    await conn.execute(queries["waits_delete_run"], {"run_id": run_id})


async def take_waits(conn: Conn, queries: Queries, run_id: str, namespace: str) -> list[Row]:
    """The run's parked waits of `namespace`, removed (their deadline passed)."""
    cur = await conn.execute(queries["wait_take"], {"run_id": run_id, "namespace": namespace})
    return list(await cur.fetchall())


async def resume(conn: Conn, queries: Queries, run_id: str, now: datetime) -> None:
    """The run, parked, is invoked now by the process that holds its lease."""
    await conn.execute(queries["queue_resume"], {"run_id": run_id, "now": now})
    await set_status(conn, queries, run_id, RunStatus.RUNNING, now)


async def context(conn: Conn, queries: Queries, run_id: str, namespace: str
                  ) -> tuple[Row, dict[str, Row]] | None:
    """What invoking the run needs (its row with its function and app) and its memos of
    `namespace`; None when the run is gone."""
    cur = await conn.execute(queries["context"], {"run_id": run_id})
    row = await cur.fetchone()
    if row is None:
        return None
    cur = await conn.execute(queries["steps_for_run"],
                             {"run_id": run_id, "namespace": namespace})
    steps = {r["step_id"]: {"type": r["type"], "data": r["data"]}
             for r in await cur.fetchall()}
    return row, steps
