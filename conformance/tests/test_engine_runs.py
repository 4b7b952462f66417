"""The runs-vector checks notice a wrong engine: each comparison fails on a mismatch."""

from __future__ import annotations

import json
from typing import Any

from durable_conformance.engine_runs import check_invocations, check_run
from durable_conformance.fake_app import Received
from durable_conformance.results import FAIL, PASS, Result


class StubWorkspace:
    def __init__(self, runs: dict[str, dict[str, Any]], invokes: list[tuple[int, Any]]):
        self.runs = runs
        self.received = [Received("POST", {}, json.dumps(body).encode(), at)
                         for at, body in invokes]

    def run(self, run_id: str) -> dict[str, Any] | None:
        return self.runs.get(run_id)

    def wait_run(self, run_id: str, statuses: Any = None, timeout_s: float = 0) -> Any:
        return self.runs.get(run_id)

    def invokes(self, function_id: str) -> list[Received]:
        return self.received


def invoke(attempt: int, steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"functionId": "f", "attempt": attempt, "steps": steps, **extra}


def test_a_run_differing_in_any_expected_member_fails() -> None:
    ws = StubWorkspace({"r": {"status": "failed", "error": {"code": "E", "message": "m"},
                              "failureHandler": {"status": "failed"}}}, [])
    good = {"function": "f", "status": "failed", "error": {"code": "E"},
            "failureHandler": "failed"}
    result = Result("c", "runs", ["X-1"])
    check_run(result, ws, "r", good)  # type: ignore[arg-type]
    assert result.status == PASS
    for wrong in ({**good, "status": "completed"}, {**good, "error": {"code": "F"}},
                  {**good, "failureHandler": "completed"}, {**good, "output": 1}):
        result = Result("c", "runs", ["X-1"])
        check_run(result, ws, "r", wrong)  # type: ignore[arg-type]
        assert result.status == FAIL and result.failures[0].startswith("[X-1]"), wrong


def test_invocations_are_compared_in_count_attempt_steps_data_and_timing() -> None:
    ws = StubWorkspace({}, [(1000, invoke(0, {})),
                            (2600, invoke(1, {"w": {"type": "wait", "data": None}},
                                          event={"data": {"n": 2}}))])
    good = [{"attempt": 0, "steps": []},
            {"attempt": 1, "steps": ["w"], "stepsData": {"w": None}, "eventData": {"n": 2},
             "gapMs": {"min": 1500, "max": 2000}}]
    result = Result("c", "runs", ["X-1"])
    check_invocations(result, ws, "f", good)  # type: ignore[arg-type]
    assert result.status == PASS, result.failures
    for index, change in ((1, {"attempt": 0}), (1, {"steps": []}),
                          (1, {"stepsData": {"w": 1}}), (1, {"eventData": {"n": 3}}),
                          (1, {"gapMs": {"min": 1700}}), (1, {"gapMs": {"max": 1500}}),
                          (0, {"failure": {"message": "x"}})):
        wrong = [dict(item) for item in good]
        wrong[index].update(change)
        result = Result("c", "runs", ["X-1"])
        check_invocations(result, ws, "f", wrong)  # type: ignore[arg-type]
        assert result.status == FAIL, change
    result = Result("c", "runs", ["X-1"])
    check_invocations(result, ws, "f", good[:1])  # type: ignore[arg-type]
    assert result.status == FAIL
