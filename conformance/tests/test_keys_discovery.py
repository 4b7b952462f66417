"""The primary-key, dev discovery and wrong-method cases fail a broken app, naming the rule.

tests/keys_discovery_app.py is run by the real runner (CLI, real HTTP), once correct
(control) and once per bug; only the cases under test are looked at (the app serves
`serial` alone, so most transcripts fail in every run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

APP = Path(__file__).resolve().parent / "keys_discovery_app.py"
CASES = ("primary-key", "discovery-dev", "discovery-not-dev", "wrong-method")


def run_suite(tmp_path: Path, mode: str) -> tuple[str, dict[str, Any]]:
    harness = {"harness": 1, "kind": "sdk", "start": [sys.executable, str(APP)],
               "env": {"BROKEN": mode}, "readyTimeoutSeconds": 30}
    harness_file = tmp_path / ("keys-broken.json" if mode else "keys-control.json")
    harness_file.write_text(json.dumps(harness))
    env = {**os.environ, "DURABLE_CONFORMANCE_REPORTS": str(tmp_path / "reports")}
    done = subprocess.run(
        [sys.executable, "-m", "durable_conformance", "run", str(harness_file)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    report = json.loads((tmp_path / "reports" / f"{harness_file.stem}.json").read_text())
    return done.stdout + done.stderr, {r["case"]: r for r in report["results"]}


def test_control_app_passes_the_key_discovery_and_method_cases(tmp_path: Path) -> None:
    output, results = run_suite(tmp_path, "")
    for case in CASES:
        assert results[case]["status"] == "pass", output
    assert {"KEY-3", "KEY-2"} <= set(results["primary-key"]["requirements"])
    assert "DISC-2" in results["discovery-dev"]["requirements"]
    assert "ROLE-1" in results["wrong-method"]["requirements"]


BUGS = [  # mode, the case it breaks, the requirement named, a piece of the message
    ("fallback-signs", "primary-key", "KEY-3", "made with the fallback key"),
    ("discovery-always", "discovery-not-dev", "DISC-2", "expected 401"),
    ("discovery-no-key", "discovery-dev", "DISC-2", "signingKey is not the app's key"),
    ("options", "wrong-method", "ROLE-1", "HTTP 204 (expected 405)"),
]


def test_broken_app_fails_each_case_naming_the_requirement(tmp_path: Path) -> None:
    # Each bug breaks a different case, so one run with all of them shows each failure.
    output, results = run_suite(tmp_path, ",".join(mode for mode, *_ in BUGS))
    for _, case, requirement, message in BUGS:
        result = results[case]
        assert result["status"] == "fail", output
        assert requirement in result["violated"]
        assert any(message in failure and requirement in failure
                   for failure in result["failures"]), result["failures"]
