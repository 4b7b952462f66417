"""The matrix's n/a cells, gating and cross-check wording, and the porting guide's
worked example (its MACs must be what the rules compute)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from durable_conformance import signing
from durable_conformance.matrix import NOT_APPLICABLE, build, cross_check_lines, markdown
from durable_conformance.paths import repo_root

SCOPE = {"OP-10": {"engine": "MUST"}, "OP-2": {"app": "MUST", "engine": "MUST"},
         "DUR-3": {"app": "MUST"}, "SIG-9": {"app": "MUST", "engine": "MUST"}}


def report(target: str, results: list[dict[str, Any]], kind: str = "sdk") -> dict[str, Any]:
    return {"target": target, "kind": kind, "specDigest": "d", "capabilities": [],
            "results": results}


def result(case: str, requirements: list[str], status: str = "pass", reason: str = "",
           op: Any = None) -> dict[str, Any]:
    return {"case": case, "area": "replay", "requirements": requirements, "status": status,
            "reason": reason, "violated": [], "op": op}


def write(folder: Path, *reports: dict[str, Any]) -> None:
    for item in reports:
        (folder / f"{item['target']}.json").write_text(json.dumps(item))


def test_an_engine_only_requirement_is_na_in_an_sdk_column(tmp_path: Path) -> None:
    write(tmp_path, report("python", [result("r1", ["OP-2", "OP-10"])]))
    matrix = build(tmp_path, {k: "" for k in SCOPE}, "d", SCOPE)
    cells = {row["id"]: row["cells"]["python"] for row in matrix["requirements"]}
    assert cells["OP-10"]["status"] == NOT_APPLICABLE
    assert cells["OP-2"]["status"] == "pass"
    assert "| OP-10 | n/a |" in markdown(matrix)


def test_a_missing_driver_leaves_a_required_gap(tmp_path: Path) -> None:
    write(tmp_path, report("go", [result("r1", ["OP-2"]), result(
        "v2", ["SIG-9"], "skipped", "capability not advertised: timestamped-signatures")]))
    summary = build(tmp_path, {k: "" for k in SCOPE}, "d", SCOPE)["summary"]["go"]["required"]
    # DUR-3 is only checked through a driver: not covered, so the run fails.
    assert summary["gaps"] == ["DUR-3"]
    # A capability the target does not advertise does not bind it.
    assert summary["notAdvertised"] == ["SIG-9"]


def test_the_cross_check_needs_two_sdks() -> None:
    one = [{"case": "c", "targets": ["python"], "identical": True, "ops": {}, "statuses": {}}]
    assert "only python answered" in cross_check_lines(one)[0]
    two = [{"case": "c", "targets": ["python", "ts"], "identical": True, "ops": {},
            "statuses": {}}]
    assert cross_check_lines(two)[0].startswith("1 of 1 transcripts answered by two or more")


def test_the_porting_guide_macs_are_right() -> None:
    text = (repo_root() / "conformance" / "PORTING.md").read_text()
    example = text.split("## A worked example", 1)[1]
    key, stamp = "conformance-signing-key-0001", "1767225600000"
    blocks = re.findall(r"```\n(.*?)```", example, re.S)
    checked = 0
    body = b""
    for block in blocks:
        lines = block.strip().splitlines()
        bodies = [line for line in lines if line.startswith("{")]
        body = bodies[0].encode() if bodies else body  # an answer's V2 signs the last body
        for line in lines:
            name, _, value = line.partition(": ")
            if name == "X-Durable-Signature":
                message = stamp.encode() if "GET" in block else body
                assert value == signing.mac(key, message), line
                checked += 1
            elif name == "X-Durable-Signature-V2":
                assert value == signing.mac(key, signing.v2_input(stamp, body)), line
                checked += 1
    assert checked == 7


def test_the_lint_check_computes_the_runners_digest() -> None:
    import importlib.util

    from durable_conformance.spec import Spec

    tool = repo_root() / "conformance" / "tools" / "check_matrix.py"
    spec = importlib.util.spec_from_file_location("check_matrix", tool)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.spec_digest(repo_root() / "spec") == Spec().digest
