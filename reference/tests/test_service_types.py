"""The typed requests and answers of the run operations, without a database: requests from
the spec's request vectors (after the checks a transport runs), answers against the spec's
answer schemas with their optional members left out, and the one way transports call an
operation (Operation.perform)."""

from __future__ import annotations

import asyncio
import json
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from durable_engine.api import OPERATIONS
from durable_engine.service import Service, ServiceError
from durable_engine.service.browse import BrowsedRun, BrowsePage, RunsBrowse, Wait
from durable_engine.service.history import Failure, Failures, History, Ok, RunsHistory
from durable_engine.service.rerun import (
    BulkCancelled,
    BulkReruns,
    Rerun,
    RunsBulkCancel,
    RunsBulkRerun,
    RunsRerun,
)
from durable_engine.service.runs import Cancelled, Run, RunDetail, RunId, RunsPage, RunsSearch
from durable_engine.service.views import (
    Attempt,
    RunSummary,
    StepTiming,
    decode_cursor,
    encode_cursor,
)
from durable_engine.store.browse import Cursor, RunFilter
from durable_engine.validation import Invalid, validate_request, validate_schema

SPEC = Path(__file__).resolve().parents[2] / "spec"
AT = datetime(2026, 1, 31, 12, 0, 0, 123000, tzinfo=UTC)
LATER = datetime(2026, 1, 31, 12, 0, 5, tzinfo=UTC)
EVENT = {"id": "evt-1", "name": "app.signup", "data": {"n": 1}, "ts": 1769860800123}


def request_vectors() -> list[dict[str, Any]]:
    cases = json.loads((SPEC / "vectors" / "api" / "requests.json").read_text())["cases"]
    return [c for c in cases if c["valid"] and c["path"] in OPERATIONS
            and OPERATIONS[c["path"]].request is not None]


@pytest.mark.parametrize("case", request_vectors(), ids=lambda c: c["id"])
def test_a_valid_request_vector_becomes_its_typed_request(case: dict[str, Any]) -> None:
    """The transport's checks, then from_json: every member of the body lands in its field."""
    body = validate_request(case["path"], json.loads(json.dumps(case["body"])))
    operation = OPERATIONS[case["path"]]
    assert operation.request is not None
    typed = operation.request.from_json(body)
    expected: dict[str, Any] = {
        "/runs/search": RunsSearch(body.get("functionId"), body.get("status"), None,
                                   body.get("limit", 50)),
        "/runs/get": RunId(body.get("runId", "")),
        "/runs/cancel": RunId(body.get("runId", "")),
        "/runs/rerun": RunsRerun(body.get("runId", ""), body.get("idempotencyKey", ""),
                                 body.get("stepId")),
    }
    if case["path"] in expected:
        assert typed == expected[case["path"]]
    assert typed == operation.request.from_json(body)  # a value: equal when built again


def test_the_vectors_cover_every_typed_run_operation() -> None:
    seen = {c["path"] for c in request_vectors()}
    assert {"/runs/search", "/runs/get", "/runs/cancel", "/runs/rerun", "/failures/search",
            "/failures/retry"} <= seen


def test_a_rerun_without_a_step_records_and_answers_without_one() -> None:
    plain = RunsRerun.from_json({"runId": "run-1", "idempotencyKey": "k"})
    assert plain.step_id is None and plain.recorded() == {"runId": "run-1"}
    from_step = RunsRerun.from_json({"runId": "run-1", "idempotencyKey": "k", "stepId": "b"})
    assert from_step.recorded() == {"runId": "run-1", "stepId": "b"}
    answer = Rerun("run-2", "run-1")
    assert list(answer.to_json()) == ["runId", "rerunOf", "duplicate"]
    validate_schema("runs-rerun-answer", answer.to_json())
    again = Rerun("run-2", "run-1", "b", duplicate=True)
    assert json.dumps(again.to_json()) == \
        '{"runId": "run-2", "rerunOf": "run-1", "fromStepId": "b", "duplicate": true}'
    assert Rerun.from_json(again.to_json()) == again
    validate_schema("runs-rerun-answer", again.to_json())


