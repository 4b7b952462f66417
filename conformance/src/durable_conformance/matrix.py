"""The compliance matrix: requirement IDs x implementations, as JSON and Markdown."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .results import ERROR, EXPECTED, FAIL, PASS, SKIP

# When several cases cite one requirement, the worst status decides the cell.
RANK = {ERROR: 5, FAIL: 4, EXPECTED: 3, PASS: 2, SKIP: 1}
SDK_TARGETS = ("python", "ts", "php", "published")
# The parties of requirements.json whose rules a target of each harness kind must meet
# (an SDK answers for its app endpoint and its engine-API client).
PARTIES = {"sdk": ("app", "client"), "engine": ("engine",), "engine-grpc": ("grpc",)}
# The parties whose rules a target's cases can show met (a cell is n/a otherwise): the
# gRPC column runs engine scenarios over gRPC, so engine rules apply to it, though only
# the GRPC-* ones gate it.
APPLIES = {**PARTIES, "engine-grpc": ("grpc", "engine")}
NOT_COVERED = "not-covered"
NOT_OBSERVABLE = "not-observable"
# A requirement that binds none of the target's parties (requirements.json): a case of
# this target may cite it (an engine-side rule a transcript also shows), it cannot meet it.
NOT_APPLICABLE = "n/a"
NOT_ADVERTISED = "capability not advertised"


@dataclass
class Cell:
    status: str
    cases: list[str]
    reasons: list[str]

    def text(self) -> str:
        if self.status == PASS:
            return f"pass ({len(self.cases)})"
        if self.status == SKIP:
            return "skipped: " + "; ".join(sorted(set(self.reasons)))[:120]
        if self.status == NOT_COVERED:
            return "**NOT COVERED**"
        if self.status == NOT_OBSERVABLE:
            return "not observable"
        if self.status == NOT_APPLICABLE:
            return "n/a"
        if self.status == EXPECTED:
            return "expected gap: " + "; ".join(sorted(set(self.reasons)))[:120]
        return f"**{self.status.upper()}**: " + ", ".join(self.cases)[:160]


def load_reports(folder: Path, digest: str | None = None) -> dict[str, dict[str, Any]]:
    """Stored reports made against the spec with this digest (others are stale)."""
    reports: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.json")):
        if path.name == "matrix.json":
            continue
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(data, dict) and "target" in data and "results" in data:
            if digest is None or data.get("specDigest") == digest:
                reports[data["target"]] = data
    return reports


def cells(report: dict[str, Any]) -> dict[str, Cell]:
    table: dict[str, Cell] = {}
    for result in report["results"]:
        status = result["status"]
        for requirement in result["requirements"]:
            # A case that failed on other IDs still passed the ones it did not violate.
            own = status
            if status in (FAIL, ERROR, EXPECTED) and result["violated"] and \
                    requirement not in result["violated"]:
                own = PASS
            cell = table.setdefault(requirement, Cell(own, [], []))
            if RANK[own] > RANK[cell.status]:
                cell.status, cell.cases, cell.reasons = own, [], []
            if own == cell.status:
                cell.cases.append(result["case"])
                if result.get("reason"):
                    cell.reasons.append(result["reason"])
    return table


def cross_check(reports: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per replay case: do all SDKs that answered give the same normalised op?"""
    ops: dict[str, dict[str, tuple[str, Any]]] = {}
    for target, report in reports.items():
        if report.get("kind") != "sdk":
            continue
        for result in report["results"]:
            if result["area"] == "replay" and result.get("op") is not None:
                ops.setdefault(result["case"], {})[target] = (result["status"], result["op"])
    rows = []
    for case, by_target in sorted(ops.items()):
        bodies = {json.dumps(op, sort_keys=True) for _, op in by_target.values()}
        rows.append({
            "case": case,
            "targets": sorted(by_target),
            "identical": len(bodies) == 1,
            "ops": {t: op for t, (_, op) in sorted(by_target.items())},
            "statuses": {t: s for t, (s, _) in sorted(by_target.items())},
        })
    return rows


