"""The run state machine as data: the same statuses as the registry and the schema's CHECK."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from durable_engine.core.status import (
    ENDED,
    LIVE,
    TRANSITIONS,
    HandlerStatus,
    RunStatus,
    may_change,
    sources,
)

ROOT = Path(__file__).resolve().parents[3]
MIGRATION = ROOT / "reference/src/durable_engine/migrations/0009_run_states.sql"


def _check(name: str) -> set[str]:
    sql = MIGRATION.read_text()
    match = re.search(rf"CONSTRAINT {name} CHECK \((.*?)\);", sql, re.S)
    assert match is not None, name
    return set(re.findall(r"'([a-z]+)'", match.group(1)))


def test_statuses_are_the_schema_check_and_the_registry() -> None:
    assert {s.value for s in RunStatus} == _check("runs_status_known")
    assert {s.value for s in HandlerStatus} == _check("runs_failure_handler_known")
    registry = json.loads((ROOT / "spec/registry.json").read_text())
    assert [s.value for s in RunStatus] == registry["runStatuses"]
    assert {s.value for s in ENDED} == set(registry["terminalRunStatuses"])
    assert [s.value for s in HandlerStatus] == registry["failureHandlerStatuses"]


def test_every_status_has_its_row_and_only_known_targets() -> None:
    assert set(TRANSITIONS) == {None, *RunStatus}
    for targets in TRANSITIONS.values():
        assert targets <= set(RunStatus)


def test_ended_runs_stay_ended_but_a_failed_run_may_be_retried() -> None:
    for status in ENDED - {RunStatus.FAILED}:
        assert TRANSITIONS[status] == frozenset()
    assert TRANSITIONS[RunStatus.FAILED] == {RunStatus.QUEUED}
    assert not may_change("failed", "running")


def test_a_new_run_is_queued_handed_off_or_skipped() -> None:
    assert may_change(None, "queued") and may_change(None, "running")
    assert may_change(None, "skipped")
    assert not may_change(None, "completed")
    assert not may_change("queued", "skipped")  # a rate limit refuses at creation only


def test_only_live_runs_can_be_cancelled() -> None:
    assert {s for s in RunStatus if may_change(s, "cancelled")} == LIVE
    assert sources("cancelled") == sorted(s.value for s in LIVE)


def test_parking_and_waking() -> None:
    assert may_change("running", "sleeping") and may_change("running", "waiting")
    assert may_change("sleeping", "running")
    assert may_change("waiting", "queued")  # an event resolved the wait
    assert may_change("waiting", "running")  # its deadline passed
    assert not may_change("sleeping", "waiting")
    assert sources("sleeping") == ["running"]


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError):
        may_change("queued", "paused")
