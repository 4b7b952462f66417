"""The fake engine: drives an SDK's conformance app over real HTTP and checks every answer."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from . import signing
from .capabilities import DEFAULT_MAX_REQUEST, KEY_ROTATION, OCCURRENCES, TIMESTAMPED, WINDOW_MS
from .checks import ids
from .client import Reply, call
from .compare import compare, normalise
from .harness import Harness, HarnessError, RunningApp, start_app
from .negative_cases import NegativeCases
from .results import ERROR, Result
from .spec import (
    Spec,
    VectorCase,
    catalog_definitions,
    catalog_ids,
)

APP_HOPS = ("invoke", "invoke-v2", "manifest")
EDGE_MARGIN_MS = 1_000
DISCOVERY = "X-Durable-Discovery"
DISCOVERY_MEMBERS = ("signingKey", "appId", "appName")

# Protocol 1.1 definition members ([MINOR-2]): sent only when the user set them.
MINOR_1_1_MEMBERS = {"cancelOn", "idempotency", "singleton"}


class AppPool:
    """Conformance apps started on demand, one per (keys, capabilities) combination."""

    def __init__(self, harness: Harness, log: Callable[[str], None]) -> None:
        self.harness = harness
        self.log = log
        self.apps: dict[tuple[str, str | None, bool, bool, str | None],
                        RunningApp | HarnessError] = {}

    def get(self, key: str, fallback: str | None = None, none: bool = False,
            dev: bool = False, only: str | None = None) -> RunningApp:
        slot = (key, fallback, none, dev, only)
        if slot not in self.apps:
            label = "capabilities=none" if none else (
                f"capabilities={only}" if only else "default capabilities")
            label += ", with fallback key" if fallback else ""
            label += ", dev mode" if dev else ""
            self.log(f"starting {self.harness.target} app ({label})")
            try:
                self.apps[slot] = start_app(
                    self.harness, key=key, fallback=fallback, capabilities_none=none, dev=dev,
                    capabilities=only,
                )
            except HarnessError as error:
                self.apps[slot] = error
        found = self.apps[slot]
        if isinstance(found, HarnessError):
            raise found
        return found

    def stop(self) -> None:
        for app in self.apps.values():
            if isinstance(app, RunningApp):
                app.stop()


class FakeEngine(NegativeCases):
    def __init__(
        self,
        harness: Harness,
        spec: Spec | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.harness = harness
        self.spec = spec or Spec()
        self.log = log
        self.key = "conf-" + secrets.token_hex(16)
        # The previous key of a rotation: the primary-key case runs an app holding both.
        self.fallback_key = "conf-old-" + secrets.token_hex(16)
        self.pool = AppPool(harness, log)
        self.results: list[Result] = []
        self.capabilities: list[str] = []
        self.max_request = DEFAULT_MAX_REQUEST

    # ---- running -----------------------------------------------------------------

    def run(self) -> list[Result]:
        try:
            self._run_all()
        finally:
            self.pool.stop()
        return self.results

    def _run_all(self) -> None:
        for kind in ("op", "manifest"):
            if self.spec.schema_name(kind) is None:
                self.log(f"WARNING: no {kind} schema in spec/schemas yet: {kind} answers are"
                         " checked against the vectors only")
        try:
            app = self.pool.get(self.key)
        except HarnessError as error:
            result = Result("start", "harness", [], status=ERROR)
            result.failures.append(str(error))
            self.results.append(result)
            return
        self.results.append(self.manifest_case(app))
        self.results.append(self.guard("manifest-v2-signature", "manifest",
                                       ids("response-signature-v2"),
                                       lambda: self.manifest_v2_case(app)))
        for case in self.spec.vectors("replay"):
            self.results.append(self.guard(case.id, "replay", case.requirements,
                                           lambda c=case: self.replay_case(app, c)))
        for name, requirements, method in self.negative_cases():
            self.results.append(self.guard(name, "negative", requirements,
                                           lambda m=method: m(app)))
        for case in self.spec.vectors("signatures"):
            if case.data.get("hop") in APP_HOPS:
                self.results.append(self.guard(case.id, "signatures", case.requirements,
                                               lambda c=case: self.signature_case(c)))
        self.results.append(self.guard("primary-key", "keys", ids("primary-key"),
                                       self.primary_key_case))
        self.results.append(self.guard("discovery-not-dev", "discovery", ids("discovery"),
                                       lambda: self.discovery_not_dev_case(app)))
        self.results.append(self.guard("discovery-dev", "discovery", ids("discovery"),
                                       self.discovery_dev_case))
        if self.capabilities:
            self.results.append(self.guard("v1-app-speaks-v1", "negotiation",
                                           ids("capabilities"), self.capabilities_none_case))
        else:
            self.results.append(Result("v1-app-speaks-v1", "negotiation", ids("capabilities"))
                                .skip("capability not advertised: none at all (the app speaks"
                                      " plain v1, there is nothing to turn off)"))
        self.results.append(self.guard("capabilities-list", "negotiation",
                                       ids("capabilities"), self.capabilities_list_case))
        self.results.append(self.guard("repeated-step-id-v1", "negotiation",
                                       ids("first-memo"), self.repeated_step_id_case))

    def guard(self, case: str, area: str, requirements: list[str],
              body: Callable[[], Result]) -> Result:
        try:
            return body()
        except HarnessError as error:
            result = Result(case, area, list(requirements), status=ERROR)
            result.failures.append(f"could not start the app: {error}")
            return result

    def needs(self, result: Result, capabilities: list[str]) -> bool:
        missing = [c for c in dict.fromkeys(capabilities) if c not in self.capabilities]
        if missing:
            result.skip(f"capability not advertised: {', '.join(missing)}")
            return False
        return True

    # ---- shared checks -------------------------------------------------------------

    def check_signed(self, result: Result, reply: Reply, key: str,
                     request_timestamp: str | None, extra: list[str] | None = None) -> None:
        """Every 200 answer carries the body signature (and the v2 one for v2 requests);
        `extra` names more requirements the signature's key proves (KEY-3 with a fallback
        key: a present signature must be made with the primary, `key`)."""
        extra = extra or []
        expected = signing.mac(key, reply.body)
        actual = reply.headers.get(signing.SIG)
        if not signing.matches(expected, actual):
            result.fail(ids("response-signature") + (extra if actual else []),
                        f"answer's X-Durable-Signature {actual!r} is not HMAC(key, body)")
        else:
            result.cover(ids("response-signature") + extra)
        if request_timestamp is not None:
            expected_v2 = signing.mac(key, signing.v2_input(request_timestamp, reply.body))
            actual_v2 = reply.headers.get(signing.SIG_V2)
            if not signing.matches(expected_v2, actual_v2):
                result.fail(ids("response-signature-v2") + (extra if actual_v2 else []),
                            f"answer's X-Durable-Signature-V2 {actual_v2!r} is not "
                            "HMAC(key, requestTimestamp + '.' + body)")
            else:
                result.cover(ids("response-signature-v2") + extra)

    def check_status(self, result: Result, reply: Reply, want: int,
                     requirements: list[str]) -> bool:
        if reply.error:
            result.fail(requirements, f"no HTTP answer: {reply.error}")
            return False
        if reply.status != want:
            result.fail(requirements, f"HTTP {reply.status} (expected {want}): {reply.text()!r}")
            return False
        return True

    def parse_op(self, result: Result, reply: Reply) -> Any:
        content_type = reply.headers.get("content-type", "")
        if not content_type.lower().startswith("application/json"):
            result.fail(ids("op-schema"), f"200 answer has Content-Type {content_type!r},"
                                          " not application/json")
        try:
            op = reply.json()
        except ValueError:
            result.fail(ids("op-schema"), f"answer is not JSON: {reply.text()!r}")
            return None
        problem = self.spec.validate("op", op)
        if problem:
            result.fail(ids("op-schema"), f"answer does not match the op schema: {problem}")
        else:
            result.cover(ids("op-schema"))
        return op

    def invoke(self, app: RunningApp, body: bytes, *, v2: bool | None = None,
               key: str | None = None) -> tuple[Reply, str | None, int]:
        use_v2 = (TIMESTAMPED in self.capabilities) if v2 is None else v2
        headers = signing.invoke_headers(key or app.key, body, v2=use_v2)
        sent_at = signing.now_ms()
        reply = call(app.url, "POST", body, headers)
        return reply, headers.get(signing.TIMESTAMP), sent_at

    # ---- manifest ------------------------------------------------------------------

    def manifest_case(self, app: RunningApp) -> Result:
        result = Result("manifest", "manifest", ids("manifest-schema") + ids("manifest-signature"))
        reply = call(app.url, "GET", None, signing.manifest_headers(app.key))
        if not self.check_status(result, reply, 200, ids("manifest-signature")):
            return result
        self.check_signed(result, reply, app.key, None)
        result.cover(ids("manifest-catalog"))
        try:
            manifest = reply.json()
        except ValueError:
            result.fail(ids("manifest-schema"), f"manifest is not JSON: {reply.text()!r}")
            return result
        problem = self.spec.validate("manifest", manifest)
        if problem:
            result.fail(ids("manifest-schema"), f"manifest does not match the schema: {problem}")
        if not isinstance(manifest, dict):
            return result
        capabilities = manifest.get("capabilities", [])
        if isinstance(capabilities, list):
            self.capabilities = [c for c in capabilities if isinstance(c, str)]
        limit = manifest.get("maxRequestBytes")
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            self.max_request = limit
        self.log(f"manifest capabilities: {self.capabilities or 'none'};"
                 f" maxRequestBytes {self.max_request}")
        functions = manifest.get("functions")
        if not isinstance(functions, list):
            result.fail(ids("manifest-schema"), "manifest has no functions list")
            return result
        listed = [f.get("id") for f in functions if isinstance(f, dict)]
        catalog = catalog_ids(self.spec.root)
        if listed != catalog:
            result.fail(ids("manifest-catalog"),
                        f"manifest lists {listed}, the catalog is {catalog} (in that order)")
        wire = catalog_definitions(self.spec)
        result.cover(ids("minor-members"))
        for definition in functions:
            if not isinstance(definition, dict) or definition.get("id") not in catalog:
                continue
            fid = definition["id"]
            unset = sorted(set(definition) & MINOR_1_1_MEMBERS)  # no catalog function sets them
            if unset:
                result.fail(ids("minor-members"), f"function {fid}: the manifest carries"
                                                  f" {unset}, which the app did not set")
            wanted = wire.get(fid, {"trigger": {"event": f"conf.{fid}"}})
            for field, value in wanted.items():
                if definition.get(field) != value:
                    result.fail(ids("manifest-catalog"),
                                f"function {fid}: {field} is {definition.get(field)!r},"
                                f" the catalog says {value!r}")
        return result

    def manifest_v2_case(self, app: RunningApp) -> Result:
        """[SIG-10]: a timestamped app signs its manifest answer with V2 too, over the
        timestamp of the manifest request."""
        result = Result("manifest-v2-signature", "manifest", ids("response-signature-v2"))
        if not self.needs(result, [TIMESTAMPED]):
            return result
        headers = signing.manifest_headers(app.key)
        reply = call(app.url, "GET", None, headers)
        if self.check_status(result, reply, 200, ids("manifest-signature")):
            self.check_signed(result, reply, app.key, headers[signing.TIMESTAMP])
        return result

    # ---- replay transcripts ---------------------------------------------------------

    def replay_case(self, app: RunningApp, case: VectorCase) -> Result:
        result = Result(case.id, "replay", case.requirements, function=case.data.get("function"))
        if not self.needs(result, case.capabilities):
            return result
        data = case.data
        if any(c in self.capabilities for c in data.get("withoutCapabilities", [])):
            app = self.pool.get(self.key, none=True)  # the case is for a plain-v1 app
        if "rawBody" in data:
            body = str(data["rawBody"]).encode()
        else:
            body = json.dumps(data["request"], separators=(",", ":"),
                              ensure_ascii=False).encode()
        method = str(data.get("method", "POST")).upper()
        use_v2 = TIMESTAMPED in self.capabilities and not app.capabilities_none
        headers = signing.invoke_headers(app.key, body, v2=use_v2)
        overrides = {str(k).lower(): str(v) for k, v in data.get("headers", {}).items()}
        if signing.SIG in overrides and use_v2:
            # A wrong signature must be wrong in whichever header the app checks.
            headers[signing.SIG_V2] = overrides[signing.SIG]
        headers.update(overrides)
        sent_at = signing.now_ms()
        reply = call(app.url, method, body, headers)
        want = int(data.get("expectStatus", 200))
        if not self.check_status(result, reply, want, case.requirements):
            return result
        if want != 200:
            return result
        self.check_signed(result, reply, app.key, headers.get(signing.TIMESTAMP))
        op = self.parse_op(result, reply)
        if op is None:
            return result
        expected = data.get("expect")
        problems = compare(expected, op, sent_at)
        if problems:
            result.fail(case.requirements,
                        f"function {data.get('function')}: op differs from the transcript: "
                        + "; ".join(problems[:6]))
        result.op = normalise(expected, op)
        return result

    # ---- signature vectors ----------------------------------------------------------

    def signature_case(self, case: VectorCase) -> Result:
        """Send a signature vector to an app holding the vector's keys; 401 iff invalid."""
        data = case.data
        hop = data["hop"]
        keys: list[str] = list(data["keys"])
        result = Result(case.id, "signatures", case.requirements)
        needed = list(case.capabilities)
        if hop == "invoke-v2":
            needed.append(TIMESTAMPED)
        if len(keys) > 1:
            needed.append(KEY_ROTATION)
        if not self.needs(result, needed):
            return result
        # A v1 invoke is only valid for an app that did not negotiate v2 signatures.
        app = self.pool.get(keys[0], keys[1] if len(keys) > 1 else None, none=hop == "invoke")
        headers, body = shift_to_now(data, keys, bool(data["valid"]))
        method = "GET" if hop == "manifest" else "POST"
        reply = call(app.url, method, body if method == "POST" else None, headers)
        if reply.error:
            result.fail(case.requirements, f"no HTTP answer: {reply.error}")
        elif data["valid"] and reply.status == 401:
            result.fail(case.requirements, f"{hop}: a valid signature was rejected (401)")
        elif not data["valid"] and reply.status != 401:
            result.fail(case.requirements,
                        f"{hop}: an invalid signature was accepted (HTTP {reply.status})")
        elif reply.status >= 500:
            result.fail(case.requirements, f"{hop}: HTTP {reply.status}: {reply.text()!r}")
        elif reply.status == 200:
            # With a fallback key the app must still sign with its primary key.
            self.check_signed(result, reply, app.key,
                              headers.get(signing.TIMESTAMP) if hop == "invoke-v2" else None,
                              ids("primary-key") if len(keys) > 1 else None)
        return result

    def capabilities_none_case(self) -> Result:
        """DURABLE_CAPABILITIES=none: no capability advertised, plain v1 invokes served."""
        result = Result("v1-app-speaks-v1", "negotiation", ids("capabilities"))
        app = self.pool.get(self.key, none=True)
        reply = call(app.url, "GET", None, signing.manifest_headers(app.key))
        if not self.check_status(result, reply, 200, ids("capabilities")):
            return result
        try:
            advertised = reply.json().get("capabilities", [])
        except (ValueError, AttributeError):
            advertised = None
        if advertised not in ([], None):
            result.fail(ids("capabilities"),
                        f"DURABLE_CAPABILITIES=none still advertises {advertised!r}")
        reply, _, _ = self.invoke(app, self._serial_body(), v2=False)
        if self.check_status(result, reply, 200, ids("capabilities")):
            self.check_signed(result, reply, app.key, None)
            if reply.headers.get(signing.SIG_V2):
                result.fail(ids("capabilities"), "a v1 app answered with X-Durable-Signature-V2")
        return result


    def capabilities_list_case(self) -> Result:
        """[VER-4] DURABLE_CAPABILITIES=<a comma-separated list> (harness contract): the app
        advertises exactly those, here the last one it advertises by default, alone."""
        result = Result("capabilities-list", "negotiation", ids("capabilities"))
        if len(self.capabilities) < 2:
            return result.skip("capability not advertised: fewer than two, nothing to choose")
        chosen = self.capabilities[-1]
        app = self.pool.get(self.key, only=f" {chosen} ,")
        reply = call(app.url, "GET", None, signing.manifest_headers(app.key))
        if not self.check_status(result, reply, 200, ids("capabilities")):
            return result
        try:
            advertised = reply.json().get("capabilities", [])
        except (ValueError, AttributeError):
            advertised = None
        if advertised != [chosen]:
            result.fail(ids("capabilities"), f"DURABLE_CAPABILITIES=' {chosen} ,' advertises"
                        f" {advertised!r}, expected exactly [{chosen!r}]")
        return result

    def repeated_step_id_case(self) -> Result:
        """[REPLAY-5] An app without `step-occurrences` gives every use of one step id the
        first memo: `loop` with a memo for `item` runs to `done` with [0, 0, 0]."""
        result = Result("repeated-step-id-v1", "negotiation", ids("first-memo"))
        # The plain-v1 app when the default one counts occurrences.
        app = self.pool.get(self.key, none=OCCURRENCES in self.capabilities)
        request = {"functionId": "loop", "runId": "v1-loop-" + secrets.token_hex(4),
                   "event": {"id": "e-loop", "name": "conf.loop", "data": {}, "ts": 0},
                   "steps": {"item": {"type": "run", "data": 0}}, "attempt": 0}
        reply, _, _ = self.invoke(app, json.dumps(request, separators=(",", ":")).encode(),
                                  v2=False if app.capabilities_none else None)
        if not self.check_status(result, reply, 200, ids("first-memo")):
            return result
        self.check_signed(result, reply, app.key, None)
        op = self.parse_op(result, reply)
        if not isinstance(op, dict) or (op.get("op"), op.get("data")) != ("done", [0, 0, 0]):
            result.fail(ids("first-memo"), "loop with the memo item=0 and no step-occurrences:"
                        f" expected done [0, 0, 0], got {json.dumps(op)[:200]}")
        return result

    # ---- key rotation: answers are signed with the primary key ---------------------------

    def primary_key_case(self) -> Result:
        """An app holding a primary and a fallback key accepts requests signed with either
        ([KEY-2], SHOULD; required once it advertises `key-rotation`) and signs every
        answer with the primary only ([KEY-3]), whichever key signed the request."""
        result = Result("primary-key", "keys", ids("primary-key"))
        if not self.needs(result, [KEY_ROTATION]):
            return result
        app = self.pool.get(self.key, self.fallback_key)
        v2 = TIMESTAMPED in self.capabilities
        for signer, label in ((app.key, "primary"), (self.fallback_key, "fallback")):
            accepted = ids("fallback-key") if label == "fallback" else ids("request-signature")
            stamp = signing.now_ms()
            reply = call(app.url, "GET", None, signing.manifest_headers(signer, stamp))
            manifest_ok = self.check_status(result, reply, 200,
                                            accepted + ids("manifest-signature"))
            if manifest_ok:
                self.check_primary(result, reply, app, str(stamp) if v2 else None,
                                   f"manifest GET signed with the {label} key")
            reply, timestamp, _ = self.invoke(app, self._serial_body(), key=signer)
            invoke_ok = self.check_status(result, reply, 200, accepted)
            if invoke_ok:
                self.check_primary(result, reply, app, timestamp,
                                   f"invoke signed with the {label} key")
            if label == "fallback" and manifest_ok and invoke_ok:
                result.cover(ids("fallback-key"))
        # Two keys, not any key: a third one is still refused.
        reply, _, _ = self.invoke(app, self._serial_body(), key="conf-other-" + self.key)
        self.check_status(result, reply, 401, ids("request-signature"))
        return result

    def check_primary(self, result: Result, reply: Reply, app: RunningApp,
                      request_timestamp: str | None, what: str) -> None:
        self.check_signed(result, reply, app.key, request_timestamp, ids("primary-key"))
        if app.fallback is None:
            return
        inputs = {signing.SIG: reply.body}
        if request_timestamp is not None:
            inputs[signing.SIG_V2] = signing.v2_input(request_timestamp, reply.body)
        for header, message in inputs.items():
            if signing.matches(signing.mac(app.fallback, message), reply.headers.get(header)):
                result.fail(ids("primary-key"),
                            f"{what}: the answer's {header} is made with the fallback key")

    # ---- dev discovery -------------------------------------------------------------------

    def discovery_not_dev_case(self, app: RunningApp) -> Result:
        """[DISC-2] An app not in dev mode treats a discovery GET as an ordinary manifest
        request ([SIG-5]): unsigned it is refused; signed it gets the manifest, no key."""
        result = Result("discovery-not-dev", "discovery", ids("discovery"))
        refused = ids("discovery") + ids("manifest-signature")
        reply = call(app.url, "GET", None, {DISCOVERY: "true"})
        if reply.error or reply.status != 401:
            result.fail(refused, "unsigned discovery GET to an app not in dev mode answered"
                        f" {reply.status or reply.error} (expected 401): {reply.text()!r}")
        else:
            result.cover(ids("manifest-signature"))
        headers = {**signing.manifest_headers(app.key), DISCOVERY: "true"}
        reply = call(app.url, "GET", None, headers)
        if not self.check_status(result, reply, 200, refused):
            return result
        self.check_signed(result, reply, app.key, headers[signing.TIMESTAMP]
                          if TIMESTAMPED in self.capabilities else None)
        if app.key.encode() in reply.body:
            result.fail(ids("discovery"), "an app not in dev mode put its signing key in the"
                        " answer to a discovery GET")
        try:
            answer = reply.json()
        except ValueError:
            result.fail(ids("manifest-schema"), f"manifest is not JSON: {reply.text()!r}")
            return result
        extra = [m for m in DISCOVERY_MEMBERS if isinstance(answer, dict) and m in answer]
        if extra:
            result.fail(ids("discovery"), "an app not in dev mode answered a signed discovery"
                        f" GET with discovery members {extra}, not the plain manifest")
        return result

    def discovery_dev_case(self) -> Result:
        """[DISC-2] An app started in dev mode (DURABLE_DEV=1) answers an unsigned `GET`
        with `X-Durable-Discovery: true`: 200, signed, the manifest plus `signingKey`,
        `appId` and `appName` (both configured by the runner). Nothing else opens up."""
        result = Result("discovery-dev", "discovery", ids("discovery"))
        app = self.pool.get(self.key, dev=True)
        # [SIG-10] A discovery request is unsigned, so no timestamp of it is accepted and
        # its answer carries no V2 signature, also when it happens to hold a timestamp.
        stamped = call(app.url, "GET", None, {DISCOVERY: "true",
                                              signing.TIMESTAMP: str(signing.now_ms())})
        reply = call(app.url, "GET", None, {DISCOVERY: "true"})
        if not self.check_status(result, reply, 200, ids("discovery")):
            return result
        self.check_signed(result, reply, app.key, None, ids("discovery"))
        for label, answer in (("", reply), (" carrying X-Durable-Timestamp", stamped)):
            if signing.SIG_V2 in answer.headers:
                result.fail(ids("discovery") + ids("response-signature-v2"),
                            f"the answer to a discovery GET{label} carries"
                            " X-Durable-Signature-V2 (discovery answers are signed v1 only)")
        try:
            answer = reply.json()
        except ValueError:
            result.fail(ids("discovery"), f"discovery answer is not JSON: {reply.text()!r}")
            return result
        if self.spec.schema_name("discovery") is None:
            self.log("WARNING: no discovery-answer schema in spec/schemas: discovery answers"
                     " are checked member by member only")
        problem = self.spec.validate("discovery", answer)
        if problem:
            result.fail(ids("discovery"), f"discovery answer does not match the schema: {problem}")
        if not isinstance(answer, dict):
            return result
        if answer.get("signingKey") != app.key:
            result.fail(ids("discovery"), "discovery answer's signingKey is not the app's key"
                        f" ({'absent' if 'signingKey' not in answer else 'another value'})")
        for member, value in (("appId", app.app_id), ("appName", app.app_name)):
            if answer.get(member) != value:
                result.fail(ids("discovery"), f"discovery answer's {member} is"
                            f" {answer.get(member)!r}, the app was configured with {value!r}")
        manifest_reply = call(app.url, "GET", None, signing.manifest_headers(app.key))
        if self.check_status(result, manifest_reply, 200, ids("manifest-signature")):
            try:
                manifest = manifest_reply.json()
            except ValueError:
                manifest = None
            rest = {k: v for k, v in answer.items() if k not in DISCOVERY_MEMBERS}
            if rest != manifest:
                result.fail(ids("discovery"), "discovery answer less signingKey/appId/appName"
                            f" is {json.dumps(rest)[:200]}, the signed manifest is"
                            f" {json.dumps(manifest)[:200]}")
        # Dev mode opens discovery only: a plain unsigned manifest GET or invoke is refused.
        reply = call(app.url, "GET", None, {})
        if reply.status != 401:
            result.fail(ids("manifest-signature"), "dev mode: unsigned manifest GET without"
                        f" {DISCOVERY} answered {reply.status or reply.error} (expected 401)")
        else:
            result.cover(ids("manifest-signature"))
        reply = call(app.url, "POST", self._serial_body(), {DISCOVERY: "true",
                                                            "content-type": "application/json"})
        if reply.status != 401:
            result.fail(ids("request-signature"), "dev mode: unsigned invoke (with"
                        f" {DISCOVERY}) answered {reply.status or reply.error} (expected 401)")
        else:
            result.cover(ids("request-signature"))
        return result


