"""The engine suite: starts the reference engine through its harness, registers the fake
app (fake_app.py) with the admin API, syncs its scripted functions, sends events and checks
what the engine sends back: signatures (v1 and v2), the invoke shape, memo contents, order
of calls, retries and backoff, and how the engine survives garbage answers. Scenario groups
beyond these core ones live in engine_scenarios/, one module per behaviour.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from . import signing
from .checks import ids
from .client import Reply, call
from .engine_exchanges import exchange_vectors
from .engine_runs import run_vectors
from .fake_app import (
    EARLY_MS,
    LATE_MS,
    RUN_TIMEOUT_S,
    SCRIPTS,
    TERMINAL,
    WINDOW_MS,
    FakeApp,
    Received,
)
from .harness import Harness, HarnessError, RunningApp, start_app
from .results import ERROR, Result
from .spec import Spec

# What each scenario exercises (check names of checks.py).
COVERS: dict[str, list[str]] = {
    "serial": ["engine-memo", "engine-status"],
    "flaky": ["engine-retries", "engine-backoff", "engine-memo"],
    "garbage": ["engine-garbage-answer", "engine-retries", "engine-backoff"],
    "exhaust": ["engine-retries", "engine-status"],
    "sleeper": ["engine-timer", "engine-memo"],
    "waiter": ["engine-wait", "engine-memo"],
    "sender": ["engine-send-event", "engine-memo"],
    "with-failure": ["engine-failure-handler", "engine-status"],
}


class EngineSuite:
    def __init__(self, harness: Harness, spec: Spec, log: Callable[[str], None] = print) -> None:
        self.harness = harness
        self.spec = spec
        self.log = log
        self.app = FakeApp()
        self.engine: RunningApp | None = None
        self.base = ""
        self.app_id = ""
        self.admin_token = "conf-admin-" + secrets.token_hex(8)
        self.matching_event: str | None = None

    def run(self) -> list[Result]:
        results: list[Result] = []
        if self.spec.schema_name("invoke") is None:
            self.log("WARNING: no invoke-request schema in spec/schemas yet: invokes are"
                     " checked field by field only")
        try:
            self.app.start()
            self.harness.env.setdefault("DURABLE_ADMIN_TOKEN", self.admin_token)
            self.admin_token = self.harness.env["DURABLE_ADMIN_TOKEN"]
            self.log("starting the engine (this creates a database, may take a while)")
            self.engine = start_app(self.harness, key="unused-by-the-engine")
            self.base = f"http://127.0.0.1:{self.engine.port}"
            results.append(self.register())
            if results[-1].status == "pass":
                results += self.scenarios()
        except HarnessError as error:
            result = Result("start", "harness", [], status=ERROR)
            result.failures.append(
                f"the engine could not run, so nothing engine-side was verified "
                f"(registration, {', '.join(SCRIPTS)}): {error}")
            results.append(result)
        finally:
            if self.engine is not None:
                self.engine.stop()
            self.app.stop()
        return results

    # ---- engine API calls ------------------------------------------------------------

    # The transport the scenario groups' engine API and admin calls go over (workspace.py):
    # HTTP here, gRPC in GrpcEngineSuite. Calls with their own headers or raw bytes are HTTP.
    transport = "http"

    def api_reply(self, app_id: str, key: str, path: str, payload: Any) -> Reply:
        """A v1-signed engine API call of workspace `app_id`."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        return call(self.base + path, "POST", body,
                    {"content-type": "application/json", "x-durable-app": app_id,
                     signing.SIG: signing.mac(key, body)})

    def admin_reply(self, method: str, path: str, payload: Any = None) -> Reply:
        """An admin API call with the admin token."""
        body = None if payload is None else json.dumps(payload).encode()
        return call(self.base + path, method, body,
                    {"content-type": "application/json",
                     "authorization": f"Bearer {self.admin_token}"})

    def api(self, path: str, payload: Any) -> tuple[int, Any]:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"content-type": "application/json", "x-durable-app": self.app_id,
                   signing.SIG: signing.mac(self.app.key, body)}
        reply = call(self.base + path, "POST", body, headers)
        try:
            return reply.status, reply.json()
        except ValueError:
            return reply.status, reply.text()

    def register(self) -> Result:
        result = Result("register-and-sync", "engine", ids("engine-sync"))
        payload = {"name": "conformance-fake-app-" + secrets.token_hex(4),
                   "environment": "dev", "appUrl": self.app.url}
        reply = call(self.base + "/api/apps", "POST", json.dumps(payload).encode(),
                     {"content-type": "application/json",
                      "authorization": f"Bearer {self.admin_token}"})
        try:
            created = reply.json()
            self.app_id, self.app.key = created["id"], created["key"]
        except (ValueError, KeyError, TypeError):
            result.fail(ids("engine-sync"), f"POST /api/apps answered {reply.status}:"
                                            f" {reply.text()!r}")
            return result
        status, answer = self.api("/fn/sync", {**self.app.manifest()})
        if status != 200:
            result.fail(ids("engine-sync"), f"/fn/sync answered {status}: {answer!r}")
        return result

    def send(self, function_id: str) -> tuple[str, str | None]:
        """Send the scenario's event as the published client does ({id, name, data})."""
        event_id = f"conf-{function_id}-{secrets.token_hex(4)}"
        status, answer = self.api("/e", {"id": event_id, "name": f"conf.fake.{function_id}",
                                         "data": {"scenario": function_id, "userId": "u1"}})
        if status != 200:
            return event_id, f"/e refused the event {{id, name, data}}: {status} {answer!r}"
        return event_id, None

    def wait_terminal(self, function_id: str) -> tuple[str | None, str | None]:
        """(runId, status) once the run is terminal, or the last seen status on timeout."""
        deadline = time.monotonic() + RUN_TIMEOUT_S
        run_id, status = None, None
        while time.monotonic() < deadline:
            invokes = self.app.invokes(function_id)
            if invokes and run_id is None:
                run_id = invokes[0].json().get("runId")
            if run_id is not None:
                code, answer = self.api("/runs/get", {"runId": run_id})
                if code == 200 and isinstance(answer, dict):
                    run = answer.get("run", answer)
                    status = run.get("status") if isinstance(run, dict) else None
                    if status in TERMINAL:
                        return run_id, status
            time.sleep(0.2)
        return run_id, status

    # ---- scenarios ---------------------------------------------------------------------

    def scenarios(self) -> list[Result]:
        results = self.core()
        results.append(self.rotation())
        results.append(self.plain_v1_app())
        # Each group brings its own fake app and workspace (engine_scenarios/).
        from .engine_scenarios import GROUPS
        for name, group in GROUPS:
            self.log(f"engine scenarios: {name}")
            try:
                results += group(self)
            except Exception as error:  # noqa: BLE001 - one broken group must not hide others
                broken = Result(f"{name}-group", "engine", [], status=ERROR)
                broken.failures.append(f"the {name} group crashed: {error!r}")
                results.append(broken)
        # Last: the sync vectors replace the fake app's functions.
        results += self.api_vectors()
        results += exchange_vectors(self)
        results += run_vectors(self)
        results.append(self.api_routing())
        results.append(self.admin_api())
        health = call(self.base + "/health", "GET")
        alive = Result("engine-stays-up", "engine", ids("engine-garbage-answer"))
        if health.status != 200:
            alive.fail(ids("engine-garbage-answer"), f"engine /health answered {health.status}")
        results.append(alive)
        return results

    def core(self) -> list[Result]:
        """One event per scripted function of the fake app, each run checked to its end."""
        sent = {fid: self.send(fid) for fid in SCRIPTS}
        events = {fid: event_id for fid, (event_id, _) in sent.items()}
        if sent["waiter"][1] is None:
            self.matching_event = self.release_waiter()
        outcomes = {fid: self.wait_terminal(fid) if problem is None else (None, None)
                    for fid, (_, problem) in sent.items()}
        time.sleep(1.0)  # a late extra invoke (a retry too many) would show up now
        accepted = [fid for fid, (_, problem) in sent.items() if problem is None]
        results = [self.check_requests() if accepted else Result(
            "every-request-signed-and-valid", "engine", []).skip("no event was accepted")]
        wanted = {fid: "completed" for fid in SCRIPTS} | {"exhaust": "failed",
                                                          "with-failure": "failed"}
        for fid, check in (("serial", self.check_serial), ("flaky", self.check_flaky),
                           ("garbage", self.check_garbage), ("exhaust", self.check_exhaust),
                           ("sleeper", self.check_sleeper), ("waiter", self.check_waiter),
                           ("sender", self.check_sender),
                           ("with-failure", self.check_with_failure)):
            result = Result(fid, "engine", [i for c in COVERS[fid] for i in ids(c)])
            run_id, status = outcomes[fid]
            invokes = self.app.invokes(fid)
            if sent[fid][1] is not None:
                result.fail(ids("engine-event"), str(sent[fid][1]))
            elif not invokes:
                result.fail(ids("engine-invoke"), f"event {events[fid]} never reached the app")
            else:
                check(result, invokes, events[fid])
                if status != wanted[fid]:
                    result.fail(ids("engine-status"),
                                f"run {run_id} ended {status!r}, expected {wanted[fid]!r}")
            results.append(result)
        return results

    def api_vectors(self) -> list[Result]:
        """spec/vectors/api: the engine refuses each invalid request with 400, the code and
        error.path the vector names, and takes each valid one past validation."""
        results: list[Result] = []
        for case in self.spec.vectors("api"):
            data = case.data
            result = Result(case.id, "api", case.requirements)
            # A case the engine is known to fail, left out so CI stays green (harness
            # "skipCases": {"case-id": "reason"}); it shows as skipped in the matrix.
            skip = self.harness.raw.get("skipCases", {}).get(case.id)
            if skip is not None:
                results.append(result.skip(str(skip)))
                continue
            raw = data.get("rawBody")
            body = (raw.encode() if isinstance(raw, str)
                    else json.dumps(data.get("body"), separators=(",", ":")).encode())
            path = str(data["path"])
            if path.startswith("/api/"):  # the admin API: bearer token, not signed
                headers = {"content-type": "application/json",
                           "authorization": f"Bearer {self.admin_token}"}
            else:
                headers = {"content-type": "application/json", "x-durable-app": self.app_id,
                           signing.SIG: signing.mac(self.app.key, body)}
            reply = call(self.base + path, "POST", body, headers)
            try:
                answer: Any = reply.json()
            except ValueError:
                answer = None
            error = answer.get("error") if isinstance(answer, dict) else None
            seen = f"{reply.status} {reply.text()!r}"
            if data.get("valid"):
                # Past validation; an unknown run or a taken name may still be refused.
                if reply.status not in (200, 404, 409):
                    result.fail([], f"valid request to {path} answered {seen}")
            elif reply.status != 400 or not isinstance(error, dict):
                result.fail([], f"invalid request to {path} answered {seen}, expected 400"
                                f" {data.get('errorCode')}")
            else:
                if error.get("code") != data.get("errorCode"):
                    result.fail([], f"error.code {error.get('code')!r}, expected"
                                    f" {data.get('errorCode')!r}")
                if "errorPath" in data and error.get("path") != data["errorPath"]:
                    result.fail([], f"error.path {error.get('path')!r}, expected"
                                    f" {data['errorPath']!r}")
            results.append(result)
        return results

    def _error_code(self, result: Result, check: str, what: str, reply: Reply,
                    status: int, code: str) -> None:
        """`reply` must be `status` with a JSON `{"error": {"code": code}}` body."""
        try:
            error = reply.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if reply.status != status or not isinstance(error, dict) or error.get("code") != code:
            result.fail(ids(check), f"{what} answered {reply.status} {reply.text()!r},"
                                    f" expected {status} {code}")
        elif not reply.headers.get("content-type", "").startswith("application/json"):
            result.fail(ids("engine-api-routing")[1:],
                        f"{what}: {status} without Content-Type application/json")

    def api_routing(self) -> Result:
        """[API-4]: an unknown path is 404 NOT_FOUND; a known path with another method is
        405 METHOD_NOT_ALLOWED naming the allowed one in `Allow`."""
        result = Result("unknown-path-and-wrong-method", "engine", ids("engine-api-routing"))
        body = b"{}"
        signed = {"content-type": "application/json", "x-durable-app": self.app_id,
                  signing.SIG: signing.mac(self.app.key, body)}
        reply = call(self.base + "/no/such/path", "POST", body, signed)
        self._error_code(result, "engine-api-routing", "POST /no/such/path", reply,
                         404, "NOT_FOUND")
        for method, path in (("GET", "/e"), ("PUT", "/runs/get")):
            reply = call(self.base + path, method, None if method == "GET" else body, signed)
            self._error_code(result, "engine-api-routing", f"{method} {path}", reply,
                             405, "METHOD_NOT_ALLOWED")
            allow = reply.headers.get("allow", "")
            if "POST" not in [m.strip() for m in allow.split(",")]:
                result.fail(ids("engine-api-routing")[:1],
                            f"{method} {path}: Allow {allow!r} does not name POST")
        return result

    def admin_api(self) -> Result:
        """[ADMIN-1] no or a wrong bearer token is 401 UNAUTHORIZED even from loopback (a
        token is configured); [ADMIN-3] the app list never carries a key."""
        result = Result("admin-token-and-keys", "engine",
                        ids("engine-admin-auth") + ids("engine-admin-keys"))
        payload = json.dumps({"name": "conf-unauthorised-" + secrets.token_hex(4),
                              "environment": "dev", "appUrl": self.app.url}).encode()
        json_only = {"content-type": "application/json"}
        for what, headers in (
                ("without a token", json_only),
                ("with a wrong token", json_only | {"authorization": "Bearer wrong-token"}),
                ("with the app's signing key as token",
                 json_only | {"authorization": f"Bearer {self.app.key}"})):
            reply = call(self.base + "/api/apps", "POST", payload, headers)
            self._error_code(result, "engine-admin-auth", f"POST /api/apps {what}", reply,
                             401, "UNAUTHORIZED")
            reply = call(self.base + "/api/apps", "GET", None, headers)
            self._error_code(result, "engine-admin-auth", f"GET /api/apps {what}", reply,
                             401, "UNAUTHORIZED")
        admin = {"authorization": f"Bearer {self.admin_token}"}
        reply = call(self.base + "/api/apps", "GET", None, admin)
        try:
            apps = reply.json()["apps"]
        except (ValueError, KeyError, TypeError):
            result.fail(ids("engine-admin-auth"),
                        f"GET /api/apps with the token answered {reply.status} {reply.text()!r}")
            return result
        if not isinstance(apps, list) or not any(
                isinstance(a, dict) and a.get("id") == self.app_id for a in apps):
            result.fail(ids("engine-admin-auth"),
                        f"GET /api/apps does not list the registered app {self.app_id}")
        keyed = [a.get("id") for a in apps if isinstance(a, dict) and "key" in a]
        if keyed or self.app.key.encode() in reply.body:
            result.fail(ids("engine-admin-keys"),
                        f"GET /api/apps returns a key (apps {keyed})")
        return result

    def _run_serial_once(self) -> tuple[list[Received], str | None]:
        before = len(self.app.invokes("serial"))
        event_id, problem = self.send("serial")
        if problem:
            return [], problem
        deadline = time.monotonic() + RUN_TIMEOUT_S / 2
        while time.monotonic() < deadline:
            fresh = self.app.invokes("serial")[before:]
            if len(fresh) >= 3:
                return fresh, None
            time.sleep(0.2)
        return self.app.invokes("serial")[before:], "the run did not reach its third invoke"

    def plain_v1_app(self) -> Result:
        """An app advertising no capability (like the published package) is served per v1:
        its answers carry no V2 signature and the run still completes."""
        result = Result("plain-v1-app", "engine", ids("engine-v1-app"))
        main_app, main_id = self.app, self.app_id
        self.app = FakeApp(capabilities=[])
        try:
            self.app.start()
            registered = self.register()
            if registered.status != "pass":
                result.failures += registered.failures
                result.fail(ids("engine-v1-app"), "could not register a second app")
                return result
            invokes, problem = self._run_serial_once()
            if problem:
                result.fail(ids("engine-v1-app"), f"a v1 app's run: {problem}")
            for item in invokes:
                if not signing.matches(signing.mac(self.app.key, item.body),
                                       item.headers.get(signing.SIG)):
                    result.fail(ids("engine-request-signature"),
                                "invoke to a v1 app without a valid X-Durable-Signature")
                    break
        finally:
            self.app.stop()
            self.app, self.app_id = main_app, main_id
        return result

    def rotation(self) -> Result:
        """rotate-key: the engine signs with the older key and accepts both (app answers
        signed with the new one); retire-key: it signs with the new key, refuses the old."""
        result = Result("key-rotation", "engine", ids("engine-rotation"))
        admin = {"content-type": "application/json",
                 "authorization": f"Bearer {self.admin_token}"}
        reply = call(f"{self.base}/api/apps/{self.app_id}/rotate-key", "POST", b"{}", admin)
        try:
            new_key = reply.json()["key"]
        except (ValueError, KeyError, TypeError):
            result.fail(ids("engine-rotation"), f"rotate-key answered {reply.status}:"
                                                f" {reply.text()!r}")
            return result
        old_key = self.app.key
        self.app.key = new_key  # the redeployed app: signs with the new key
        invokes, problem = self._run_serial_once()
        if problem:
            result.fail(ids("engine-rotation"), f"while two keys are active: {problem}")
        for item in invokes:
            if not signing.matches(signing.mac(old_key, item.body), item.headers.get(signing.SIG)):
                result.fail(ids("engine-rotation"),
                            "while two keys are active the invoke is not signed with the older"
                            " key")
                break
        reply = call(f"{self.base}/api/apps/{self.app_id}/retire-key", "POST", b"{}", admin)
        if reply.status != 200:
            result.fail(ids("engine-rotation"), f"retire-key answered {reply.status}")
            return result
        invokes, problem = self._run_serial_once()
        if problem:
            result.fail(ids("engine-rotation"), f"after retire: {problem}")
        for item in invokes:
            if not signing.matches(signing.mac(new_key, item.body), item.headers.get(signing.SIG)):
                result.fail(ids("engine-rotation"), "after retire the invoke is not signed with"
                                                    " the remaining key")
                break
        self.app.key = old_key
        status, _ = self.api("/e", {"id": "conf-retired-" + secrets.token_hex(4),
                                    "name": "conf.fake.nothing", "data": {}})
        self.app.key = new_key
        if status != 401:
            result.fail(ids("engine-rotation"),
                        f"an API call signed with the retired key answered {status}, not 401")
        return result

    def check_requests(self) -> Result:
        """Every request the engine sent: signed right, fresh, well-formed."""
        result = Result("every-request-signed-and-valid", "engine",
                        ids("engine-request-signature") + ids("engine-invoke-schema"))
        with self.app.lock:
            received = list(self.app.received)
        v2 = "timestamped-signatures" in self.app.capabilities
        for item in received:
            stamp = item.headers.get(signing.TIMESTAMP)
            if item.method == "GET":
                if stamp is None or not stamp.isdigit():
                    result.fail(ids("engine-manifest-request"),
                                f"manifest GET without a ms timestamp ({stamp!r})")
                    continue
                if abs(int(stamp) - item.at_ms) > WINDOW_MS or not signing.matches(
                        signing.mac(self.app.key, stamp.encode()), item.headers.get(signing.SIG)):
                    result.fail(ids("engine-manifest-request"),
                                "manifest GET signature or timestamp invalid")
                continue
            if item.method != "POST":
                result.fail(ids("engine-invoke"), f"unexpected {item.method} to the app")
                continue
            if not signing.matches(signing.mac(self.app.key, item.body),
                                   item.headers.get(signing.SIG)):
                result.fail(ids("engine-request-signature"),
                            "invoke X-Durable-Signature is not HMAC(key, body)")
            if v2:
                if stamp is None or not stamp.isdigit() or abs(int(stamp) - item.at_ms) > 5_000:
                    result.fail(ids("engine-request-signature-v2"),
                                f"invoke to a v2 app without a current timestamp ({stamp!r})")
                elif not signing.matches(signing.mac(self.app.key, signing.v2_input(
                        stamp, item.body)), item.headers.get(signing.SIG_V2)):
                    result.fail(ids("engine-request-signature-v2"),
                                "invoke X-Durable-Signature-V2 is not HMAC(key, ts.body)")
            try:
                invoke = item.json()
            except ValueError:
                result.fail(ids("engine-invoke-schema"), "invoke body is not JSON")
                continue
            problem = self.spec.validate("invoke", invoke)
            if problem:
                result.fail(ids("engine-invoke-schema"), f"invoke does not match: {problem}")
            for name, kind in (("functionId", str), ("runId", str), ("event", dict),
                               ("steps", dict), ("attempt", int)):
                if not isinstance(invoke.get(name), kind):
                    result.fail(ids("engine-invoke-schema"),
                                f"invoke field {name} is {invoke.get(name)!r}")
        if not received:
            result.fail(ids("engine-invoke"), "the engine sent nothing to the app")
        elif v2 and any(item.method == "POST" for item in received):
            result.cover(ids("engine-request-signature-v2"))
        return result

    def _common(self, result: Result, invokes: list[Received], event_id: str) -> None:
        bodies = [i.json() for i in invokes]
        run_ids = {b.get("runId") for b in bodies}
        if len(run_ids) != 1:
            result.fail(ids("engine-memo"), f"one run expected, invokes carry runIds {run_ids}")
        for body in bodies:
            event = body.get("event") or {}
            if event.get("id") != event_id or event.get("data") != {
                    "scenario": body.get("functionId"), "userId": "u1"}:
                result.fail(ids("engine-invoke-schema"),
                            f"invoke event is {json.dumps(event)[:160]}, not the event sent")
                break

    def check_serial(self, result: Result, invokes: list[Received], event_id: str) -> None:
        self._common(result, invokes, event_id)
        seen = [(i.json().get("steps"), i.json().get("attempt")) for i in invokes]
        want = [({}, 0), ({"a": {"type": "run", "data": {"n": 1}}}, 0),
                ({"a": {"type": "run", "data": {"n": 1}}, "b": {"type": "run", "data": {"n": 2}}},
                 0)]
        if seen != want:
            result.fail(ids("engine-memo"), f"invokes carried (steps, attempt) {seen}, "
                                            f"expected {want}")

    def _attempt_gaps(self, result: Result, invokes: list[Received], attempts: list[int]
                      ) -> None:
        seen = [i.json().get("attempt") for i in invokes]
        if seen != attempts:
            result.fail(ids("engine-retries"), f"attempts {seen}, expected {attempts}")
            return
        for k in range(1, len(attempts)):
            if attempts[k] == 0:
                continue
            retry = attempts[k]
            base = min(1000 * 2 ** (retry - 1), 300_000)
            gap = invokes[k].at_ms - invokes[k - 1].at_ms
            if not base * 0.5 - EARLY_MS <= gap <= base + LATE_MS:
                result.fail(ids("engine-backoff"),
                            f"retry {retry} came {gap} ms after the previous attempt; backoff"
                            f" is {base // 2}..{base} ms (+{LATE_MS} ms latency allowed)")

    def check_flaky(self, result: Result, invokes: list[Received], event_id: str) -> None:
        self._common(result, invokes, event_id)
        self._attempt_gaps(result, invokes, [0, 1, 2, 0])
        if invokes and invokes[-1].json().get("steps") != {"flaky": {"type": "run",
                                                                     "data": "ok"}}:
            result.fail(ids("engine-memo"), "after the retried step succeeded, the memo is "
                                            f"{invokes[-1].json().get('steps')}")

    def check_garbage(self, result: Result, invokes: list[Received], event_id: str) -> None:
        self._common(result, invokes, event_id)
        self._attempt_gaps(result, invokes, [0, 1, 2, 3])
        if any(i.json().get("steps") for i in invokes):
            result.fail(ids("engine-garbage-answer"),
                        "a garbage or forged answer was memoized: "
                        f"{[i.json().get('steps') for i in invokes]}")

    def check_exhaust(self, result: Result, invokes: list[Received], event_id: str) -> None:
        self._common(result, invokes, event_id)
        self._attempt_gaps(result, invokes, [0, 1])

    def check_sleeper(self, result: Result, invokes: list[Received], event_id: str) -> None:
        self._common(result, invokes, event_id)
        steps = [i.json().get("steps") or {} for i in invokes]
        if [sorted(s) for s in steps] != [[], ["before"], ["before", "nap"]]:
            result.fail(ids("engine-memo"), f"invokes carried memo keys "
                                            f"{[sorted(s) for s in steps]}")
            return
        if steps[2]["nap"].get("type") != "sleep" or steps[2]["before"] != {"type": "run",
                                                                             "data": "x"}:
            result.fail(ids("engine-memo"), f"memo after the sleep is {steps[2]}")
        gap = invokes[2].at_ms - invokes[1].at_ms
        if not 1000 - EARLY_MS <= gap <= 1000 + LATE_MS:
            result.fail(ids("engine-timer"), f"the sleep of 1000 ms resumed after {gap} ms")

    def release_waiter(self) -> str | None:
        """Once the waiter run waits: a non-matching event, then the matching one."""
        deadline = time.monotonic() + RUN_TIMEOUT_S / 2
        while time.monotonic() < deadline:
            invokes = self.app.invokes("waiter")
            if invokes:
                code, answer = self.api("/runs/get", {"runId": invokes[0].json()["runId"]})
                run = answer.get("run", answer) if isinstance(answer, dict) else {}
                if code == 200 and run.get("status") == "waiting":
                    break
            time.sleep(0.2)
        else:
            return None
        for user in ("someone-else", "u1"):
            event_id = f"conf-approved-{user}-{secrets.token_hex(4)}"
            status, _ = self.api("/e", {"id": event_id, "name": "conf.fake.approved",
                                        "data": {"userId": user}})
            if status != 200:
                return None
        return event_id

    def check_waiter(self, result: Result, invokes: list[Received], event_id: str) -> None:
        self._common(result, invokes, event_id)
        if not self.matching_event:
            result.fail(ids("engine-wait"), "the run never reached status waiting after the"
                                            " wait op (or the approval event was refused)")
            return
        if len(invokes) != 2:
            result.fail(ids("engine-wait"), f"{len(invokes)} invokes, expected 2 (wait, then"
                                            " resumed once by the matching event)")
            return
        memo = (invokes[1].json().get("steps") or {}).get("approve") or {}
        got = memo.get("data") if isinstance(memo.get("data"), dict) else {}
        if memo.get("type") != "wait" or got.get("id") != self.matching_event or \
                got.get("data") != {"userId": "u1"} or not isinstance(got.get("ts"), int):
            result.fail(ids("engine-wait"), f"memo approve is {json.dumps(memo)[:200]}; "
                                            f"expected the matching event {self.matching_event}"
                                            " as stored (with ts)")

    def check_with_failure(self, result: Result, invokes: list[Received], event_id: str
                           ) -> None:
        self._common(result, invokes, event_id)
        bodies = [i.json() for i in invokes]
        shape = [("failure" in b, sorted(b.get("steps") or {}), b.get("attempt")) for b in bodies]
        want = [(False, [], 0), (True, [], 0), (True, ["cleanup"], 0)]
        if shape != want:
            result.fail(ids("engine-failure-handler"),
                        f"invokes (failure?, memo keys, attempt) were {shape}, expected {want}")
            return
        failure = bodies[1]["failure"]
        expected = {"message": "exploded", "name": "Error", "code": "E_BOOM", "stepId": "explode"}
        if {k: failure.get(k) for k in expected} != expected:
            result.fail(ids("engine-failure-handler"),
                        f"failure is {json.dumps(failure)[:200]}, expected {expected}")
        code, answer = self.api("/runs/get", {"runId": bodies[0]["runId"]})
        run = answer.get("run", answer) if isinstance(answer, dict) else {}
        handler = run.get("failureHandler")
        if code != 200 or not isinstance(handler, dict) or handler.get("status") != "completed":
            result.fail(ids("engine-failure-handler"),
                        f"/runs/get answered {code}; failureHandler is {handler!r},"
                        " expected {'status': 'completed'}")

    def check_sender(self, result: Result, invokes: list[Received], event_id: str) -> None:
        self._common(result, invokes, event_id)
        if len(invokes) != 2:
            result.fail(ids("engine-send-event"), f"{len(invokes)} invokes, expected 2")
            return
        run_id = invokes[0].json().get("runId")
        memo = (invokes[1].json().get("steps") or {}).get("emit") or {}
        receipts = memo.get("data")
        if memo.get("type") != "sendEvent" or not isinstance(receipts, list) or \
                len(receipts) != 1 or not isinstance(receipts[0], dict) or \
                receipts[0].get("id") != f"child-{run_id}":
            result.fail(ids("engine-send-event"),
                        f"memo emit is {json.dumps(memo)[:200]}; expected sendEvent receipts"
                        f" for child-{run_id}")
            return
        problem = self.spec.validate("receipt", receipts[0])
        if problem:
            result.fail(ids("engine-send-event"), f"receipt does not match: {problem}")
