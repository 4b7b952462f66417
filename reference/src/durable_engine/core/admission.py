"""Admission decisions as functions of plain values (decision 0008): which buckets a run
belongs to ([FLOW-1], [FLOW-3], [FLOW-4], [FLOW-7], [FLOW-8]), whether an event's run is
deferred to a debounce or batch bucket ([FLOW-5], [FLOW-6]), the retry backoff (decision
0006), and which due flow-controlled runs a claim may start.

The store does the atomic parts (advisory locks, counts in a window, the queue rows); what to
make of those counts is decided here."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..paths import key_value

Definition = Mapping[str, Any] | None


@dataclass(frozen=True)
class Throttle:
    """A run's throttle bucket ([FLOW-3]); key None: no throttle."""

    key: str | None = None
    limit: int | None = None
    period_ms: int | None = None

    def params(self) -> dict[str, Any]:
        return {"throttle_key": self.key, "throttle_limit": self.limit,
                "throttle_period_ms": self.period_ms}


@dataclass(frozen=True)
class Flow:
    """Every flow rule that applies to one run once it is queued: its concurrency buckets
    with their limits ([FLOW-1]) and its throttle bucket ([FLOW-3])."""

    keys: list[str] = field(default_factory=list)
    limits: list[int] = field(default_factory=list)
    throttle: Throttle = Throttle()

    @property
    def controlled(self) -> bool:
        return bool(self.keys) or self.throttle.key is not None

    def params(self) -> dict[str, Any]:
        return {"flow_keys": self.keys, "flow_limits": self.limits, **self.throttle.params()}


def flow_buckets(workspace_id: str, definition: Definition,
                 event: Mapping[str, Any]) -> tuple[list[str], list[int]]:
    """A run's concurrency buckets and limits ([FLOW-1], [FLOW-7], [FLOW-8]): per workspace,
    function id (every version shares it), rule and key value."""
    rules: Any = (definition or {}).get("concurrency")
    if rules is None:
        return [], []
    assert definition is not None
    rules = rules if isinstance(rules, list) else [rules]
    keys = [f"{workspace_id}|{definition['id']}|{i}|{key_value(event, rule.get('key'))}"
            for i, rule in enumerate(rules)]
    return keys, [int(rule["limit"]) for rule in rules]


def throttle_of(workspace_id: str, definition: Definition,
                event: Mapping[str, Any]) -> Throttle:
    """A run's throttle bucket ([FLOW-3], [FLOW-7], [FLOW-8]: shared by every version)."""
    rule = (definition or {}).get("throttle")
    if not rule:
        return Throttle()
    assert definition is not None
    key = f"{workspace_id}|{definition['id']}|throttle|{key_value(event, rule.get('key'))}"
    return Throttle(key, int(rule["limit"]), int(rule["periodMs"]))


def throttle_bucket(workspace_id: str, definition: Definition,
                    event: Mapping[str, Any]) -> dict[str, Any]:
    """throttle_of() as the queue's column values."""
    return throttle_of(workspace_id, definition, event).params()


def flow_of(workspace_id: str, definition: Definition, event: Mapping[str, Any]) -> Flow:
    keys, limits = flow_buckets(workspace_id, definition, event)
    return Flow(keys, limits, throttle_of(workspace_id, definition, event))


@dataclass(frozen=True)
class RateLimit:
    """[FLOW-4]: at most `limit` runs created per `period_ms` in the bucket `key`."""

    key: str
    limit: int
    period_ms: int

    def refuses(self, created_in_window: int) -> bool:
        return created_in_window >= self.limit


def rate_limit_of(workspace_id: str, definition: Definition,
                  event: Mapping[str, Any]) -> RateLimit | None:
    rule = (definition or {}).get("rateLimit")
    if not rule:
        return None
    assert definition is not None
    key = f"{workspace_id}|{definition['id']}|{key_value(event, rule.get('key'))}"
    return RateLimit(key, int(rule["limit"]), int(rule["periodMs"]))


def deferred(definition: Definition) -> bool:
    """Whether the function's runs are created later, by a debounce or a batch."""
    return bool((definition or {}).get("batch") or (definition or {}).get("debounce"))


@dataclass(frozen=True)
class Pending:
    """Where a deferred event goes: its bucket, when the bucket's run is due, and a batch's
    size that starts it at once. A batch is keyed by its first event, a debounce by its last
    (the store keeps the right one); when a function has both, the batch wins."""

    kind: str  # "debounce" | "batch"
    bucket: str
    due_at: datetime
    max_size: int | None = None


def pending_of(workspace_id: str, definition: Mapping[str, Any], event: Mapping[str, Any],
               now: datetime) -> Pending:
    batch = definition.get("batch")
    rule = batch or definition["debounce"]
    kind = "batch" if batch else "debounce"
    bucket = f"{kind}|{workspace_id}|{definition['id']}|{key_value(event, rule.get('key'))}"
    if kind == "debounce":  # [FLOW-5]: each event restarts the period
        return Pending(kind, bucket, now + timedelta(milliseconds=int(rule["periodMs"])))
    return Pending(kind, bucket, now + timedelta(milliseconds=int(rule["timeoutMs"])),
                   int(rule["maxSize"]))