def shift_to_now(
    data: dict[str, Any], keys: list[str], valid: bool
) -> tuple[dict[str, str], bytes]:
    """A vector's headers moved to the real clock: same offset from `now`, re-signed.

    A vector fixes `now`; the app uses its own clock. A well-formed timestamp keeps its
    distance from `now`; a signature that was a correct MAC of the old input under a
    known key is recomputed over the new one, anything else (tampered) is kept as is.
    Over real HTTP the app's clock has moved on by the time it checks, so an offset
    within EDGE_MARGIN_MS of the window edge is moved that far to the side of the
    vector's verdict (the edge itself is exact in the vector, not over a network).
    """
    headers = {str(k).lower(): str(v) for k, v in data.get("headers", {}).items()}
    body = str(data.get("body", "")).encode()
    stamp = headers.get(signing.TIMESTAMP)
    if stamp is None or "now" not in data or not stamp.isdigit():
        return headers, body
    offset = int(stamp) - int(data["now"])
    direction = 1 if offset >= 0 else -1
    if valid and abs(offset) > WINDOW_MS - EDGE_MARGIN_MS:
        offset -= direction * EDGE_MARGIN_MS
    elif not valid and WINDOW_MS < abs(offset) < WINDOW_MS + EDGE_MARGIN_MS:
        offset += direction * EDGE_MARGIN_MS
    new_stamp = str(signing.now_ms() + offset)
    known = [*keys, *([data["signingKey"]] if data.get("signingKey") else [])]
    hop = data.get("hop")
    old_inputs = {signing.SIG: stamp.encode() if hop == "manifest" else body,
                  signing.SIG_V2: signing.v2_input(stamp, body)}
    new_inputs = {signing.SIG: new_stamp.encode() if hop == "manifest" else body,
                  signing.SIG_V2: signing.v2_input(new_stamp, body)}
    for header, old_input in old_inputs.items():
        value = headers.get(header)
        for key in known:
            if value is not None and signing.matches(signing.mac(key, old_input), value):
                headers[header] = signing.mac(key, new_inputs[header])
                break
    headers[signing.TIMESTAMP] = new_stamp
    return headers, body
