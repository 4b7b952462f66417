"""Negative cases against an SDK's app: what it must refuse, and how it refuses.

Each case sends one kind of bad request (or a request at a limit's edge) and fails with
the requirement IDs of the rule it breaks. Mixed into FakeEngine, which provides the app
pool, `invoke`, `check_status` and the advertised capabilities.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from . import signing
from .capabilities import TIMESTAMPED, WINDOW_MS
from .checks import ids
from .client import Reply, call
from .harness import RunningApp
from .results import Result

# A loopback call takes well under this; the window checks leave it to the app's clock.
LATENCY_ALLOWANCE_MS = 2_000
# Methods ROLE-1 leaves to 405 (HEAD and OPTIONS too: no framework default may answer them).
OTHER_METHODS = ("PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")


class NegativeCases:
    """Mixin: the `negative` area. Needs FakeEngine's attributes and helpers."""

    capabilities: list[str]
    max_request: int
    key: str
    pool: Any
    invoke: Callable[..., tuple[Reply, str | None, int]]
    check_status: Callable[[Result, Reply, int, list[str]], bool]
    parse_op: Callable[[Result, Reply], object]
    check_signed: Callable[..., None]
    needs: Callable[[Result, list[str]], bool]

    def negative_cases(self) -> list[tuple[str, list[str], Callable[[RunningApp], Result]]]:
        return [
            ("tampered-signature", ids("request-signature"), self.neg_tampered),
            ("wrong-key", ids("request-signature"), self.neg_wrong_key),
            ("missing-signature", ids("signature-format"), self.neg_missing_signature),
            ("malformed-signature", ids("signature-format"), self.neg_malformed_signature),
            ("missing-v2-signature", ids("request-signature-v2"), self.neg_missing_v2),
            ("stale-v2-timestamp", ids("request-signature-v2"), self.neg_stale_v2),
            ("stale-manifest-timestamp", ids("manifest-signature"), self.neg_stale_manifest),
            ("unsigned-manifest", ids("manifest-signature"), self.neg_unsigned_manifest),
            ("malformed-json", ids("malformed-body"), self.neg_malformed_json),
            ("body-not-object", ids("malformed-body"), self.neg_not_object),
            ("unknown-function", ids("unknown-function"), self.neg_unknown_function),
            ("oversized-body", ids("oversized-body"), self.neg_oversized),
            ("wrong-method", ids("wrong-method"), self.neg_wrong_method),
            ("oversized-bad-signature", ids("oversized-body"), self.neg_oversized_unsigned),
            ("refusal-reveals-nothing", ids("refusal"), self.neg_refusal_body),
            ("manifest-window-edge", ids("manifest-signature") + ids("timestamp-window"),
             self.neg_manifest_window_edge),
            ("v2-window-edge", ids("request-signature-v2") + ids("timestamp-window"),
             self.neg_v2_window_edge),
            ("v1-mistyped-members", ids("v1-mistyped"), self.neg_v1_mistyped),
        ]

    def _serial_body(self) -> bytes:
        request = {"functionId": "serial", "runId": "neg-" + secrets.token_hex(4),
                   "event": {"id": "e-neg", "name": "conf.serial", "data": {}, "ts": 0},
                   "steps": {}, "attempt": 0}
        return json.dumps(request, separators=(",", ":")).encode()

    def neg_tampered(self, app: RunningApp) -> Result:
        body = self._serial_body()
        headers = signing.invoke_headers(app.key, body, v2=TIMESTAMPED in self.capabilities)
        tampered = body.replace(b'"serial"', b'"echo"')
        result = Result("tampered-signature", "negative", ids("request-signature"))
        reply = call(app.url, "POST", tampered, headers)
        self.check_status(result, reply, 401, ids("request-signature"))
        return result

    def neg_wrong_key(self, app: RunningApp) -> Result:
        body = self._serial_body()
        headers = signing.invoke_headers("not-" + app.key, body,
                                         v2=TIMESTAMPED in self.capabilities)
        result = Result("wrong-key", "negative", ids("request-signature"))
        self.check_status(result, call(app.url, "POST", body, headers), 401,
                          ids("request-signature"))
        return result

    def neg_missing_signature(self, app: RunningApp) -> Result:
        result = Result("missing-signature", "negative", ids("signature-format"))
        reply = call(app.url, "POST", self._serial_body(), {"content-type": "application/json"})
        self.check_status(result, reply, 401, ids("signature-format"))
        return result

    def neg_malformed_signature(self, app: RunningApp) -> Result:
        body = self._serial_body()
        headers = signing.invoke_headers(app.key, body, v2=TIMESTAMPED in self.capabilities)
        # Right length, not hex: must be refused before any comparison.
        headers[signing.SIG] = "z" * 64
        if signing.SIG_V2 in headers:
            headers[signing.SIG_V2] = "z" * 64
        result = Result("malformed-signature", "negative", ids("signature-format"))
        self.check_status(result, call(app.url, "POST", body, headers), 401,
                          ids("signature-format"))
        return result

    def neg_missing_v2(self, app: RunningApp) -> Result:
        result = Result("missing-v2-signature", "negative", ids("request-signature-v2"))
        if not self.needs(result, [TIMESTAMPED]):
            return result
        body = self._serial_body()
        headers = signing.invoke_headers(app.key, body, v2=False)
        self.check_status(result, call(app.url, "POST", body, headers), 401,
                          ids("request-signature-v2"))
        return result

    def neg_stale_v2(self, app: RunningApp) -> Result:
        window = ids("request-signature-v2") + ids("timestamp-window")
        result = Result("stale-v2-timestamp", "negative", window)
        if not self.needs(result, [TIMESTAMPED]):
            return result
        body = self._serial_body()
        for offset in (-300_001 - 5_000, 300_001 + 5_000):
            headers = signing.invoke_headers(app.key, body, v2=True,
                                             timestamp=signing.now_ms() + offset)
            reply = call(app.url, "POST", body, headers)
            if reply.status != 401:
                result.fail(window,
                            f"invoke with a timestamp {offset:+d} ms away answered"
                            f" {reply.status or reply.error} (expected 401)")
        return result

    def neg_stale_manifest(self, app: RunningApp) -> Result:
        window = ids("manifest-signature") + ids("timestamp-window")
        result = Result("stale-manifest-timestamp", "negative", window)
        for offset in (-305_001, 305_001):
            headers = signing.manifest_headers(app.key, signing.now_ms() + offset)
            reply = call(app.url, "GET", None, headers)
            if reply.status != 401:
                result.fail(window,
                            f"manifest GET with a timestamp {offset:+d} ms away answered"
                            f" {reply.status or reply.error} (expected 401)")
        return result

    def neg_unsigned_manifest(self, app: RunningApp) -> Result:
        result = Result("unsigned-manifest", "negative", ids("manifest-signature"))
        self.check_status(result, call(app.url, "GET", None, {}), 401, ids("manifest-signature"))
        return result

    def _signed_bad_body(self, name: str, app: RunningApp, body: bytes) -> Result:
        result = Result(name, "negative", ids("malformed-body"))
        reply, _, _ = self.invoke(app, body)
        self.check_status(result, reply, 400, ids("malformed-body"))
        return result

    def neg_malformed_json(self, app: RunningApp) -> Result:
        return self._signed_bad_body("malformed-json", app, b'{"functionId": "serial", ')

    def neg_not_object(self, app: RunningApp) -> Result:
        return self._signed_bad_body("body-not-object", app, b'["serial"]')

    def neg_unknown_function(self, app: RunningApp) -> Result:
        result = Result("unknown-function", "negative", ids("unknown-function"))
        body = self._serial_body().replace(b'"serial"', b'"no-such-function"')
        reply, timestamp, _ = self.invoke(app, body)
        if not self.check_status(result, reply, 200, ids("unknown-function")):
            return result
        self.check_signed(result, reply, app.key, timestamp)
        op = self.parse_op(result, reply)
        if isinstance(op, dict) and (op.get("op") != "error" or op.get("retryable") is not False):
            result.fail(ids("unknown-function"),
                        f"expected op error with retryable false, got {json.dumps(op)[:200]}")
        return result

    def neg_oversized(self, app: RunningApp) -> Result:
        result = Result("oversized-body", "negative", ids("oversized-body"))
        padding = "x" * (self.max_request + 1)
        body = json.dumps({"functionId": "serial", "runId": "big", "steps": {},
                           "event": {"id": "e", "name": "conf.serial", "data": {"p": padding}}},
                          separators=(",", ":")).encode()
        reply, _, _ = self.invoke(app, body)
        self.check_status(result, reply, 413, ids("oversized-body"))
        return result

    def neg_wrong_method(self, app: RunningApp) -> Result:
        result = Result("wrong-method", "negative", ids("wrong-method"))
        for method in OTHER_METHODS:
            body = None if method == "HEAD" else b"{}"
            reply = call(app.url, method, body, {"content-type": "application/json"})
            if not self.check_status(result, reply, 405, ids("wrong-method")):
                continue
            allow = {m.strip().upper() for m in reply.headers.get("allow", "").split(",")}
            if allow != {"GET", "POST"}:
                result.fail(ids("wrong-method"),
                            f"{method}: Allow header is {reply.headers.get('allow')!r},"
                            " expected GET, POST")
        return result

    def neg_oversized_unsigned(self, app: RunningApp) -> Result:
        """[INV-6] The size is checked before the signature: a body over maxRequestBytes
        is refused 413 whether its signature is wrong or absent (reading and hashing a
        huge body first is what the order prevents)."""
        result = Result("oversized-bad-signature", "negative", ids("oversized-body"))
        body = json.dumps({"functionId": "serial", "runId": "big", "steps": {},
                           "event": {"id": "e", "name": "conf.serial",
                                     "data": {"p": "x" * (self.max_request + 1)}}},
                          separators=(",", ":")).encode()
        wrong = signing.invoke_headers("not-" + app.key, body,
                                       v2=TIMESTAMPED in self.capabilities)
        for label, headers in (("signed with a wrong key", wrong),
                               ("unsigned", {"content-type": "application/json"})):
            reply = call(app.url, "POST", body, headers)
            if reply.status != 413:
                result.fail(ids("oversized-body"), f"a body over maxRequestBytes"
                            f" ({self.max_request}), {label}, answered"
                            f" {reply.status or reply.error} (expected 413: size before"
                            " signature)")
        return result

    def neg_refusal_body(self, app: RunningApp) -> Result:
        """[SIG-12] A 401 is not signed and does not say which check failed: every kind
        of bad signature gets the same answer body (SHOULD be `invalid signature`)."""
        result = Result("refusal-reveals-nothing", "negative", ids("refusal"))
        body = self._serial_body()
        v2 = TIMESTAMPED in self.capabilities
        stale = signing.now_ms() - WINDOW_MS - 60_000
        attempts: list[tuple[str, str, bytes | None, dict[str, str]]] = [
            ("unsigned invoke", "POST", body, {"content-type": "application/json"}),
            ("invoke signed with a wrong key", "POST", body,
             signing.invoke_headers("not-" + app.key, body, v2=v2)),
            ("invoke with a non-hex signature", "POST", body,
             {**signing.invoke_headers(app.key, body, v2=v2), signing.SIG: "z" * 64}),
            ("unsigned manifest GET", "GET", None, {}),
            ("manifest GET with a stale timestamp", "GET", None,
             signing.manifest_headers(app.key, stale)),
        ]
        if v2:
            attempts.append(("invoke with a stale V2 timestamp", "POST", body,
                             signing.invoke_headers(app.key, body, v2=True, timestamp=stale)))
            attempts.append(("invoke without the V2 headers", "POST", body,
                             signing.invoke_headers(app.key, body, v2=False)))
        bodies: dict[bytes, list[str]] = {}
        for label, method, payload, headers in attempts:
            reply = call(app.url, method, payload, headers)
            if reply.status != 401:
                result.fail(ids("refusal"), f"{label}: answered {reply.status or reply.error}"
                            " (expected 401)")
                continue
            signed = [h for h in (signing.SIG, signing.SIG_V2) if h in reply.headers]
            if signed:
                result.fail(ids("refusal"), f"{label}: the 401 answer carries {signed}"
                            " (a refusal MUST NOT be signed)")
            bodies.setdefault(reply.body, []).append(label)
        if len(bodies) > 1:
            shown = "; ".join(f"{labels[0]}: {text[:60]!r}" for text, labels in bodies.items())
            result.fail(ids("refusal"), "the 401 body differs with the check that failed,"
                        f" so it reveals which one: {shown}")
        return result

    def _window(self, result: Result, requirement_ids: list[str], what: str,
                send: Callable[[int], Reply]) -> None:
        """[LIMIT-1] |now − ts| ≤ 300000, inclusive, in both directions. The app reads
        its clock after the runner does (δ ≥ 0), so these verdicts hold whatever δ is:
        ts = sent + 300000 is at most 300000 away (accept); sent − 300001 − k at least
        300001 (refuse, for several k so a seconds-granular clock cannot slip through);
        sent − 300000 + 2000 and sent + 302001 are decided with 2 s allowed for δ."""
        accept = (WINDOW_MS, -WINDOW_MS + LATENCY_ALLOWANCE_MS, 0)
        refuse = (-WINDOW_MS - 1, -WINDOW_MS - 250, -WINDOW_MS - 500, -WINDOW_MS - 750,
                  -WINDOW_MS - 999, WINDOW_MS + 1 + LATENCY_ALLOWANCE_MS)
        for offset in accept:
            reply = send(offset)
            if reply.status != 200:
                result.fail(requirement_ids, f"{what} with a timestamp {offset:+d} ms from the"
                            f" sender's clock answered {reply.status or reply.error}"
                            " (expected 200: the window is 300000 ms, inclusive)")
        for offset in refuse:
            reply = send(offset)
            if reply.status != 401:
                result.fail(requirement_ids, f"{what} with a timestamp {offset:+d} ms from the"
                            f" sender's clock answered {reply.status or reply.error}"
                            " (expected 401: outside the 300000 ms window)")

    def neg_manifest_window_edge(self, app: RunningApp) -> Result:
        window = ids("manifest-signature") + ids("timestamp-window")
        result = Result("manifest-window-edge", "negative", window)

        def send(offset: int) -> Reply:
            headers = signing.manifest_headers(app.key, signing.now_ms() + offset)
            return call(app.url, "GET", None, headers)

        self._window(result, window, "manifest GET", send)
        return result

    def neg_v2_window_edge(self, app: RunningApp) -> Result:
        window = ids("request-signature-v2") + ids("timestamp-window")
        result = Result("v2-window-edge", "negative", window)
        if not self.needs(result, [TIMESTAMPED]):
            return result
        body = self._serial_body()

        def send(offset: int) -> Reply:
            headers = signing.invoke_headers(app.key, body, v2=True,
                                             timestamp=signing.now_ms() + offset)
            return call(app.url, "POST", body, headers)

        self._window(result, window, "V2 invoke", send)
        return result

    def neg_v1_mistyped(self, app: RunningApp) -> Result:
        """[INV-8] Without strict-replay a signed JSON object whose members have the wrong
        type still gets 200 and one valid op (never a 400 or a 500)."""
        result = Result("v1-mistyped-members", "negative", ids("v1-mistyped"))
        plain = self.pool.get(self.key, none=True)
        for member, value in (("event", "x"), ("steps", []), ("steps", {"a": 1}),
                              ("attempt", -1), ("attempt", "0"), ("runId", 7),
                              ("events", "x")):
            request = json.loads(self._serial_body())
            request[member] = value
            body = json.dumps(request, separators=(",", ":")).encode()
            reply, _, _ = self.invoke(plain, body, v2=False)
            if not self.check_status(result, reply, 200, ids("v1-mistyped")):
                continue
            self.check_signed(result, reply, plain.key, None)
            op = self.parse_op(result, reply)
            if not isinstance(op, dict):
                result.fail(ids("v1-mistyped"), f"{member}={json.dumps(value)}: no op")
        return result