def test_bulk_requests_check_limit_filter_instants_and_cursor_in_that_order() -> None:
    request = RunsBulkCancel.from_json({"status": "failed", "limit": 5.0})
    assert request == RunsBulkCancel(RunFilter(status="failed"), None, 5)
    assert RunsBulkCancel.from_json({"functionId": "f"}).limit == 100
    assert RunsBulkRerun.from_json({"functionId": "f", "idempotencyKey": "k"}).limit == 50
    bounds = RunsBulkCancel.from_json({"createdFrom": "2026-01-31T12:00:00.123Z"})
    assert bounds.runs == RunFilter(created_from=AT)
    refusals = [
        ({"status": "failed", "limit": 0, "cursor": "%%"}, "/limit"),
        ({"status": "failed", "limit": True}, "/limit"),
        ({"status": "failed", "limit": 2.5}, "/limit"),
        ({"limit": 5, "cursor": "%%"}, ""),
        ({"createdTo": "2026-13-01T00:00:00.000Z", "cursor": "%%"}, "/createdTo"),
        ({"status": "failed", "cursor": "not a cursor"}, "/cursor"),
    ]
    for body, path in refusals:
        with pytest.raises((Invalid, ServiceError)) as raised:
            RunsBulkCancel.from_json(body)
        assert raised.value.path == path, body
    with pytest.raises(Invalid) as too_many:
        RunsBulkRerun.from_json({"status": "failed", "idempotencyKey": "k", "limit": 101})
    assert too_many.value.path == "/limit"


def test_a_cursor_survives_its_codec_and_a_bad_one_is_refused() -> None:
    cursor = Cursor(AT, "run-1|with a bar")
    assert decode_cursor(encode_cursor(cursor)) == cursor
    assert decode_cursor(None) is None and decode_cursor("") is None
    search = RunsSearch.from_json({"cursor": encode_cursor(cursor), "limit": 3})
    assert search == RunsSearch(None, None, cursor, 3)
    for bad in ("!!", encode_cursor(Cursor(AT, "a\x00b")), "bm90IGEgZGF0ZXxpZA=="):
        with pytest.raises(ServiceError) as raised:
            decode_cursor(bad)
        assert (raised.value.code, raised.value.path) == ("INVALID_REQUEST", "/cursor")
    with pytest.raises(ServiceError):
        RunsHistory.from_json({"runId": "r", "cursor": "!!"})


def run_row(**more: Any) -> dict[str, Any]:
    row = {"id": "run-1", "function_id": "f@v2", "status": "running", "event_id": "evt-1",
           "event": EVENT, "events": None, "attempt": 0, "wake_at": None, "output": None,
           "error": None, "skip_reason": None, "cancelled_by": None, "traceparent": None,
           "parent_run_id": None, "parent_step_id": None, "failure_handler": None,
           "created_at": AT, "updated_at": LATER, "started_at": AT, "ended_at": None,
           "failure_output": None}
    return {**row, **more}


def step_row(step_id: str, namespace: str | None = "main", **more: Any) -> dict[str, Any]:
    row = {"step_id": step_id, "type": "run", "data": {"v": step_id}, "namespace": namespace,
           "position": 0, "queued_at": AT, "started_at": AT, "ended_at": LATER,
           "app_ms": None, "wake_at": None, "copied_from": None}
    return {**row, **more}


def test_a_run_leaves_out_what_it_does_not_have() -> None:
    view = Run.from_rows(run_row(), [step_row("a"), step_row("h", "failure")]).to_json()
    validate_schema("run", view)
    assert list(view) == ["runId", "functionId", "status", "eventId", "createdAt",
                          "updatedAt", "event", "attempt", "steps"]
    assert view["steps"] == [{"id": "a", "type": "run", "data": {"v": "a"},
                              "at": "2026-01-31T12:00:05.000Z"}]


def test_a_run_shows_every_member_it_has_in_the_wire_order() -> None:
    row = run_row(status="completed", output=None, events=[EVENT], attempt=2,
                  error={"name": "E", "message": "m"}, cancelled_by={"eventId": "e"},
                  traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
                  parent_run_id="run-0", parent_step_id="child",
                  failure_handler="completed")
    view = Run.from_rows(row, [step_row("a", app_ms=-0.5, copied_from="run-0",
                                        wake_at=LATER)]).to_json()
    assert list(view) == ["runId", "functionId", "status", "eventId", "createdAt",
                          "updatedAt", "event", "events", "attempt", "output", "error",
                          "cancelledBy", "traceparent", "parent", "steps", "failureHandler"]
    assert view["output"] is None  # completed: output is there even when null
    assert view["parent"] == {"runId": "run-0", "stepId": "child"}
    assert view["steps"][0]["appMs"] == 0.0 and view["steps"][0]["copiedFrom"] == "run-0"
    sleeping = Run.from_rows(run_row(status="sleeping", wake_at=LATER), []).to_json()
    assert sleeping["wakeAt"] == "2026-01-31T12:00:05.000Z" and "output" not in sleeping
    validate_schema("run", sleeping)


