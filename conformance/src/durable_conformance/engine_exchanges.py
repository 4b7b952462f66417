"""spec/vectors/exchanges against the engine: one request, the answer it must get.

Each case names its credentials (`auth`), so one runner serves the engine API, the admin
API and `/openapi.yaml`; a failure names the case's requirement IDs.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from . import signing
from .client import call
from .results import Result

if TYPE_CHECKING:
    from .engine_suite import EngineSuite


def body_of(data: dict[str, Any]) -> bytes | None:
    if "body" not in data:
        return None
    body = data["body"]
    if "fill" in data:
        body = {**body, data["fill"]["member"]: "x" * int(data["fill"]["chars"])}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw + b" " * int(data.get("padBytes", 0))


def headers_for(suite: EngineSuite, auth: str, body: bytes | None) -> dict[str, str]:
    headers = {"content-type": "application/json"} if body is not None else {}
    signed = body or b""
    if auth == "workspace":
        headers.update({"x-durable-app": suite.app_id,
                        signing.SIG: signing.mac(suite.app.key, signed)})
    elif auth == "wrong-key":
        headers.update({"x-durable-app": suite.app_id,
                        signing.SIG: signing.mac("not-" + suite.app.key, signed)})
    elif auth == "unknown-app":
        headers.update({"x-durable-app": "app-that-does-not-exist",
                        signing.SIG: signing.mac(suite.app.key, signed)})
    elif auth == "admin":
        headers["authorization"] = f"Bearer {suite.admin_token}"
    elif auth == "wrong-token":
        headers["authorization"] = f"Bearer not-{suite.admin_token}"
    return headers


def members(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {m for v in value.values() for m in members(v)}
    if isinstance(value, list):
        return {m for v in value for m in members(v)}
    return set()


def fresh_app(suite: EngineSuite) -> str | None:
    payload = json.dumps({"name": "conformance-xch-" + secrets.token_hex(6),
                          "environment": "dev", "appUrl": "http://127.0.0.1:9/api/durable"})
    reply = call(suite.base + "/api/apps", "POST", payload.encode(),
                 headers_for(suite, "admin", payload.encode()))
    try:
        return str(reply.json()["id"])
    except (ValueError, KeyError, TypeError):
        return None


def exchange_vectors(suite: EngineSuite) -> list[Result]:
    results: list[Result] = []
    for case in suite.spec.vectors("exchanges"):
        data = case.data
        result = Result(case.id, "exchanges", case.requirements)
        skip = suite.harness.raw.get("skipCases", {}).get(case.id)
        if skip is not None:
            results.append(result.skip(str(skip)))
            continue
        path = data["path"]
        if data.get("freshApp"):
            app_id = fresh_app(suite)
            if app_id is None:
                result.fail([], "could not create an app through POST /api/apps")
                results.append(result)
                continue
            path = path.replace("{app}", app_id)
            for earlier in data.get("before", []):
                raw = json.dumps(earlier.get("body", {}), separators=(",", ":")).encode()
                made = call(suite.base + earlier["path"].replace("{app}", app_id),
                            earlier["method"], raw, headers_for(suite, "admin", raw))
                try:
                    url = made.json().get("url")
                except (ValueError, AttributeError):
                    url = None
                if isinstance(url, str):
                    path = path.replace("{hook}", url.rsplit("/", 1)[-1])
        body = body_of(data)
        reply = call(suite.base + path, data["method"], body,
                     headers_for(suite, data["auth"], body))
        expect = data["expect"]
        what = f"{data['method']} {data['path']} ({data['auth']})"
        if reply.status != expect["status"]:
            result.fail([], f"{what} answered {reply.status or reply.error}"
                            f" {reply.text()[:160]!r}, expected {expect['status']}")
            results.append(result)
            continue
        wanted_type = expect.get("contentType")
        got_type = reply.headers.get("content-type", "")
        if wanted_type and not got_type.startswith(wanted_type):
            result.fail([], f"{what}: Content-Type {got_type!r}, expected {wanted_type}")
        answer: Any = None
        if got_type.startswith("application/json"):
            try:
                answer = reply.json()
            except ValueError:
                result.fail([], f"{what}: the answer is not JSON: {reply.text()[:160]!r}")
        if "errorCode" in expect:
            error = answer.get("error") if isinstance(answer, dict) else None
            if not isinstance(error, dict) or error.get("code") != expect["errorCode"] or \
                    not isinstance(error.get("message"), str):
                result.fail([], f"{what}: body {reply.text()[:160]!r}, expected"
                                f' {{"error": {{"code": "{expect["errorCode"]}", "message"}}}}')
        if "allow" in expect:
            allow = {m.strip().upper() for m in reply.headers.get("allow", "").split(",")
                     if m.strip()}
            if allow != set(expect["allow"]):
                result.fail([], f"{what}: Allow {reply.headers.get('allow')!r}, expected"
                                f" {', '.join(expect['allow'])}")
        if "hasMember" in expect and not (isinstance(answer, dict) and
                                          expect["hasMember"] in answer):
            result.fail([], f"{what}: the answer has no member {expect['hasMember']!r}")
        for name, value in expect.get("headers", {}).items():
            if reply.headers.get(name) != value:
                result.fail([], f"{what}: header {name} is {reply.headers.get(name)!r},"
                                f" expected {value!r}")
        if "noMember" in expect and expect["noMember"] in members(answer):
            result.fail([], f"{what}: the answer carries {expect['noMember']!r}")
        results.append(result)
    return results