def pending_runtime(functions: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Versions share one debounce/batch bucket ([FLOW-8]): per function id, the runtime id
    that owns it, the last version listed (by runtime id, so id@2 rather than id@1)."""
    return {fn["definition"]["id"]: fn["runtime_id"] for fn in functions
            if deferred(fn["definition"])}


def backoff_ms(retry: int, base_ms: int = 1000, cap_ms: int = 300_000,
               rng: Callable[[], float] = random.random) -> float:
    """Delay before retry k (k = 1..N), decision 0006: min(base·2^(k-1), cap) · U[0.5, 1]."""
    doubled: float = base_ms * 2 ** (retry - 1)  # int ** int is typed Any (a negative power)
    return min(doubled, cap_ms) * (0.5 + 0.5 * rng())


def may_retry(retryable: bool, attempt: int, definition: Definition) -> bool:
    """[RETRY-1]: a retryable failure of attempt `attempt` (0-based) is retried while fewer
    than the function's `retries` (3 by default) retries were made."""
    retries: int = (definition or {}).get("retries", 3)
    return retryable and attempt < retries


@dataclass
class Admission:
    admitted: list[str]
    throttle_free_at: datetime | None  # when a full throttle window next has room
    look_fair: bool  # next round: look per bucket, the head of the queue is a blocked backlog


def admit(candidates: Sequence[Mapping[str, Any]], in_flight: Mapping[str, int],
          windows: Mapping[str, tuple[int, datetime | None]],
          heads: Mapping[str, Sequence[str]], limit: int, page: int,
          fair: bool) -> Admission:
    """Which due flow-controlled runs may start now, in the candidates' order (rank, then
    arrival). `in_flight`: invocations in flight per concurrency bucket; `windows`: per
    throttle bucket, starts in its window and when it next has room; `heads`: per throttle
    bucket with room, the runs that may take its free starts (only its oldest, [FLOW-3] first
    in first out, even when another claimer holds them); `page`: how many candidates were
    asked for; `fair`: whether they were looked up per bucket."""
    running = dict(in_flight)
    started = {k: n for k, (n, _) in windows.items()}
    next_head = {k: 0 for k in heads}
    waiting: set[str] = set()  # throttle buckets whose head run waits: FIFO behind it
    free_at: datetime | None = None
    admitted: list[str] = []
    blocked = 0
    for c in candidates:
        pairs = list(zip(c["flow_keys"], c["flow_limits"], strict=True))
        throttle = c["throttle_key"]
        if throttle is not None and (throttle in waiting
                                     or started[throttle] >= c["throttle_limit"]):
            at = windows[throttle][1]
            if throttle not in waiting and at is not None:
                free_at = min(free_at or at, at)
            waiting.add(throttle)
            blocked += 1
            continue
        bucket_heads = heads.get(throttle, []) if throttle is not None else []
        if throttle is not None and (next_head.get(throttle, 0) >= len(bucket_heads)
                                     or bucket_heads[next_head[throttle]] != c["run_id"]):
            waiting.add(throttle)  # an older run of the bucket, held elsewhere, goes first
            blocked += 1
            continue
        if len(admitted) >= limit:
            continue
        if all(running.get(k, 0) < n for k, n in pairs):
            admitted.append(c["run_id"])
            for k, _ in pairs:
                running[k] = running.get(k, 0) + 1
            if throttle is not None:
                started[throttle] += 1
                next_head[throttle] += 1
        else:
            blocked += 1
            if throttle is not None:
                waiting.add(throttle)
    # A full page with blocked rows may hide other buckets' due runs behind a backlog: the
    # next round looks per bucket (costlier, so only while it is needed).
    look_fair = blocked > 0 and (fair or len(candidates) == page)
    return Admission(admitted, free_at, look_fair)


def window_free_at(started: int, limit: int, oldest: datetime | None,
                   period_ms: int) -> datetime | None:
    """When a throttle window with `started` starts (at most `limit` counted, the oldest at
    `oldest`) next has room; None when it has room now."""
    if started >= limit and oldest is not None:
        return oldest + timedelta(milliseconds=period_ms)
    return None


def free_starts(windows: Mapping[str, tuple[int, datetime | None]],
                limits: Mapping[str, int]) -> dict[str, int]:
    """Per throttle bucket with room: how many runs may start now."""
    return {k: limits[k] - n for k, (n, _) in windows.items() if n < limits[k]}


def idle_delay(now: datetime, poll_s: float, throttle_free_at: datetime | None,
               next_at: datetime | None, stuck: bool) -> float:
    """How long an idle worker sleeps: until the next row becomes due or a full throttle
    window has room, at most `poll_s`; rows due now that could not be claimed (a full
    concurrency limit) are looked at again twice a second, not in a spin."""
    delay = poll_s
    if throttle_free_at is not None and throttle_free_at > now:
        delay = min(delay, (throttle_free_at - now).total_seconds())
    if next_at is not None:
        delay = min(delay, (next_at - now).total_seconds())
    if stuck:
        delay = min(delay, 0.5)
    return max(delay, 0.0)
