"""Throttle, debounce and batch (decision 0008: [FLOW-3], [FLOW-5], [FLOW-6]), enforced in
Postgres: throttle in the claim under per-bucket advisory locks, debounce and batch through
one `flow_pending` row per bucket that a claimer turns into a run when it is due."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .paths import key_value

NO_THROTTLE: dict[str, Any] = {"throttle_key": None, "throttle_limit": None,
                               "throttle_period_ms": None}


def throttle_bucket(workspace_id: str, definition: dict[str, Any] | None,
                    event: dict[str, Any]) -> dict[str, Any]:
    """A run's throttle bucket ([FLOW-3], [FLOW-7], [FLOW-8]: shared by every version)."""
    rule = (definition or {}).get("throttle")
    if not rule:
        return dict(NO_THROTTLE)
    assert definition is not None
    key = f"{workspace_id}|{definition['id']}|throttle|{key_value(event, rule.get('key'))}"
    return {"throttle_key": key, "throttle_limit": int(rule["limit"]),
            "throttle_period_ms": int(rule["periodMs"])}


def deferred(definition: dict[str, Any] | None) -> bool:
    """Whether the function's runs are created later, by a debounce or a batch."""
    return bool((definition or {}).get("batch") or (definition or {}).get("debounce"))


async def pend(conn: psycopg.AsyncConnection[Any], queries: dict[str, str], workspace_id: str,
               fn: dict[str, Any], event: dict[str, Any], now: datetime,
               flow_keys: list[str], flow_limits: list[int], rate_key: str | None) -> None:
    """Add an accepted event to its debounce or batch bucket, in the event's transaction.

    A batch is keyed (and its concurrency and throttle keys resolved, [FLOW-7]) by its first
    event; a debounce by its last. When a function has both, the batch wins."""
    definition = fn["definition"]
    batch = definition.get("batch")
    rule = batch or definition["debounce"]
    kind = "batch" if batch else "debounce"
    bucket = f"{kind}|{workspace_id}|{definition['id']}|{key_value(event, rule.get('key'))}"
    params = {
        "bucket": bucket, "workspace_id": workspace_id, "runtime_id": fn["runtime_id"],
        "run_id": str(uuid.uuid4()), "event": Jsonb(event), "priority": fn["priority"],
        "flow_keys": flow_keys, "flow_limits": flow_limits, "rate_key": rate_key, "now": now,
        **throttle_bucket(workspace_id, definition, event),
    }
    if kind == "debounce":
        params["due_at"] = now + timedelta(milliseconds=int(rule["periodMs"]))
        await conn.execute(queries["flow_debounce"], params)
        return
    params["due_at"] = now + timedelta(milliseconds=int(rule["timeoutMs"]))
    params["max_size"] = int(rule["maxSize"])
    cur = await conn.execute(queries["flow_batch"], params)
    row = await cur.fetchone()
    if row is not None and row["size"] >= row["max_size"]:  # full: the run starts now
        await conn.execute(queries["flow_flush"], {"bucket": bucket, "now": now})


async def throttle_windows(conn: psycopg.AsyncConnection[Any], queries: dict[str, str],
                           candidates: list[dict[str, Any]], now: datetime
                           ) -> dict[str, tuple[int, datetime | None]]:
    """Per throttle bucket of the candidates: runs started in the window (capped at the
    limit) and when the next start may happen if the window is full."""
    rules: dict[str, tuple[int, int]] = {}
    for c in candidates:
        if c["throttle_key"] is not None:
            rules.setdefault(c["throttle_key"], (c["throttle_limit"], c["throttle_period_ms"]))
    if not rules:
        return {}
    keys = list(rules)
    cur = await conn.execute(queries["throttle_window"], {
        "keys": keys, "limits": [rules[k][0] for k in keys],
        "periods": [rules[k][1] for k in keys], "now": now})
    windows: dict[str, tuple[int, datetime | None]] = {}
    for row in await cur.fetchall():
        limit, period_ms = rules[row["key"]]
        free_at = None
        if row["n"] >= limit and row["oldest"] is not None:
            free_at = row["oldest"] + timedelta(milliseconds=period_ms)
        windows[row["key"]] = (row["n"], free_at)
    return windows


async def throttle_heads(conn: psycopg.AsyncConnection[Any], queries: dict[str, str],
                         windows: dict[str, tuple[int, datetime | None]],
                         limits: dict[str, int], now: datetime) -> dict[str, list[str]]:
    """Per throttle bucket with room: the runs that may start next, oldest first ([FLOW-3]:
    first in, first out across every claimer, decided under the buckets' locks)."""
    free = {k: limits[k] - n for k, (n, _) in windows.items() if n < limits[k]}
    if not free:
        return {}
    keys = list(free)
    cur = await conn.execute(queries["throttle_heads"], {
        "keys": keys, "counts": [free[k] for k in keys], "now": now})
    heads: dict[str, list[str]] = {k: [] for k in keys}
    for row in await cur.fetchall():
        heads[row["key"]].append(row["run_id"])
    return heads


def flow_buckets(workspace_id: str, definition: dict[str, Any] | None,
                 event: dict[str, Any]) -> tuple[list[str], list[int]]:
    """A run's concurrency buckets and limits ([FLOW-1], [FLOW-7], [FLOW-8]): per workspace,
    function id (every version shares it), rule and key value."""
    rules: Any = (definition or {}).get("concurrency")
    if rules is None:
        return [], []
    rules = rules if isinstance(rules, list) else [rules]
    keys = [f"{workspace_id}|{definition['id']}|{i}|{key_value(event, rule.get('key'))}"
            for i, rule in enumerate(rules)]
    return keys, [int(rule["limit"]) for rule in rules]
