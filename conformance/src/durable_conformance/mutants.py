"""Mutation testing of the suite: deliberately broken copies of the Python SDK must fail.

`python -m durable_conformance mutants` (what `nox -s conformance-mutants` runs) copies
`sdks/python` to a scratch folder, runs the suite against the copy as it is (it must
pass: otherwise nothing below means anything), then once per mutant: the copy with one
source edit (an exact text that must occur once in the file, replaced) run through
`python -m durable_conformance run <scratch harness>` with its reports in the scratch
folder. A mutant is *killed* when the run fails and its failure lines name one of the
requirement IDs the mutant breaks; the run fails unless every mutant is killed. The
table goes to stdout and `conformance/reports/mutants.json` (the matrix shows it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import repo_root, reports_dir
from .spec import Spec


@dataclass(frozen=True)
class Mutant:
    id: str
    family: str
    breaks: tuple[str, ...]  # the requirement IDs whose failure kills it
    what: str
    file: str  # relative to the SDK folder
    old: str
    new: str
    more: tuple[tuple[str, str, str], ...] = ()  # further (file, old, new) edits

    @property
    def edits(self) -> tuple[tuple[str, str, str], ...]:
        return ((self.file, self.old, self.new), *self.more)


MUTANTS = (
    # -- the seven behaviours a broken port once got through with
    Mutant("refusal-names-the-check", "signatures", ("SIG-12",),
           "a refused manifest GET says which check failed",
           "src/durable/core.py",
           '''            return _plain(401, "invalid signature")
        return self.answer(self.manifest(),''',
           '''            return _plain(401, "invalid manifest signature")
        return self.answer(self.manifest(),'''),
    Mutant("refusal-signed", "signatures", ("SIG-12",),
           "every 401 answer carries an X-Durable-Signature",
           "src/durable/core.py",
           "    return Response(status, message.encode(), _TEXT + extra)",
           "    return Response(status, message.encode(), _TEXT + extra + (((\n"
           "        \"x-durable-signature\", \"0\" * 64),) if status == 401 else ()))"),
    Mutant("size-after-signature", "limits", ("INV-6",),
           "the body size is checked after the signature (a bad signature gets 401)",
           "src/durable/core.py",
           "        if len(body) > self.max_body_bytes:\n",
           "        if len(body) > self.max_body_bytes and verify(\n"
           "            self._keys, body, normalized.get(HEADER_SIGNATURE)):\n",
           (("src/durable/adapters.py", "        elif length > app.max_body_bytes:\n",
             "        elif False:\n"),)),
    Mutant("window-exclusive", "signatures", ("SIG-5", "SIG-9", "LIMIT-1"),
           "a timestamp exactly 300000 ms away is refused (window edge exclusive)",
           "src/durable/signing.py",
           "return abs(now_ms - int(timestamp)) <= window_ms",
           "return abs(now_ms - int(timestamp)) < window_ms"),
    Mutant("window-one-second-wide", "signatures", ("SIG-5", "SIG-9", "LIMIT-1"),
           "the window is 301 s",
           "src/durable/signing.py",
           "return abs(now_ms - int(timestamp)) <= window_ms",
           "return abs(now_ms - int(timestamp)) <= window_ms + 1000"),
    Mutant("window-in-seconds", "signatures", ("SIG-5", "SIG-9", "LIMIT-1"),
           "the window is compared in whole seconds",
           "src/durable/signing.py",
           "return abs(now_ms - int(timestamp)) <= window_ms",
           "return abs(int(now_ms) // 1000 - int(timestamp) // 1000) <= window_ms // 1000"),
    Mutant("match-null-omitted", "ops", ("OP-6",),
           "a wait without match omits `match` instead of sending null",
           "src/durable/step.py",
           '''                "match": match,
''',
           '''                **({"match": match} if match is not None else {}),
'''),
    Mutant("sdk-version-bare", "discovery", ("MAN-1",),
           "sdkVersion is the bare version, not <language>/<version>",
           "src/durable/_version.py",
           'SDK_VERSION = f"python/{__version__}"',
           'SDK_VERSION = __version__'),
    Mutant("discovery-signed-v2", "discovery", ("SIG-10",),
           "the discovery answer carries a V2 signature over the request's timestamp",
           "src/durable/core.py",
           "            return self.answer(discovery)\n",
           "            return self.answer(discovery, headers.get(HEADER_TIMESTAMP))\n"),
    Mutant("error-code-untruncated", "errors", ("ERR-3",),
           "an error code over 100 characters is sent whole",
           "src/durable/errors.py",
           "self.code = code[:MAX_ERROR_CODE_CHARS] if code else None",
           "self.code = code if code else None"),
    Mutant("error-details-untruncated", "errors", ("ERR-3",),
           "error details over 64 KiB are sent whole",
           "src/durable/step.py",
           "if len(encoded) <= MAX_ERROR_DETAILS_BYTES",
           "if len(encoded) <= 16 * MAX_ERROR_DETAILS_BYTES"),
    # -- one or more per requirement family
    Mutant("answer-signed-with-fallback", "signatures", ("KEY-3",),
           "answers are signed with the fallback key when one is configured",
           "src/durable/core.py",
           "(HEADER_SIGNATURE, sign(self._keys[0], body)),",
           "(HEADER_SIGNATURE, sign(self._keys[-1], body)),"),
    Mutant("occurrence-off-by-one", "memo replay", ("REPLAY-4",),
           "the second use of a step id is `id#1`",
           "src/durable/step.py",
           'wire_id = f"{step_id}#{count}"',
           'wire_id = f"{step_id}#{count - 1}"'),
    Mutant("strict-replay-lenient", "memo replay", ("REPLAY-3",),
           "a memo of another type is a plain retryable error even with strict-replay",
           "src/durable/step.py",
           "            if not self._strict:\n",
           "            if True:\n"),
    Mutant("until-in-seconds", "ops", ("OP-5", "OP-9"),
           "`until` is written without milliseconds",
           "src/durable/duration.py",
           'instant.isoformat(timespec="milliseconds")',
           'instant.isoformat(timespec="seconds")'),
    Mutant("request-limit-doubled", "limits", ("INV-6",),
           "bodies up to twice maxRequestBytes are accepted",
           "src/durable/core.py",
           "        if len(body) > self.max_body_bytes:\n",
           "        if len(body) > 2 * self.max_body_bytes:\n",
           (("src/durable/adapters.py", "        elif length > app.max_body_bytes:\n",
             "        elif length > 2 * app.max_body_bytes:\n"),)),
    Mutant("unknown-function-retryable", "errors", ("ERR-4",),
           "an unknown function is answered with a retryable error",
           "src/durable/core.py",
           '''                "message": f"unknown function {shown}",
                "retryable": False,''',
           '''                "message": f"unknown function {shown}",
                "retryable": True,'''),
    Mutant("discovery-outside-dev", "discovery", ("DISC-2",),
           "an app not in dev mode answers discovery with its key",
           "src/durable/core.py",
           'if headers.get(HEADER_DISCOVERY) == "true" and self.dev:',
           'if headers.get(HEADER_DISCOVERY) == "true":'),
)

FAILED_IDS = re.compile(r"UNEXPECTED FAILURES: \d+; requirement IDs: (.*)$", re.M)
NOT_COVERED = re.compile(r"NOT COVERED: \S+ MUST meet (.*?) \(see", re.M)


def log(message: str) -> None:
    print(f"[mutants] {message}", flush=True)


def apply(sdk: Path, mutant: Mutant) -> None:
    for file, old, new in mutant.edits:
        path = sdk / file
        text = path.read_text()
        count = text.count(old)
        if count != 1:
            raise SystemExit(f"mutant {mutant.id}: its text occurs {count} times in {file}"
                             " (it must occur once: update the mutant with the SDK)")
        path.write_text(text.replace(old, new))


def harness_for(sdk: Path, scratch: Path) -> Path:
    """The python harness, pointed at the copy."""
    raw = json.loads((repo_root() / "conformance" / "harnesses" / "python.json").read_text())
    raw["start"] = [str(sdk / "conformance" / "start")]
    raw["driver"] = [str(sdk / "conformance" / "driver")]
    raw["description"] = "a copy of the Python SDK, possibly mutated (conformance-mutants)"
    path = scratch / "mutant.json"
    path.write_text(json.dumps(raw, indent=2))
    return path


def run_suite(harness: Path, reports: Path) -> tuple[int, str]:
    env = {**os.environ, "DURABLE_CONFORMANCE_REPORTS": str(reports)}
    done = subprocess.run([sys.executable, "-m", "durable_conformance", "run", str(harness)],
                          env=env, capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


def failing_ids(output: str) -> list[str]:
    found: list[str] = []
    for pattern in (FAILED_IDS, NOT_COVERED):
        for match in pattern.finditer(output):
            found += [i.strip() for i in match.group(1).split(",") if i.strip() not in ("", "-")]
    return list(dict.fromkeys(found))


def main(selected: list[str] | None = None) -> int:
    started = time.monotonic()
    source = repo_root() / "sdks" / "python"
    chosen = [m for m in MUTANTS if not selected or m.id in selected]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="durable-mutants-") as folder:
        scratch = Path(folder)
        pristine = scratch / "pristine"
        shutil.copytree(source, pristine, ignore=shutil.ignore_patterns(
            "__pycache__", "*.egg-info", ".mypy_cache", ".pytest_cache", "tests"))
        for mutant in chosen:  # every mutant applies before anything runs
            probe = scratch / "probe"
            shutil.copytree(pristine, probe)
            apply(probe, mutant)
            shutil.rmtree(probe)
        code, output = run_suite(harness_for(pristine, scratch), scratch / "reports-pristine")
        if code != 0:
            print(output[-4000:])
            log("the unmutated copy of the SDK fails the suite: fix that first")
            return 1
        log(f"unmutated copy passes ({time.monotonic() - started:.0f}s);"
            f" {len(chosen)} mutants")
        for mutant in chosen:
            sdk = scratch / f"sdk-{mutant.id}"
            shutil.copytree(pristine, sdk)
            apply(sdk, mutant)
            t0 = time.monotonic()
            code, output = run_suite(harness_for(sdk, scratch), scratch / f"reports-{mutant.id}")
            named = failing_ids(output)
            by = [i for i in named if i in mutant.breaks]
            killed = code != 0 and bool(by)
            rows.append({"id": mutant.id, "family": mutant.family, "what": mutant.what,
                         "requirement": ", ".join(mutant.breaks), "killed": killed,
                         "killedBy": by, "failingIds": named, "exitCode": code,
                         "seconds": round(time.monotonic() - t0, 1)})
            verdict = f"killed by {', '.join(by)}" if killed else (
                f"SURVIVED (exit {code}; failures named {', '.join(named) or 'nothing'})")
            log(f"{mutant.id:28} {verdict} ({rows[-1]['seconds']}s)")
            if not killed:
                tail = [line for line in output.splitlines()
                        if line.startswith(("FAIL", "ERROR", "      [", "[conformance] NOT"))]
                print("\n".join(tail[:20]))
            shutil.rmtree(sdk)
    killed = sum(1 for r in rows if r["killed"])
    elapsed = time.monotonic() - started
    print()
    print(f"{'mutant':30} {'family':12} {'breaks':22} result")
    for r in rows:
        result = ("killed by " + ", ".join(r["killedBy"])) if r["killed"] else "SURVIVED"
        print(f"{r['id']:30} {r['family']:12} {r['requirement']:22} {result}")
    log(f"kill rate: {killed} of {len(rows)} ({100 * killed // max(len(rows), 1)}%)"
        f" in {elapsed:.0f}s")
    if not selected:
        folder_out = reports_dir()
        folder_out.mkdir(parents=True, exist_ok=True)
        (folder_out / "mutants.json").write_text(json.dumps({
            "sdk": "python (sdks/python)", "specDigest": Spec().digest,
            "killed": killed, "total": len(rows), "seconds": round(elapsed),
            "mutants": rows}, indent=2) + "\n")
    return 0 if killed == len(rows) else 1
