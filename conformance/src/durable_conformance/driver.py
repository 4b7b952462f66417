"""Vector drivers (driver protocol 1): the pure-function vectors of spec/vectors/ (cron,
match, keys, durations), checked against an implementation's own code.

A harness file may add, without changing its `"harness": 1`:

    "driver": ["sdks/<lang>/conformance/driver"],   # run with the harness's cwd and env
    "driverAreas": ["durations"],                    # default: every area below
    "driverProtocol": 1                              # optional; the runner speaks 1

(`skipCases` of the harness file skips driver cases by vector id too.)

The runner starts the driver once and, per vector case of each listed area, writes one
line `{"area": "<area>", "case": <the case object exactly as in spec/vectors>}` to its
stdin and reads one JSON line from its stdout:

    cron       {"valid": bool, "next": ["2026-01-01T03:00:00.000Z", ...]}  # len(case.next)
                                                     # instants strictly after case.after
    match      {"matches": bool}
    keys       {"value": "<canonical JSON text>" | null}
    durations  {"valid": bool, "ms": int}            # ms only when valid
    signatures {"valid": bool}     the app's own verifier, its clock at case.now, holding
                                   case.keys (primary first), plain v1 for hop `invoke`,
                                   `timestamped-signatures` for `invoke-v2`: would it
                                   accept the request (not 401)? App hops only.
    client     (cases made by the runner, not vectors: see client_checks.py)
               {"receipt": {...}} | {"failed": "..."}
    any area   {"error": "..."}      the driver itself failed on this case (status error)
               {"unsupported": true} the driver does not implement this area (skipped)

Each case becomes one Result(case id, area, case requirements); a wrong answer fails
with those requirement IDs. Drivers write logs to stderr, never to stdout.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .harness import Harness, HarnessError, resolve_command, wait_or_kill
from .paths import reports_dir
from .results import ERROR, FAIL, PASS, Result
from .spec import Spec, VectorCase

DRIVER_PROTOCOL = 1
AREAS = ("cron", "match", "keys", "durations", "signatures", "client")
VECTOR_AREAS = ("cron", "match", "keys", "durations", "signatures")
# The signature vectors an app verifies; the others are the engine's or a client's.
APP_HOPS = ("invoke", "invoke-v2", "manifest")
# The first answer may wait for a build (tsc); later ones are a function call each.
CASE_TIMEOUT_SECONDS = 10.0
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


class DriverConfig:
    """The driver members of a harness file, checked before anything starts."""

    def __init__(self, harness: Harness) -> None:
        raw = harness.raw
        self.command: list[str] = [str(a) for a in raw.get("driver") or []]
        areas = raw.get("driverAreas", list(VECTOR_AREAS))  # `client` only when asked
        version = raw.get("driverProtocol", DRIVER_PROTOCOL)
        where = f"harness {harness.target}"
        if "driver" in raw and (not isinstance(raw["driver"], list) or not self.command):
            raise HarnessError(f"{where}: `driver` must be a non-empty command list")
        if "driverAreas" in raw and not self.command:
            raise HarnessError(f"{where}: `driverAreas` without a `driver` command")
        if not isinstance(areas, list) or not all(a in AREAS for a in areas):
            raise HarnessError(f"{where}: `driverAreas` must list areas of {list(AREAS)},"
                               f" got {areas!r}")
        if version != DRIVER_PROTOCOL:
            raise HarnessError(f"{where}: driver protocol {version!r}, runner speaks"
                               f" {DRIVER_PROTOCOL}")
        self.areas: list[str] = list(dict.fromkeys(areas))

    @property
    def present(self) -> bool:
        return bool(self.command)


class DriverProcess:
    """One running driver: request/answer by lines, with a deadline per answer."""

    def __init__(self, harness: Harness, command: list[str], log_path: Path) -> None:
        command = resolve_command(command, "driver")
        env = dict(os.environ)
        env.update(harness.env)
        env["DURABLE_CONFORMANCE_PYTHON"] = sys.executable
        env["DURABLE_DRIVER_PROTOCOL"] = str(DRIVER_PROTOCOL)
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=harness.cwd, env=env, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, start_new_session=True,
            )
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        self.buffer = b""

    def ask(self, request: dict[str, Any], timeout: float) -> Any:
        """The parsed answer line; HarnessError when the driver is gone, silent or garbled."""
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(request).encode() + b"\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            raise HarnessError(self._gone("closed its stdin")) from None
        line = self._read_line(timeout)
        try:
            return json.loads(line)
        except ValueError:
            raise HarnessError(f"driver answered a line that is not JSON: {line[:200]!r}") \
                from None

    def _read_line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HarnessError(f"driver gave no answer within {timeout:.0f}s")
            if not self.selector.select(left):
                continue
            assert self.process.stdout is not None
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise HarnessError(self._gone("exited"))
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode("utf-8", errors="replace")

    def _gone(self, what: str) -> str:
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:])
        return f"driver {what} (exit code {code}); log {self.log_path}:\n{tail}"

    def stop(self) -> None:
        self.selector.close()
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()  # end of input: a driver should exit by itself
            except OSError:
                pass
        wait_or_kill(self.process, 5)
        if self.process.stdout is not None:
            self.process.stdout.close()


# Each check takes the case and a well-formed answer and records failures on the result.
Check = Callable[[VectorCase, dict[str, Any], Result], None]


def _shape(answer: dict[str, Any], member: str, kinds: tuple[type, ...]) -> Any:
    value = answer.get(member)
    if member not in answer or isinstance(value, bool) != (bool in kinds) or \
            not isinstance(value, kinds):
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise HarnessError(f"driver answer needs `{member}` ({names}): {json.dumps(answer)[:200]}")
    return value


def check_cron(case: VectorCase, answer: dict[str, Any], result: Result) -> None:
    data = case.data
    valid = _shape(answer, "valid", (bool,))
    if not data["valid"]:
        if valid:
            result.fail(case.requirements, f"accepted the invalid expression {data['expr']!r}")
        return
    if not valid:
        result.fail(case.requirements, f"rejected the valid expression {data['expr']!r}")
        return
    got = _shape(answer, "next", (list,))
    if not all(isinstance(t, str) and INSTANT.match(t) for t in got):
        raise HarnessError("driver `next` must hold ISO-8601 UTC instants with milliseconds"
                           f" and Z: {json.dumps(got)[:200]}")
    if got != data["next"]:
        result.fail(case.requirements, f"{data['expr']!r} after {data['after']}: expected"
                    f" {data['next']}, got {got}")


def check_match(case: VectorCase, answer: dict[str, Any], result: Result) -> None:
    data = case.data
    matches = _shape(answer, "matches", (bool,))
    if matches != data["matches"]:
        result.fail(case.requirements, f"wait for {data['waitEvent']!r} with match"
                    f" {json.dumps(data['match'])}: expected matches={data['matches']},"
                    f" got {matches}")


def check_keys(case: VectorCase, answer: dict[str, Any], result: Result) -> None:
    data = case.data
    value = _shape(answer, "value", (str, type(None)))
    if value != data["value"]:
        result.fail(case.requirements, f"key {data['key']!r}: expected {data['value']!r},"
                    f" got {value!r}")


def check_durations(case: VectorCase, answer: dict[str, Any], result: Result) -> None:
    data = case.data
    valid = _shape(answer, "valid", (bool,))
    shown = json.dumps(data["input"])
    if not data["valid"]:
        if valid:
            result.fail(case.requirements, f"accepted the invalid duration {shown}"
                        f" (as {answer.get('ms')!r} ms)")
        return
    if not valid:
        result.fail(case.requirements, f"rejected the valid duration {shown}")
        return
    ms = _shape(answer, "ms", (int,))
    if ms != data["ms"]:
        result.fail(case.requirements, f"duration {shown}: expected {data['ms']} ms, got {ms}")


def check_signatures(case: VectorCase, answer: dict[str, Any], result: Result) -> None:
    data = case.data
    valid = _shape(answer, "valid", (bool,))
    if valid != data["valid"]:
        offset = ""
        stamp = data["headers"].get("x-durable-timestamp")
        if isinstance(stamp, str) and stamp.isdigit():
            offset = f", timestamp {int(stamp) - int(data['now']):+d} ms from now"
        verdict = "accepted" if valid else "refused"
        result.fail(case.requirements, f"{data['hop']}{offset}: the verifier {verdict} a"
                    f" request the vector says is {'valid' if data['valid'] else 'invalid'}"
                    f" ({data.get('description', '')})")


CHECKS_BY_AREA: dict[str, Check] = {
    "cron": check_cron, "match": check_match, "keys": check_keys, "durations": check_durations,
    "signatures": check_signatures,
}


def _error(case: VectorCase, message: str) -> Result:
    result = Result(case.id, case.area, list(case.requirements), status=ERROR)
    result.failures.append(message)
    return result


def run_driver(
    harness: Harness,
    spec: Spec,
    log: Callable[[str], None],
    capabilities: list[str] | None = None,
) -> list[Result]:
    """Every vector case of the driver's areas, one Result each. `capabilities` is what
    the target advertised (None: the engine, which implements every capability)."""
    config = DriverConfig(harness)
    if not config.present:
        return []
    cases = [case for area in config.areas if area in VECTOR_AREAS
             for case in spec.vectors(area)
             if area != "signatures" or case.data.get("hop") in APP_HOPS]
    results: list[Result] = []
    logs = reports_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        log_path = logs / f"{harness.target}-{os.getpid()}-driver.log"
        driver = DriverProcess(harness, config.command, log_path)
    except (HarnessError, OSError) as error:
        return [_error(case, f"driver could not start: {error}") for case in cases]
    skip_cases = harness.raw.get("skipCases") or {}
    broken: str | None = None
    timeout = max(harness.ready_timeout, CASE_TIMEOUT_SECONDS)
    try:
        for case in cases:
            missing = [c for c in case.capabilities
                       if capabilities is not None and c not in capabilities]
            if missing:
                results.append(Result(case.id, case.area, list(case.requirements)).skip(
                    f"capability not advertised: {', '.join(missing)}"))
                continue
            if case.id in skip_cases:
                results.append(Result(case.id, case.area, list(case.requirements)).skip(
                    str(skip_cases[case.id])))
                continue
            if broken is not None:
                results.append(_error(case, f"not run: {broken}"))
                continue
            try:
                answer = driver.ask({"area": case.area, "case": case.data}, timeout)
                timeout = CASE_TIMEOUT_SECONDS
                results.append(judge(case, answer))
            except HarnessError as error:
                results.append(_error(case, str(error)))
                if driver.process.poll() is not None or "no answer" in str(error):
                    broken = str(error).splitlines()[0]  # the rest cannot be asked
        if "client" in config.areas:
            results += _client_cases(driver, broken)
    finally:
        driver.stop()
    counts = {s: sum(1 for r in results if r.status == s) for s in {r.status for r in results}}
    log(f"driver {' '.join(config.command)}: {len(results)} vector cases of"
        f" {', '.join(config.areas)} ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))};"
        f" {time.monotonic() - started:.1f}s)")
    return results


def _client_cases(driver: DriverProcess, broken: str | None) -> list[Result]:
    """The `client` area (client_checks.py): the SDK's engine-API client, live."""
    from .client_checks import client_cases, run_client_cases

    def failed_all(message: str) -> list[Result]:
        out = []
        for case in client_cases():
            result = Result(case.id, "client", list(case.requirements), status=ERROR)
            result.failures.append(message)
            out.append(result)
        return out

    if broken is not None:
        return failed_all(f"not run: {broken}")
    try:
        return run_client_cases(lambda request: driver.ask(request, CASE_TIMEOUT_SECONDS * 3))
    except HarnessError as error:
        return failed_all(str(error))


def judge(case: VectorCase, answer: Any) -> Result:
    """One answer against the vector: pass, fail (the case's IDs), skipped or error."""
    result = Result(case.id, case.area, list(case.requirements))
    if not isinstance(answer, dict):
        raise HarnessError(f"driver answer must be a JSON object: {json.dumps(answer)[:200]}")
    if "error" in answer:
        return _error(case, f"driver error: {answer['error']}")
    if answer.get("unsupported") is True:
        return result.skip(f"driver does not implement area {case.area}")
    CHECKS_BY_AREA[case.area](case, answer, result)
    assert result.status in (FAIL, PASS)
    return result

