"""`python -m durable_conformance run <target>`: run the suite, write the matrix, exit 1 on
any unexpected failure. `matrix` rebuilds the matrix from the stored reports; `ids`
checks that the built-in checks cite requirement IDs the spec defines."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from . import HARNESS_PROTOCOL
from .checks import CHECKS
from .driver import DRIVER_PROTOCOL, DriverConfig, run_driver
from .harness import Harness, HarnessError
from .matrix import build, cross_check_lines, markdown
from .paths import reports_dir
from .results import ERROR, EXPECTED, FAIL, Result
from .spec import Spec


def log(message: str) -> None:
    print(f"[conformance] {message}", flush=True)


def apply_expected_gaps(harness: Harness, results: list[Result]) -> None:
    """A failure is expected only when every ID it violates is a declared gap."""
    for result in results:
        if result.status != FAIL:
            continue
        if result.case in harness.expected_cases:
            result.status, result.reason = EXPECTED, harness.expected_cases[result.case]
            continue
        if result.function in harness.expected_functions:
            result.status = EXPECTED
            result.reason = f"{result.function}: {harness.expected_functions[result.function]}"
            continue
        violated = result.violated or result.requirements
        if violated and all(r in harness.expected_requirements for r in violated):
            result.status = EXPECTED
            result.reason = "; ".join(
                f"{r}: {harness.expected_requirements[r]}" for r in violated)


def run(target: str) -> int:
    started = time.time()
    spec = Spec()
    try:
        harness = Harness.load(target)
        driver = DriverConfig(harness)  # a bad driver member stops the run before it starts
    except HarnessError as error:
        log(f"ERROR {error}")
        return 2
    target = harness.target
    log(f"target {target} ({harness.kind}), harness protocol {HARNESS_PROTOCOL}")
    capabilities: list[str] = []
    if harness.kind == "engine":
        from .engine_suite import EngineSuite

        suite = EngineSuite(harness, spec, log)
        results = suite.run()
    elif harness.kind == "engine-grpc":
        from .engine_grpc import GrpcEngineSuite

        results = GrpcEngineSuite(harness, spec, log).run()
    else:
        from .fake_engine import FakeEngine

        engine = FakeEngine(harness, spec, log)
        results = engine.run()
        capabilities = engine.capabilities
    if driver.present:
        # The pure-function vectors, through the implementation's own code.
        results += run_driver(harness, spec, log,
                              None if harness.kind.startswith("engine") else capabilities)
    apply_expected_gaps(harness, results)
    folder = reports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "target": target, "kind": harness.kind, "harnessProtocol": HARNESS_PROTOCOL,
        "capabilities": capabilities, "specDigest": spec.digest,
        "driverProtocol": DRIVER_PROTOCOL if driver.present else None,
        "driverAreas": driver.areas if driver.present else [],
        "declaredGaps": harness.expected_requirements,
        "startedAt": started, "finishedAt": time.time(),
        "results": [r.to_json() for r in results],
    }
    (folder / f"{target}.json").write_text(json.dumps(report, indent=2) + "\n")
    matrix = build(folder, spec.requirement_ids, spec.digest)
    (folder / "matrix.json").write_text(json.dumps(matrix, indent=2) + "\n")
    # The committed matrix.md is written only by `matrix` (nox -s conformance-matrix).
    (folder / "run-matrix.md").write_text(markdown(matrix))

    for result in results:
        if result.status != "pass":
            print(result.line())
    crossed = [row for row in matrix["crossCheck"]
               if not row["identical"] and target in row["targets"]
               and all(s == "pass" for s in row["statuses"].values())]
    for row in crossed:
        print(f"FAIL          cross-check/{row['case']}: ops differ between "
              f"{', '.join(row['targets'])} although each matches the transcript")
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    unknown = sorted({r for res in results for r in res.violated}
                     - set(spec.requirement_ids)) if spec.requirement_ids else []
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    log(f"{target}: {summary} ({time.time() - started:.1f}s)")
    if unknown:
        log(f"note: failures cite IDs not defined in spec/wire-protocol.md: {unknown}")
    for name in matrix["targets"]:
        c = matrix["summary"][name]["counts"]
        log(f"  matrix {name:10} pass {c['pass']:3}  fail {c['fail']:2}  error {c['error']:2}"
            f"  expected gap {c['expected-fail']:2}  skipped {c['skipped']:2}")
    if harness.kind == "sdk":
        log(f"  cross-check: {cross_check_lines(matrix['crossCheck'])[0]}")
    log(f"matrix: {folder / 'run-matrix.md'} and matrix.json")
    bad = [r for r in results if r.status in (FAIL, ERROR)]
    if bad or crossed:
        failing_ids = sorted({i for r in bad for i in (r.violated or r.requirements)})
        log(f"UNEXPECTED FAILURES: {len(bad) + len(crossed)}; requirement IDs: "
            f"{', '.join(failing_ids) or '-'}")
        return 1
    # Every target shows every requirement it MUST meet passing, or declares the gap.
    required = matrix["summary"][target].get("required", {})
    log(f"  required of {target}: {required.get('passing', 0)} of"
        f" {required.get('total', 0)} passing")
    if required.get("declared"):
        log(f"  declared gaps of {target} (harness expectedGaps): "
            f"{', '.join(required['declared'])}")
    if required.get("gaps"):
        log(f"NOT COVERED: {target} MUST meet {', '.join(required['gaps'])} (see"
            " spec/requirements.json) and no passing case checked it")
        if not driver.present:
            log("  the harness names no `driver`: the durations and client cases did not"
                " run (conformance/PORTING.md, Vector drivers)")
        return 1
    expected = sum(1 for r in results if r.status == EXPECTED)
    log(f"OK: no unexpected failure ({expected} expected gaps)")
    return 0


def check_ids() -> int:
    defined = Spec().requirement_ids
    if not defined:
        log("spec/wire-protocol.md defines no requirement IDs yet")
        return 1
    missing = {check: [i for i in cited if i not in defined] for check, cited in CHECKS.items()}
    missing = {k: v for k, v in missing.items() if v}
    for check, cited in missing.items():
        log(f"check {check} cites undefined {cited}")
    return 1 if missing else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="durable_conformance")
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run the suite against one target")
    run_parser.add_argument("target", help="a harness name: conformance/harnesses/<target>.json")
    sub.add_parser("matrix", help="rebuild reports/matrix.{md,json} from stored reports")
    sub.add_parser("ids", help="check the requirement IDs the built-in checks cite")
    mutants_parser = sub.add_parser("mutants", help="run the suite against broken copies of"
                                    " the Python SDK; fail unless every one is caught")
    mutants_parser.add_argument("only", nargs="*", help="mutant ids (default: all)")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.target)
    if args.command == "mutants":
        from .mutants import main as mutants

        return mutants(args.only or None)
    if args.command == "ids":
        return check_ids()
    print(write_matrix())
    return 0


def write_matrix() -> str:
    spec = Spec()
    matrix = build(reports_dir(), spec.requirement_ids, spec.digest)
    (reports_dir() / "matrix.json").write_text(json.dumps(matrix, indent=2) + "\n")
    text = markdown(matrix)
    (reports_dir() / "matrix.md").write_text(text)
    return text


if __name__ == "__main__":
    sys.exit(main())
