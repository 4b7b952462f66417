"""A deliberately broken SDK fails the suite, and the failure names the requirement IDs.

The fake engine runs the real spec vectors against tests/broken_app.py (no SDK
involved) over real HTTP: once correct (control), once signing answers with the wrong
key, once never emitting the `sleep` op. The runner's exit code and output are checked
through the CLI, as a user would see them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from durable_conformance.checks import ids
from durable_conformance.spec import Spec

HERE = Path(__file__).resolve().parent
APP = HERE / "broken_app.py"


def transcripts(function: str, op: str | None = None) -> list[Any]:
    cases = [c for c in Spec().vectors("replay") if c.data.get("function") == function
             and c.data["request"].get("functionId") == function
             and c.data.get("expectStatus", 200) == 200 and not c.capabilities
             and "failure" not in c.data["request"]
             and "ERR-8" not in c.requirements]  # the broken app raises no SDK errors
    if op is not None:
        cases = [c for c in cases if c.data["expect"].get("op") == op]
    if not cases:
        pytest.fail(f"spec/vectors/replay has no transcript of {function!r} (op {op}) to run")
    return cases


def run_suite(tmp_path: Path, mode: str) -> tuple[int, str, dict[str, Any]]:
    harness = {"harness": 1, "kind": "sdk", "start": [sys.executable, str(APP)],
               "env": {"BROKEN": mode}, "readyTimeoutSeconds": 30}
    harness_file = tmp_path / f"broken-{mode or 'none'}.json"
    harness_file.write_text(json.dumps(harness))
    env = {**os.environ, "DURABLE_CONFORMANCE_REPORTS": str(tmp_path / "reports")}
    done = subprocess.run(
        [sys.executable, "-m", "durable_conformance", "run", str(harness_file)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    report = json.loads((tmp_path / "reports" / f"{harness_file.stem}.json").read_text())
    by_case = {r["case"]: r for r in report["results"]}
    return done.returncode, done.stdout + done.stderr, by_case


def test_control_app_passes_the_cases_the_broken_ones_fail(tmp_path: Path) -> None:
    _, output, results = run_suite(tmp_path, "")
    for case in transcripts("serial") + transcripts("sleeper"):
        assert results[case.id]["status"] == "pass", output


def test_wrong_response_signature_names_the_signature_requirement(tmp_path: Path) -> None:
    code, output, results = run_suite(tmp_path, "signature")
    assert code == 1, output
    signature_ids = ids("response-signature")
    assert signature_ids
    for case in transcripts("serial"):
        result = results[case.id]
        assert result["status"] == "fail", output
        assert set(signature_ids) <= set(result["violated"])
        for requirement in signature_ids:
            assert f"[{requirement}]" in "\n".join(result["failures"])
    # The summary line lists the violated IDs too.
    summary = [line for line in output.splitlines() if "UNEXPECTED FAILURES" in line]
    assert summary and all(r in summary[0] for r in signature_ids), output


def test_missing_sleep_op_names_the_transcript_requirements(tmp_path: Path) -> None:
    code, output, results = run_suite(tmp_path, "missing-op")
    assert code == 1, output
    for case in transcripts("sleeper", op="sleep"):
        result = results[case.id]
        assert result["status"] == "fail", output
        for requirement in case.requirements:
            assert requirement in result["violated"]
            assert requirement in output
        assert "/op: expected 'sleep', got 'done'" in output
    # The serial transcripts are untouched by this bug and still pass.
    for case in transcripts("serial"):
        assert results[case.id]["status"] == "pass", output
