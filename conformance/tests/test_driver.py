"""Vector drivers (driver protocol 1): the runner feeds spec/vectors cron, match, keys and
durations cases to a driver and judges its answers. tests/broken_driver.py answers right
(control) or wrong in known ways; a wrong answer must fail with the case's requirement
IDs named, a driver that breaks must give errors, never passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from durable_conformance.driver import APP_HOPS, DriverConfig, run_driver
from durable_conformance.driver import VECTOR_AREAS as AREAS
from durable_conformance.harness import Harness, HarnessError
from durable_conformance.results import ERROR, FAIL, PASS, SKIP, Result
from durable_conformance.spec import Spec

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "broken_driver.py"
APP = HERE / "broken_app.py"


def harness(tmp_path: Path, mode: str, **members: Any) -> Harness:
    data = {"harness": 1, "kind": "engine", "driver": [sys.executable, str(DRIVER)],
            "env": {"BROKEN_DRIVER": mode}, "readyTimeoutSeconds": 30, **members}
    path = tmp_path / f"driver-{mode}.json"
    path.write_text(json.dumps(data))
    return Harness.load(str(path))


@pytest.fixture(autouse=True)
def scratch_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Driver logs go to the test's folder, not conformance/reports/logs."""
    monkeypatch.setenv("DURABLE_CONFORMANCE_REPORTS", str(tmp_path / "reports"))


def drive(tmp_path: Path, mode: str, **members: Any) -> dict[str, Result]:
    results = run_driver(harness(tmp_path, mode, **members), Spec(), lambda _: None)
    return {r.case: r for r in results}


def vector_cases(*areas: str) -> list[Any]:
    cases = [case for area in areas for case in Spec().vectors(area)
             if area != "signatures" or case.data["hop"] in APP_HOPS]
    if not cases:
        pytest.fail(f"spec/vectors has no {areas} cases to drive")
    return cases


def test_control_driver_passes_every_case_once(tmp_path: Path) -> None:
    results = drive(tmp_path, "echo")
    cases = vector_cases(*AREAS)
    assert set(results) == {case.id for case in cases}
    for case in cases:
        result = results[case.id]
        assert (result.status, result.area) == (PASS, case.area), result.line()
        assert result.requirements == case.requirements


def test_wrong_answers_fail_with_the_requirement_ids_named(tmp_path: Path) -> None:
    results = drive(tmp_path, "wrong")
    for case in vector_cases(*AREAS):
        result = results[case.id]
        assert result.status == FAIL, result.line()
        assert result.violated == case.requirements
        assert result.failures[0].startswith(f"[{', '.join(case.requirements)}] ")
    dst = results["cron-dst-spring-skip"].failures[0]
    assert "[CRON-3, CRON-4]" in dst and "2026-03-28T01:31:00.000Z" in dst
    assert "accepted the invalid expression '@daily'" in results["cron-invalid-macro"].failures[0]
    assert "expected 250 ms, got 251" in results["dur-250ms"].failures[0]
    assert 'accepted the invalid duration "2 s"' in results["dur-bad-space-19"].failures[0]
    assert "expected 'null', got None" in results["key-missing"].failures[0]


def test_areas_are_limited_to_driver_areas(tmp_path: Path) -> None:
    results = drive(tmp_path, "echo", driverAreas=["durations"])
    assert {r.area for r in results.values()} == {"durations"}
    assert len(results) == len(vector_cases("durations"))


def test_skip_cases_skip_driver_cases_too(tmp_path: Path) -> None:
    results = drive(tmp_path, "wrong", driverAreas=["durations"],
                    skipCases={"dur-2s": "known bug #12"})
    assert (results["dur-2s"].status, results["dur-2s"].reason) == (SKIP, "known bug #12")
    assert results["dur-5m"].status == FAIL


def test_unsupported_area_is_skipped_with_the_reason(tmp_path: Path) -> None:
    results = drive(tmp_path, "unsupported", driverAreas=["keys", "durations"])
    for case in vector_cases("keys"):
        assert results[case.id].status == SKIP
        assert "does not implement area keys" in results[case.id].reason
    assert all(results[c.id].status == PASS for c in vector_cases("durations"))


@pytest.mark.parametrize(("mode", "message"), [
    ("error", "driver error: resolver blew up"),
    ("garbage", "not JSON: 'matches: yes'"),
])
def test_driver_error_or_garbage_is_an_error_not_a_pass(
        tmp_path: Path, mode: str, message: str) -> None:
    results = drive(tmp_path, mode, driverAreas=["match", "keys"])
    for case in vector_cases("match"):
        assert results[case.id].status == ERROR
        assert message in results[case.id].failures[0]
    # The next area still runs: one bad answer does not derail the line protocol.
    assert all(results[c.id].status == PASS for c in vector_cases("keys"))


def test_crashed_driver_gives_errors_for_the_rest(tmp_path: Path) -> None:
    results = drive(tmp_path, "crash", driverAreas=["durations"])
    statuses = [results[c.id].status for c in vector_cases("durations")]
    assert statuses[:3] == [PASS] * 3 and set(statuses[3:]) == {ERROR}
    assert "driver crashed on purpose" in results[vector_cases("durations")[3].id].failures[0]


@pytest.mark.parametrize("members", [
    {"driver": []},
    {"driverAreas": ["cron", "sql"]},
    {"driverProtocol": 2},
])
def test_bad_driver_members_are_harness_errors(tmp_path: Path, members: dict[str, Any]) -> None:
    with pytest.raises(HarnessError):
        DriverConfig(harness(tmp_path, "echo", **members))
    data = {"harness": 1, "kind": "engine", "driverAreas": ["cron"]}
    (tmp_path / "no-driver.json").write_text(json.dumps(data))
    with pytest.raises(HarnessError, match="without a `driver`"):
        DriverConfig(Harness.load(str(tmp_path / "no-driver.json")))


def test_cli_run_reports_driver_failures_by_requirement(tmp_path: Path) -> None:
    """Through `run`, as a user sees it: the SDK suite against broken_app.py, then the
    driver; driver failures reach the report, the exit code and the summary line."""
    data = {"harness": 1, "kind": "sdk", "start": [sys.executable, str(APP)],
            "driver": [sys.executable, str(DRIVER)], "driverAreas": ["durations"],
            "env": {"BROKEN_DRIVER": "wrong"}, "readyTimeoutSeconds": 30}
    harness_file = tmp_path / "sdk-with-driver.json"
    harness_file.write_text(json.dumps(data))
    env = {**os.environ, "DURABLE_CONFORMANCE_REPORTS": str(tmp_path / "reports")}
    done = subprocess.run(
        [sys.executable, "-m", "durable_conformance", "run", str(harness_file)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    report = json.loads((tmp_path / "reports" / "sdk-with-driver.json").read_text())
    assert report["driverProtocol"] == 1 and report["driverAreas"] == ["durations"]
    by_case = {r["case"]: r for r in report["results"]}
    for case in vector_cases("durations"):
        assert by_case[case.id]["status"] == FAIL
        assert f"FAIL          durations/{case.id} [{', '.join(case.requirements)}]" in output
    summary = [line for line in output.splitlines() if "UNEXPECTED FAILURES" in line]
    assert summary and all(f"DUR-{n}" in summary[0] for n in (1, 2, 3)), output
