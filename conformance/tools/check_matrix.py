"""Freshness check of the published compliance matrix, run by `nox -s lint` (stdlib only).

`conformance/reports/matrix.md` is committed. It must have been made against the vectors
and schemas now in `spec/` (the digest it names equals the one computed here, as
`durable_conformance.spec.Spec.digest` computes it) and show every implementation: our
three SDKs, the published package and the engine. `nox -s conformance-matrix` rewrites it.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "conformance" / "reports" / "matrix.md"
COLUMNS = ("python", "ts", "php", "published", "engine")


def spec_digest(spec: Path) -> str:
    sha = hashlib.sha256()
    for folder in ("vectors", "schemas"):
        base = spec / folder
        for path in sorted(base.rglob("*.json")) if base.is_dir() else []:
            sha.update(path.relative_to(spec).as_posix().encode())
            sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def main() -> int:
    if not MATRIX.is_file():
        print(f"{MATRIX.relative_to(ROOT)} is missing: run `nox -s conformance-matrix`")
        return 1
    text = MATRIX.read_text()
    found = re.search(r"Spec digest \(vectors and schemas\): `([0-9a-f]+)`", text)
    want = spec_digest(ROOT / "spec")
    problems = []
    if not found or found.group(1) != want:
        problems.append(f"made against spec digest {found.group(1) if found else '?'}, spec/ is"
                        f" now {want}")
    header = re.search(r"^\| requirement \| (.*) \|$", text, re.M)
    shown = [c.strip() for c in header.group(1).split("|")] if header else []
    missing = [c for c in COLUMNS if c not in shown]
    if missing:
        problems.append(f"has no column for {', '.join(missing)}")
    if "## Mutation testing" not in text:
        problems.append("shows no mutation-testing table")
    if problems:
        print(f"{MATRIX.relative_to(ROOT)} is stale: {'; '.join(problems)}."
              " Run `nox -s conformance-matrix` and commit the result.")
        return 1
    print(f"conformance matrix: fresh (spec digest {want}), columns {', '.join(shown)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