def test_run_detail_adds_times_timeline_and_attempts() -> None:
    steps = [step_row("a", app_ms=1.23456), step_row("h", None)]
    attempt = Attempt("d-1", "main", 0, AT, 12.3456, 200, "step", None, None)
    detail = RunDetail(Run.from_rows(run_row(), steps), AT, None, None,
                       tuple(StepTiming.from_row(s) for s in steps), (attempt,)).to_json()
    assert list(detail)[-5:] == ["startedAt", "endedAt", "failureOutput", "timeline",
                                 "attempts"]
    with_ms, without = detail["timeline"]
    assert list(with_ms)[:5] == ["id", "type", "data", "at", "appMs"]
    assert with_ms["appMs"] == 1.235 and with_ms["namespace"] == "main"
    assert list(without)[-1] == "appMs" and without["appMs"] is None
    assert without["namespace"] == "main"  # a NULL namespace is the main one
    assert detail["attempts"][0]["durationMs"] == 12.346


def test_answers_match_their_schemas() -> None:
    summary = RunSummary("run-1", "f", "failed", "evt-1", AT, LATER)
    cursor = Cursor(AT, "run-1")
    page = RunsPage((summary,), cursor).to_json()
    validate_schema("runs-search-answer", page)
    assert decode_cursor(page["nextCursor"]) == cursor
    assert RunsPage((), None).to_json() == {"runs": [], "nextCursor": None}
    validate_schema("runs-cancel-answer", Cancelled(False, "completed").to_json())
    attempt = Attempt.from_row({"id": "d-1", "namespace": None, "attempt": None, "at": AT,
                                "duration_ms": -1.0, "status": None, "op": None,
                                "error": "timed out", "code": "TIMEOUT"})
    assert (attempt.namespace, attempt.attempt) == ("main", 0)
    history = History("run-1", (attempt,), None).to_json()
    validate_schema("runs-history-answer", history)
    assert history["attempts"][0]["durationMs"] == 0.0
    failure = Failure.from_row({"id": "d-1", "run_id": "run-1", "function_id": "f",
                                "attempt": 3, "at": AT, "error": None, "status": 500,
                                "delivery_error": "HTTP 500"})
    assert failure.error == {"message": "HTTP 500", "name": "DurableError"}
    validate_schema("failures-search-answer", Failures((failure,)).to_json())
    validate_schema("ok-answer", Ok(True).to_json())
    validate_schema("runs-bulk-cancel-answer",
                    BulkCancelled(("run-1", "run-2"), cursor).to_json())
    reruns = BulkReruns((Rerun("run-2", "run-1", duplicate=True),), None).to_json()
    assert reruns == {"reruns": [{"runId": "run-2", "rerunOf": "run-1", "duplicate": True}],
                      "nextCursor": None}
    validate_schema("runs-bulk-rerun-answer", reruns)


def test_browse_checks_what_a_person_typed() -> None:
    request = RunsBrowse.of(status="failed", function_id="f", run_id="run-", limit=10)
    assert request.runs == RunFilter("f", "failed") and request.run_id == "run-"
    for kwargs, path in (({"status": "done"}, "/status"), ({"limit": 501}, "/limit"),
                         ({"event_name": "a\x00b"}, "/eventName"),
                         ({"run_id": "r" * 501}, "/runId"), ({"cursor": "!!"}, "/cursor")):
        with pytest.raises(ServiceError) as raised:
            RunsBrowse.of(**kwargs)
        assert raised.value.path == path
    page = BrowsePage((BrowsedRun(RunSummary("r", "f", "queued", "e", AT, AT), "app.x", None,
                                  None),), None).to_json()
    assert list(page["runs"][0])[-3:] == ["eventName", "startedAt", "endedAt"]
    assert Wait("main", "w", "app.y", None, AT).to_json() == {
        "namespace": "main", "stepId": "w", "event": "app.y", "until": None,
        "since": "2026-01-31T12:00:00.123Z"}


class FakeService:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def runs_cancel(self, workspace_id: str, request: RunId) -> Cancelled:
        self.calls.append((workspace_id, request))
        return Cancelled(True, "cancelled")



def test_an_operation_parses_calls_and_answers_wire_json() -> None:
    service = FakeService()
    answer = asyncio.run(OPERATIONS["/runs/cancel"].perform(service, "ws", {"runId": "run-1"}))
    assert answer == {"ok": True, "status": "cancelled"}
    assert service.calls == [("ws", RunId("run-1"))]


def test_every_route_names_a_service_method_that_takes_its_request_class() -> None:
    """A typed route's request class is the one its method is annotated with."""
    for path, operation in OPERATIONS.items():
        method = getattr(Service, operation.method)
        hints = typing.get_type_hints(method)
        params = [name for name in hints if name != "return"]
        assert hints[params[-1]] is operation.request, path
        assert hasattr(hints["return"], "to_json"), path
