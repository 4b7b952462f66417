"""Engine API scenarios: key rotation limits [KEY-4], [KEY-5], the callback URL [ROLE-3], API
signatures [SIG-8], [SIG-11] and dev discovery [DISC-1..3].
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import signing
from ..client import call
from ..fake_app import FakeApp
from ..results import Result
from .api_common import done, error_of, iso, seen, sync_body, wait_until
from .workspace import workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite


def key_limits(suite: EngineSuite) -> list[Result]:
    result = Result("rotate-and-retire-limits", "engine", ["KEY-4", "KEY-5"])
    with workspace(suite, {}, sync=False) as ws:
        original = ws.app.key
        rotate = ws.admin("POST", f"/api/apps/{ws.app_id}/rotate-key", {})
        rotated = rotate.json() if rotate.status == 200 else {}
        new_key = rotated.get("key")
        if not isinstance(new_key, str) or rotated.get("activeKeys") != 2:
            result.fail(["KEY-4"], f"rotate-key with one key answered {seen(rotate)}")
            return [result]
        again = ws.admin("POST", f"/api/apps/{ws.app_id}/rotate-key", {})
        if again.status != 409 or error_of(again)[0] != "CONFLICT":
            result.fail(["KEY-4"], f"rotate-key with two keys answered {seen(again)},"
                                   " expected 409 CONFLICT")
        retire = ws.admin("POST", f"/api/apps/{ws.app_id}/retire-key", {})
        if retire.status != 200 or retire.json().get("activeKeys") != 1:
            result.fail(["KEY-5"], f"retire-key with two keys answered {seen(retire)}")
            return [result]
        again = ws.admin("POST", f"/api/apps/{ws.app_id}/retire-key", {})
        if again.status != 409 or error_of(again)[0] != "CONFLICT":
            result.fail(["KEY-5"], f"retire-key with one key answered {seen(again)},"
                                   " expected 409 CONFLICT")
        old = ws.post("/runs/search", {"limit": 1}, key=original)
        new = ws.post("/runs/search", {"limit": 1}, key=new_key)
        if old.status != 401 or new.status != 200:
            result.fail(["KEY-5"], f"after retire-key a call signed with the retired key"
                                   f" answered {old.status}, with the remaining key"
                                   f" {new.status}; expected 401 and 200")
    return [result]


def callback_url(suite: EngineSuite) -> list[Result]:
    result = Result("sync-never-sets-the-callback-url", "engine", ["ROLE-3"])
    scripts = {"role": ({"trigger": {"event": "conf.api.role"}}, done)}
    decoy = FakeApp(scripts=dict(scripts))
    decoy.start()
    try:
        with workspace(suite, scripts) as ws:
            decoy.key = ws.app.key
            for member in ("appUrl", "url"):
                reply = ws.post("/fn/sync", sync_body(ws.app.definitions(),
                                                      **{member: decoy.url}))
                # The sync request is closed ([API-3]): the member is refused, not used.
                if reply.status != 400 or error_of(reply) != ("INVALID_REQUEST", f"/{member}"):
                    result.fail(["ROLE-3", "API-3"], f"sync with an extra {member!r} answered"
                                                     f" {seen(reply)}, expected 400"
                                                     f" INVALID_REQUEST at /{member}")
                else:
                    result.cover(["API-3"])
            code, receipt = ws.send("conf.api.role", {})
            run_id = (receipt.get("runIds") or [None])[0] if code == 200 else None
            final = ws.wait_run(run_id, timeout_s=15) if run_id else None
            if (final or {}).get("status") != "completed" or not ws.invokes("role") or \
                    decoy.invokes("role") or decoy.received:
                result.fail([], f"after syncs naming another URL the run ended"
                                f" {(final or {}).get('status')!r}; the provisioned app got"
                                f" {len(ws.invokes('role'))} invokes, the other URL"
                                f" {len(decoy.received)} requests")
            listed = [a for a in ws.admin("GET", "/api/apps").json().get("apps", [])
                      if a.get("id") == ws.app_id]
            if not listed or listed[0].get("appUrl") != ws.app.url:
                result.fail([], f"GET /api/apps shows the workspace as {listed}, expected"
                                f" appUrl {ws.app.url}")
    finally:
        decoy.stop()
    return [result]


def api_signatures(suite: EngineSuite) -> list[Result]:
    v1 = Result("api-v1-signature-checks", "engine", ["SIG-2", "SIG-8"])
    v2 = Result("api-v2-signature-checks", "engine", ["SIG-6", "SIG-11", "LIMIT-1"])
    body = json.dumps({"limit": 1}, separators=(",", ":")).encode()
    with workspace(suite, {}, sync=False) as ws, workspace(suite, {}, sync=False) as other:
        key = ws.app.key
        good = signing.mac(key, body)

        def attempt(result: Result, ids: list[str], what: str, headers: dict[str, str],
                    want: int, payload: bytes = body) -> None:
            sent = {"content-type": "application/json", **headers}
            reply = call(suite.base + "/runs/search", "POST", payload, sent)
            if reply.status != want:
                result.fail(ids, f"{what}: answered {seen(reply)}, expected {want}")
            elif want == 401 and error_of(reply)[0] != "INVALID_SIGNATURE":
                result.fail(["SIG-8"], f"{what}: 401 without code INVALID_SIGNATURE:"
                                       f" {seen(reply)}")

        app = {"x-durable-app": ws.app_id}
        attempt(v1, [], "a correctly signed call", app | {signing.SIG: good}, 200)
        attempt(v1, ["SIG-8"], "no X-Durable-App", {signing.SIG: good}, 401)
        attempt(v1, ["SIG-8"], "an unknown X-Durable-App",
                {"x-durable-app": "conf-no-such-app", signing.SIG: good}, 401)
        attempt(v1, ["SIG-2", "SIG-8"], "no signature", app, 401)
        attempt(v1, ["SIG-2"], "a 63-character signature", app | {signing.SIG: good[:63]}, 401)
        attempt(v1, ["SIG-2"], "the signature in uppercase hex",
                app | {signing.SIG: good.upper()}, 401)
        attempt(v1, ["SIG-8"], "signed with another workspace's key",
                app | {signing.SIG: signing.mac(other.app.key, body)}, 401)
        attempt(v1, ["SIG-8"], "another workspace's id with this one's signature",
                {"x-durable-app": other.app_id, signing.SIG: good}, 401)
        garbage = b"{not json"
        attempt(v1, ["SIG-8"], "a wrongly signed body that is not JSON (signature first)",
                app | {signing.SIG: signing.mac(other.app.key, garbage)}, 401, garbage)

        def stamped(stamp: str, mac_key: str = key) -> dict[str, str]:
            return app | {signing.TIMESTAMP: stamp,
                          signing.SIG_V2: signing.mac(mac_key, signing.v2_input(stamp, body))}

        now = signing.now_ms()
        attempt(v2, ["SIG-11"], "v2 only", stamped(str(now)), 200)
        attempt(v2, ["SIG-11"], "v2 with a wrong v1 signature (ignored)",
                stamped(str(now)) | {signing.SIG: "0" * 64}, 200)
        attempt(v2, ["SIG-11", "LIMIT-1"], "v2 with a timestamp 250 s old",
                stamped(str(now - 250_000)), 200)
        attempt(v2, ["SIG-11"], "a wrong v2 signature with a correct v1 one",
                stamped(str(now), other.app.key) | {signing.SIG: good}, 401)
        attempt(v2, ["SIG-11"], "v2 without X-Durable-Timestamp, correct v1",
                {k: v for k, v in stamped(str(now)).items() if k != signing.TIMESTAMP}
                | {signing.SIG: good}, 401)
        attempt(v2, ["SIG-2", "SIG-11"], "v2 in uppercase hex",
                {**stamped(str(now)), signing.SIG_V2: stamped(str(now))[signing.SIG_V2].upper()},
                401)
        for stamp, what in ((str(now - 310_000), "310 s old"), (str(now + 310_000), "310 s ahead"),
                            (str(now // 1000), "in seconds")):
            attempt(v2, ["SIG-11", "LIMIT-1", "SIG-6"], f"v2 with a timestamp {what}",
                    stamped(stamp), 401)
        for stamp in (f"+{now}", f" {now}", f"{now}.0", f"{now}abc", iso(now), "-1"):
            attempt(v2, ["SIG-6"], f"v2 with timestamp {stamp!r}", stamped(stamp), 401)
    return [v1, v2]


class DevApp(FakeApp):
    """A fake app in dev mode: it answers discovery with its key, app id and name."""

    app_id: str = ""
    app_name: str = ""

    def manifest(self) -> dict[str, Any]:
        return {**super().manifest(), "signingKey": self.key, "appId": self.app_id,
                "appName": self.app_name}


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the fake app's server binds: a TIME_WAIT leftover does not make the port busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def discovery(suite: EngineSuite) -> list[Result]:
    result = Result("dev-discovery-creates-workspace", "engine", ["DISC-1", "DISC-3", "ROLE-4"])
    env = {**os.environ, **suite.harness.env}
    if env.get("DURABLE_ENV", "").lower() not in ("dev", "development"):
        return [result.skip("the engine under test is not in dev mode")]
    url = env.get("DURABLE_DEV_APP_URL") or "http://localhost:3000/api/durable"
    parts = urlsplit(url)
    if parts.hostname not in ("localhost", "127.0.0.1") or parts.path != "/api/durable" or \
            not parts.port:
        return [result.skip(f"the dev app URL {url} is not one the fake app can serve")]
    if not _port_free(parts.port):
        return [result.skip(f"port {parts.port} of the dev app URL {url} is in use")]
    tag = secrets.token_hex(4)
    app = DevApp(port=parts.port, key="conf-dev-key-" + secrets.token_hex(16),
                 scripts={"disc-fn": ({"trigger": {"event": "conf.api.disc"}}, done)})
    app.app_id, app.app_name = f"conf-dev-{tag}", f"conformance-dev-{tag}"
    app.start()
    try:
        def listed() -> dict[str, Any] | None:
            reply = call(suite.base + "/api/apps", "GET", None,
                         {"authorization": f"Bearer {suite.admin_token}"})
            try:
                apps = reply.json().get("apps", [])
            except (ValueError, AttributeError):
                return None
            return next((a for a in apps if a.get("id") == app.app_id), None)

        # A dev engine that already found an app probes again only every few seconds.
        found = wait_until(listed, 12.0, 0.2)
        probes = [r for r in app.received if r.method == "GET"
                  and r.headers.get("x-durable-discovery") == "true"]
        if not probes:  # discovery is a MAY ([DISC-1]), the default URL a SHOULD ([ROLE-4])
            return [result.skip(f"in 12 s the dev engine sent no discovery GET to {url}")]
        if found is None:
            result.fail(["DISC-3"], "the engine was answered a discovery manifest with appId"
                                    f" {app.app_id} but created no such workspace")
            return [result]
        want = {"id": app.app_id, "name": app.app_name, "environment": "dev", "appUrl": url}
        if {k: found.get(k) for k in want} != want:
            result.fail(["DISC-3"], f"the discovered workspace is {found}, expected {want}")
        body = json.dumps({"functionId": "disc-fn"}).encode()
        reply = call(suite.base + "/versions/status", "POST", body,
                     {"content-type": "application/json", "x-durable-app": app.app_id,
                      signing.SIG: signing.mac(app.key, body)})
        if reply.status != 200 or [v.get("runtimeId") for v in reply.json().get(
                "versions", [])] != ["disc-fn"]:
            result.fail(["DISC-3"], "the discovered workspace does not take the app's key or"
                                    f" lacks its function: /versions/status {seen(reply)}")
    finally:
        app.stop()
    return [result]
