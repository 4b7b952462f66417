"""A deliberately broken gRPC handler fails the engine-grpc suite with its requirement ID.

The real engine runs with IngestEvents broken (broken_grpc_engine.py) under the real
runner, through its CLI; the other gRPC cases of the same run pass. Needs the engine and
grpcio-tools (`nox -s conformance-engine-grpc` runs it); skipped without them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("durable_engine.grpc_api")
pytest.importorskip("grpc_tools")

HERE = Path(__file__).resolve().parent


def test_a_broken_ingest_handler_fails_grpc_7(tmp_path: Path) -> None:
    harness = {
        "harness": 1, "kind": "engine-grpc", "cwd": ".", "env": {"DURABLE_ENV": "dev"},
        "start": [sys.executable, str(HERE / "broken_grpc_engine.py"), "serve", "--host",
                  "127.0.0.1", "--port", "{port}", "--pgdata", "{tmp}/pgdata", "--pg-port",
                  "{free_port}", "--grpc-port", "{grpc_port}"],
        "grpcPort": "{grpc_port}", "path": "/health", "readyTimeoutSeconds": 180,
        "stopTimeoutSeconds": 30}
    harness_file = tmp_path / "engine-grpc-broken.json"
    harness_file.write_text(json.dumps(harness))
    env = {**os.environ, "DURABLE_CONFORMANCE_REPORTS": str(tmp_path / "reports")}
    done = subprocess.run([sys.executable, "-m", "durable_conformance", "run",
                           str(harness_file)], capture_output=True, text=True, env=env,
                          timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "UNEXPECTED FAILURES" in output and "GRPC-7" in output, output
    report = json.loads((tmp_path / "reports" / "engine-grpc-broken.json").read_text())
    by_case = {r["case"]: r for r in report["results"]}
    assert by_case["grpc-ingest"]["status"] == "fail", by_case["grpc-ingest"]
    assert "GRPC-7" in by_case["grpc-ingest"]["violated"]
    for case in ("grpc-watch-run", "grpc-signatures", "grpc-bad-messages", "serial"):
        assert by_case[case]["status"] == "pass", (case, by_case[case])