def build(folder: Path, requirement_text: dict[str, str], digest: str,
          scope: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    if scope is None:
        from .spec import Spec
        scope = Spec().scope
    reports = load_reports(folder, digest)
    targets = [t for t in (*SDK_TARGETS, "engine", "engine-grpc") if t in reports]
    targets += sorted(t for t in reports if t not in targets)
    table = {t: cells(reports[t]) for t in targets}
    for target in targets:
        parties = APPLIES.get(reports[target].get("kind", "sdk"), ())
        for rid in table[target]:
            if not any(party in scope.get(rid, {}) for party in parties):
                table[target][rid] = Cell(NOT_APPLICABLE, [], [])
    cited = {r for t in targets for r in table[t]}
    requirement_ids = sorted(set(requirement_text) | cited, key=_id_key)
    matrix = {
        "specDigest": digest,
        "targets": targets,
        "requirements": [
            {
                "id": rid,
                "defined": rid in requirement_text or not requirement_text,
                "binds": {k: v for k, v in scope.get(rid, {}).items() if k != "notObservable"},
                "cells": {
                    t: ({"status": c.status, "cases": c.cases, "reasons": sorted(set(c.reasons))}
                        if (c := table[t].get(rid)) else
                        _empty(scope.get(rid, {}), reports[t].get("kind", "sdk"),
                               reports[t].get("declaredGaps", {}).get(rid)))
                    for t in targets
                },
            }
            for rid in requirement_ids
        ],
        "summary": {t: summarise(reports[t]) for t in targets},
        "crossCheck": cross_check(reports),
    }
    mutants = folder / "mutants.json"
    if mutants.is_file():
        found = json.loads(mutants.read_text())
        if found.get("specDigest") == digest:
            matrix["mutants"] = found
    for target in targets:
        matrix["summary"][target]["required"] = required_summary(matrix, target)
    return matrix


def _empty(entry: dict[str, str], kind: str, declared: str | None = None
           ) -> dict[str, Any] | None:
    """The cell of a requirement no case of this target cited: a gap when the target's
    party must meet it (an expected one when the harness declares it, with its reason),
    else nothing to show."""
    if not any(entry.get(party) == "MUST" for party in PARTIES.get(kind, ())):
        return None
    if "notObservable" in entry:
        return {"status": NOT_OBSERVABLE, "cases": [], "reasons": [entry["notObservable"]]}
    if declared is not None:
        return {"status": EXPECTED, "cases": [], "reasons": [declared]}
    return {"status": NOT_COVERED, "cases": [], "reasons": []}


def required_summary(matrix: dict[str, Any], target: str) -> dict[str, Any]:
    """Of the requirements the target's party MUST meet: how many pass, which do not."""
    parties = PARTIES.get(matrix["summary"][target].get("kind", "sdk"), ())
    total, passing, gaps, unobservable, not_advertised = 0, 0, [], [], []
    declared: list[str] = []
    for row in matrix["requirements"]:
        cell = row["cells"][target]
        if not any(row["binds"].get(party) == "MUST" for party in parties):
            continue
        if cell is not None and cell["status"] == NOT_OBSERVABLE:
            unobservable.append(row["id"])
            continue
        if cell is not None and cell["status"] == SKIP and cell["reasons"] and all(
                r.startswith(NOT_ADVERTISED) for r in cell["reasons"]):
            # A capability's rules bind an app that advertises it ([VER-1]).
            not_advertised.append(row["id"])
            continue
        total += 1
        if cell is not None and cell["status"] == PASS:
            passing += 1
        elif cell is not None and cell["status"] == EXPECTED:
            declared.append(row["id"])  # a gap the harness file declares, with its reason
        else:
            gaps.append(row["id"])
    return {"total": total, "passing": passing, "gaps": gaps, "declared": declared,
            "notObservable": unobservable, "notAdvertised": not_advertised}


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    counts = {s: 0 for s in RANK}
    for result in report["results"]:
        counts[result["status"]] += 1
    return {"counts": counts, "capabilities": report.get("capabilities", []),
            "generatedAt": report.get("finishedAt"), "kind": report.get("kind", "sdk")}


def markdown(matrix: dict[str, Any]) -> str:
    targets = matrix["targets"]
    lines = ["# Compliance matrix", "",
             "Generated by `python -m durable_conformance` (`nox -s conformance-matrix`"
             " regenerates this file from a run of every target); one column per"
             " implementation. `expected gap` = declared in the harness file; `skipped` ="
             " capability not advertised or not applicable; `NOT COVERED` = the spec"
             " (`spec/requirements.json`) says this implementation MUST meet the"
             " requirement and no case checked it; `n/a` = a case of this column cites"
             " the requirement but it binds none of the column's parties (an SDK cannot"
             " meet an engine-only rule); `-` = the requirement does not bind it"
             " or only at SHOULD/MAY level.", "",
             f"Spec digest (vectors and schemas): `{matrix['specDigest']}`.", "",
             "| implementation | required passing | pass | fail | error | expected gap |"
             " skipped | capabilities |",
             "|---|---|---|---|---|---|---|---|"]
    for target in targets:
        s = matrix["summary"][target]
        c = s["counts"]
        need = s.get("required", {})
        lines.append(f"| {target} | {need.get('passing', 0)} of {need.get('total', 0)} |"
                     f" {c[PASS]} | {c[FAIL]} | {c[ERROR]} | {c[EXPECTED]} |"
                     f" {c[SKIP]} | {', '.join(s['capabilities']) or '-'} |")
    lines += ["", "## Required requirements not passing", ""]
    for target in targets:
        need = matrix["summary"][target].get("required", {})
        gaps = need.get("gaps", [])
        lines.append(f"- **{target}**: {', '.join(gaps) if gaps else 'none'}")
        if need.get("declared"):
            lines.append(f"  (declared gaps, see the harness file: {', '.join(need['declared'])})")
        if need.get("notAdvertised"):
            lines.append("  (capability not advertised, so not binding:"
                         f" {', '.join(need['notAdvertised'])})")
        if need.get("notObservable"):
            lines.append(f"  (not observable over the wire: {', '.join(need['notObservable'])})")
    lines += ["", "## Requirements", "", "| requirement | " + " | ".join(targets) + " |",
              "|---|" + "---|" * len(targets)]
    for row in matrix["requirements"]:
        name = row["id"] + ("" if row["defined"] else " (not in spec)")
        texts = []
        for target in targets:
            cell = row["cells"][target]
            texts.append(Cell(cell["status"], cell["cases"], cell["reasons"]).text()
                         if cell else "-")
        lines.append(f"| {name} | " + " | ".join(texts) + " |")
    lines += ["", "## Cross-check (replay ops after normalisation)", ""]
    lines += cross_check_lines(matrix["crossCheck"])
    if matrix.get("mutants"):
        lines += ["", "## Mutation testing (`nox -s conformance-mutants`)", ""]
        lines += mutant_lines(matrix["mutants"])
    return "\n".join(lines) + "\n"


def cross_check_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Only a transcript two or more SDKs answered can be compared."""
    compared = [r for r in rows if len(r["targets"]) > 1]
    answered = sorted({t for r in rows for t in r["targets"]})
    if not compared:
        if not answered:
            return ["No replay answers recorded yet."]
        return [f"Nothing to compare: only {', '.join(answered)} answered the transcripts"
                " with this spec; the cross-check needs two SDKs."]
    same = sum(1 for r in compared if r["identical"])
    lines = [f"{same} of {len(compared)} transcripts answered by two or more SDKs"
             f" ({', '.join(answered)}) give identical ops from every SDK that answered them."]
    for row in compared:
        if not row["identical"]:
            off = [f"{t} ({s})" for t, s in row["statuses"].items() if s != PASS]
            why = (f" (not passing the transcript: {', '.join(off)})" if off
                   else " although every one passes the transcript: **FAIL**")
            lines.append(f"- **{row['case']}** differs{why}: " + "; ".join(
                f"{t}: `{json.dumps(op)[:160]}`" for t, op in row["ops"].items()))
    return lines


def mutant_lines(report: dict[str, Any]) -> list[str]:
    rows = report.get("mutants", [])
    killed = sum(1 for m in rows if m["killed"])
    lines = [f"Against `{report.get('sdk', '?')}`: {killed} of {len(rows)} deliberately broken"
             f" variants killed ({100 * killed // max(len(rows), 1)}%).", "",
             "| mutant | family | breaks | killed by |", "|---|---|---|---|"]
    for m in rows:
        by = ", ".join(m.get("killedBy", [])) or "**SURVIVED**"
        lines.append(f"| {m['id']} | {m['family']} | {m['requirement']} | {by} |")
    return lines


def _id_key(rid: str) -> tuple[str, int, str]:
    prefix, _, rest = rid.partition("-")
    digits = "".join(ch for ch in rest if ch.isdigit())
    return prefix, int(digits) if digits else 0, rest
