"""Admission decisions as plain functions ([FLOW-1..8], decision 0006 backoff)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from durable_engine.core.admission import (
    admit,
    backoff_ms,
    deferred,
    flow_buckets,
    flow_of,
    free_starts,
    idle_delay,
    may_retry,
    pending_of,
    pending_runtime,
    rate_limit_of,
    throttle_of,
    window_free_at,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
EVENT = {"name": "e", "data": {"user": "u1", "n": 3}}


def test_concurrency_buckets_per_rule_and_key() -> None:
    definition = {"id": "f", "concurrency": [{"limit": 2}, {"limit": 1, "key": "user"}]}
    keys, limits = flow_buckets("ws", definition, EVENT)
    assert keys == ["ws|f|0|", 'ws|f|1|"u1"']
    assert limits == [2, 1]
    assert flow_buckets("ws", {"id": "f"}, EVENT) == ([], [])
    single = {"id": "f", "concurrency": {"limit": 4}}
    assert flow_buckets("ws", single, EVENT)[1] == [4]


def test_versions_share_buckets() -> None:
    one = {"id": "f", "version": "1", "throttle": {"limit": 1, "periodMs": 1000}}
    two = {"id": "f", "version": "2", "throttle": {"limit": 1, "periodMs": 1000}}
    assert throttle_of("ws", one, EVENT) == throttle_of("ws", two, EVENT)


def test_throttle_and_flow() -> None:
    assert throttle_of("ws", {"id": "f"}, EVENT).key is None
    definition = {"id": "f", "throttle": {"limit": 3, "periodMs": 500, "key": "user"}}
    throttle = throttle_of("ws", definition, EVENT)
    assert (throttle.limit, throttle.period_ms) == (3, 500)
    assert throttle.key is not None and "u1" in throttle.key
    flow = flow_of("ws", definition, EVENT)
    assert flow.controlled and flow.keys == []
    assert flow.params()["throttle_key"] == throttle.key
    assert not flow_of("ws", {"id": "f"}, EVENT).controlled


def test_rate_limit() -> None:
    assert rate_limit_of("ws", {"id": "f"}, EVENT) is None
    rule = rate_limit_of("ws", {"id": "f", "rateLimit": {"limit": 2, "periodMs": 60000}}, EVENT)
    assert rule is not None and rule.period_ms == 60000
    assert not rule.refuses(1) and rule.refuses(2)


def test_debounce_and_batch_buckets() -> None:
    debounce = {"id": "f", "debounce": {"periodMs": 1500, "key": "user"}}
    batch = {"id": "f", "batch": {"maxSize": 5, "timeoutMs": 2000}}
    assert deferred(debounce) and deferred(batch) and not deferred({"id": "f"})
    assert not deferred(None)
    d = pending_of("ws", debounce, EVENT, NOW)
    assert d.kind == "debounce" and d.due_at == NOW + timedelta(milliseconds=1500)
    assert d.max_size is None and "u1" in d.bucket
    b = pending_of("ws", batch, EVENT, NOW)
    assert (b.kind, b.max_size, b.due_at) == ("batch", 5, NOW + timedelta(seconds=2))
    both = {**debounce, **batch}
    assert pending_of("ws", both, EVENT, NOW).kind == "batch"  # the batch wins


def test_the_last_version_owns_a_shared_pending_bucket() -> None:
    fns = [{"runtime_id": "f@1", "definition": {"id": "f", "debounce": {"periodMs": 1}}},
           {"runtime_id": "f@2", "definition": {"id": "f", "debounce": {"periodMs": 1}}},
           {"runtime_id": "g", "definition": {"id": "g"}}]
    assert pending_runtime(fns) == {"f": "f@2"}


def test_backoff_bounds_and_retries() -> None:
    assert backoff_ms(1, rng=lambda: 0.0) == 500
    assert backoff_ms(1, rng=lambda: 1.0) == 1000
    assert backoff_ms(3, rng=lambda: 1.0) == 4000
    assert backoff_ms(30, rng=lambda: 1.0) == 300_000
    assert may_retry(True, 2, {"retries": 3}) and not may_retry(True, 3, {"retries": 3})
    assert not may_retry(False, 0, None)
    assert may_retry(True, 2, None) and not may_retry(True, 3, None)  # 3 by default


def _c(run_id: str, keys: list[str] | None = None, limits: list[int] | None = None,
       throttle: str | None = None, throttle_limit: int | None = None) -> dict[str, Any]:
    return {"run_id": run_id, "flow_keys": keys or [], "flow_limits": limits or [],
            "throttle_key": throttle, "throttle_limit": throttle_limit}


def test_admit_respects_concurrency_and_the_claim_limit() -> None:
    cands = [_c("a", ["k"], [2]), _c("b", ["k"], [2]), _c("c", ["k"], [2]), _c("d", ["j"], [1])]
    got = admit(cands, {"k": 1}, {}, {}, limit=10, page=40, fair=False)
    assert got.admitted == ["a", "d"]
    assert not got.look_fair  # blocked rows, but the page was not full
    capped = admit(cands, {}, {}, {}, limit=1, page=40, fair=False)
    assert capped.admitted == ["a"]


def test_admit_full_page_with_blocked_rows_looks_fair_next() -> None:
    cands = [_c("a", ["k"], [1]), _c("b", ["k"], [1])]
    assert admit(cands, {}, {}, {}, limit=2, page=2, fair=False).look_fair
    assert not admit(cands, {}, {}, {}, limit=2, page=3, fair=False).look_fair
    assert admit(cands, {}, {}, {}, limit=2, page=3, fair=True).look_fair
    assert not admit([_c("a", ["k"], [1])], {}, {}, {}, 1, 1, False).look_fair


def test_admit_throttle_first_in_first_out() -> None:
    cands = [_c("a", throttle="t", throttle_limit=2), _c("b", throttle="t", throttle_limit=2),
             _c("c", throttle="t", throttle_limit=2)]
    # one start left in the window; the bucket's head is b (a is held by another claimer)
    got = admit(cands[1:], {}, {"t": (1, None)}, {"t": ["a"]}, 10, 40, False)
    assert got.admitted == []  # b may not jump ahead of a
    got = admit(cands, {}, {"t": (1, None)}, {"t": ["a"]}, 10, 40, False)
    assert got.admitted == ["a"]


def test_admit_full_throttle_window_says_when_it_has_room() -> None:
    at = NOW + timedelta(seconds=3)
    got = admit([_c("a", throttle="t", throttle_limit=1)], {}, {"t": (1, at)}, {}, 10, 40,
                False)
    assert got.admitted == [] and got.throttle_free_at == at


def test_window_helpers() -> None:
    assert window_free_at(2, 2, NOW, 1000) == NOW + timedelta(seconds=1)
    assert window_free_at(1, 2, NOW, 1000) is None
    assert free_starts({"a": (1, None), "b": (3, NOW)}, {"a": 3, "b": 3}) == {"a": 2}


@pytest.mark.parametrize(("free_at", "next_at", "stuck", "expected"), [
    (None, None, False, 5.0),
    (None, NOW + timedelta(seconds=2), False, 2.0),
    (NOW + timedelta(seconds=1), NOW + timedelta(seconds=2), False, 1.0),
    (None, None, True, 0.5),
    (None, NOW - timedelta(seconds=1), False, 0.0),
])
def test_idle_delay(free_at: datetime | None, next_at: datetime | None, stuck: bool,
                    expected: float) -> None:
    assert idle_delay(NOW, 5.0, free_at, next_at, stuck) == expected
