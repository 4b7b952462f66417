"""Every spec vector of the areas an SDK speaks. Files are globbed, so new ones count.

- signatures: verified and produced with durable.signing, and through DurableApp for
  the hops the app verifies (invoke, invoke-v2, manifest);
- replay: the request body through handle_request against the conformance catalog;
- definitions: validate_definition; durations: parse_duration; cron: syntax validity.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from durable import DurableApp, handle_request, parse_duration, validate_definition
from durable.cron import validate_cron
from durable.events import event_problem
from durable.paths import event_matches, key_value
from durable.signing import fresh, sign, sign_v2, verify
from durable_testkit import SPEC, encode, invoke_headers, load_catalog, vector_cases

CATALOG = load_catalog()
# grpc-signatures: test_grpc_signer_vectors.py (needs the grpc extra)
RUN_AREAS = {"signatures", "replay", "definitions", "durations", "cron", "match", "keys", "api",
             "grpc-signatures"}
# Areas an SDK does not run here: the engine's (exchanges, runs) and the client area, which
# the conformance runner drives through the SDK's driver against a fake engine API.
OTHER_AREAS = {"exchanges", "runs", "client"}


def test_every_vector_area_has_a_runner() -> None:
    areas = {path.name for path in (SPEC / "vectors").iterdir() if path.is_dir()}
    known = RUN_AREAS | OTHER_AREAS
    assert areas <= known, f"no runner for {sorted(areas - known)}"
    assert areas >= RUN_AREAS, f"vectors missing for {sorted(RUN_AREAS - areas)}"

# -- signatures -----------------------------------------------------------------------


def _message(case: dict[str, Any]) -> bytes:
    body = case.get("body", "").encode()
    hop = case["hop"]
    if hop == "manifest":
        return str(case.get("timestamp", "")).encode()
    if hop in ("invoke-v2", "api-v2"):
        return str(case.get("timestamp", "")).encode() + b"." + body
    if hop == "response-v2":
        return str(case.get("requestTimestamp", "")).encode() + b"." + body
    return body


def _header_for(hop: str) -> str:
    return "x-durable-signature-v2" if hop.endswith("-v2") else "x-durable-signature"


@pytest.mark.parametrize("case", vector_cases("signatures"))
def test_signature_vector(case: dict[str, Any]) -> None:
    hop = case["hop"]
    headers = {name.lower(): value for name, value in case.get("headers", {}).items()}
    keys = case["keys"]
    message = _message(case)
    accepted = verify(keys, message, headers.get(_header_for(hop)))
    if hop in ("manifest", "invoke-v2", "api-v2"):
        accepted = accepted and fresh(headers.get("x-durable-timestamp"), case["now"])
    if hop == "invoke-v2":
        # An app with the capability checks the v1 MAC as well.
        accepted = accepted and verify(keys, case.get("body", "").encode(),
                                       headers.get("x-durable-signature"))
    if hop in ("api", "api-v2"):
        accepted = accepted and bool(headers.get("x-durable-app"))
    assert accepted is case["valid"]

    if case["valid"]:
        # What a producer computes: v1 over the body (the timestamp for GET), v2 over
        # `timestamp + "." + body`.
        produced = {
            "x-durable-signature": sign(
                case["signingKey"],
                message if hop == "manifest" else case.get("body", "").encode(),
            ),
        }
        if hop.endswith("-v2"):
            produced["x-durable-signature-v2"] = sign(case["signingKey"], message)
        for name, value in case.get("expectedSignatures", {}).items():
            assert produced[name.lower()] == value, name

    if hop in ("invoke", "invoke-v2", "manifest"):
        _through_the_app(case, headers)


def _through_the_app(case: dict[str, Any], headers: dict[str, str]) -> None:
    """The same verdict from DurableApp, with its clock set to the vector's `now`."""
    hop = case["hop"]
    keys = case["keys"]
    app = DurableApp(
        [],
        signing_key=keys[0],
        signing_key_fallback=keys[1] if len(keys) > 1 else None,
        capabilities=None if hop == "invoke-v2" else [],
        clock=lambda: float(case["now"]),
    )
    method = "GET" if hop == "manifest" else "POST"
    body = case.get("body", "").encode()
    response = app.handle(method, headers, body)
    if not case["valid"]:
        assert response.status == 401
    else:
        # A valid signature gets past verification; the body itself may still be
        # a malformed invoke (400), but never 401.
        assert response.status != 401
        if hop == "invoke-v2" and response.status == 200:
            assert dict(response.headers)["x-durable-signature-v2"] == sign_v2(
                keys[0], headers["x-durable-timestamp"], response.body
            )


# -- replay ---------------------------------------------------------------------------


def _matches_after(actual: Any, after_ms: int, invoked_at_ms: float) -> bool:
    if not isinstance(actual, str) or not actual.endswith("Z") or len(actual) != 24:
        return False
    instant = datetime.fromisoformat(actual.replace("Z", "+00:00")).astimezone(UTC)
    return abs(instant.timestamp() * 1000 - (invoked_at_ms + after_ms)) <= 5_000


_TYPES: dict[str, Any] = {
    "string": str, "object": dict, "array": list, "boolean": bool, "null": type(None),
}


def _has_type(value: Any, name: str) -> bool:
    if name in ("number", "integer"):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and (name == "number" or float(value).is_integer())
    return isinstance(value, _TYPES[name])


def _substitute(expected: Any, actual: Any, invoked_at_ms: float) -> Any:
    """`expected` with each matcher ({"$afterMs": N}, {"$type": T}) replaced by `actual`
    when `actual` satisfies it, so a plain equality then compares everything else."""
    if isinstance(expected, dict):
        if set(expected) == {"$afterMs"}:
            fits = _matches_after(actual, expected["$afterMs"], invoked_at_ms)
            return actual if fits else expected
        if set(expected) == {"$type"}:
            return actual if _has_type(actual, expected["$type"]) else expected
        if isinstance(actual, dict):
            return {k: _substitute(v, actual.get(k), invoked_at_ms) for k, v in expected.items()}
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [_substitute(e, a, invoked_at_ms) for e, a in zip(expected, actual, strict=True)]
    return expected


@pytest.mark.parametrize("mode", ["all-capabilities", "plain-v1"])
@pytest.mark.parametrize("case", vector_cases("replay"))
def test_replay_vector(case: dict[str, Any], mode: str) -> None:
    """By default our app advertises every capability, so every case applies; in plain
    v1 mode (DURABLE_CAPABILITIES=none) the cases that need no capability must hold too."""
    if mode == "plain-v1" and case.get("capabilities"):
        pytest.skip("the case needs a capability")
    if mode == "all-capabilities" and case.get("withoutCapabilities"):
        pytest.skip("the case is for an app without " + ", ".join(case["withoutCapabilities"]))
    key = "replay-vector-key"
    if "rawBody" in case:
        body = case["rawBody"].encode()
    else:
        body = encode(case["request"])
    headers = case["headers"] if "headers" in case else invoke_headers(body, key)
    invoked_at = datetime.now(UTC).timestamp() * 1000
    response = handle_request(
        case.get("method", "POST"),
        headers,
        body,
        CATALOG.FUNCTIONS,
        signing_key=key,
        capabilities=[] if mode == "plain-v1" else None,
    )
    if "expectStatus" in case:
        assert response.status == case["expectStatus"], response.body
        return
    assert response.status == 200, response.body
    actual = json.loads(response.body)
    assert actual == _substitute(case["expect"], actual, invoked_at)


# -- definitions, durations, cron -----------------------------------------------------


@pytest.mark.parametrize("case", vector_cases("definitions"))
def test_definition_vector(case: dict[str, Any]) -> None:
    problem = validate_definition(case["definition"])
    if case["valid"]:
        assert problem is None, problem
    else:
        assert problem is not None
        assert problem.path == case["errorPath"], problem


@pytest.mark.parametrize("case", vector_cases("durations"))
def test_duration_vector(case: dict[str, Any]) -> None:
    if case["valid"]:
        assert parse_duration(case["input"]) == case["ms"]
    else:
        with pytest.raises((TypeError, ValueError)):
            parse_duration(case["input"])


@pytest.mark.parametrize("case", vector_cases("cron"))
def test_cron_vector_validity(case: dict[str, Any]) -> None:
    assert (validate_cron(case["expr"]) is None) is case["valid"]


@pytest.mark.parametrize("case", vector_cases("match"))
def test_match_vector(case: dict[str, Any]) -> None:
    assert event_matches(case["match"], case["waitEvent"], case["event"]) is case["matches"]


@pytest.mark.parametrize("case", vector_cases("keys"))
def test_key_vector(case: dict[str, Any]) -> None:
    assert key_value(case["key"], case["event"]) == case["value"]


# -- api: the request shapes this SDK produces (events, bulk, sync) -------------------

SDK_API_PATHS = {"/e", "/e/bulk", "/fn/sync"}


def _api_problem(path: str, body: Any) -> str | None:
    """The JSON Pointer this SDK's own checks find, or None when it would send the body."""
    if path == "/e":
        problem = event_problem(body)
        return None if problem is None else problem.path
    if path == "/e/bulk":
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list) or not 1 <= len(events) <= 100:
            return "/events"
        for index, event in enumerate(events):
            problem = event_problem(event)
            if problem is not None:
                return f"/events/{index}{problem.path}"
        return None
    # /fn/sync: a closed object whose runtime ids are unique ([DEF-15])
    unknown = [k for k in body if k not in ("sdkVersion", "functions", "capabilities",
                                             "maxRequestBytes")]
    if unknown:
        return f"/{unknown[0]}"
    seen: set[str] = set()
    for index, definition in enumerate(body.get("functions", [])):
        runtime = f"{definition.get('id')}@{definition.get('version')}"
        if runtime in seen:
            return f"/functions/{index}/id"
        seen.add(runtime)
    for index, definition in enumerate(body.get("functions", [])):
        found = validate_definition(definition)
        if found is not None:
            return f"/functions/{index}{found.path}"
    limit = body.get("maxRequestBytes")
    if limit is not None and (not isinstance(limit, int) or limit < 65_536):
        return "/maxRequestBytes"
    return None


def _sdk_api_cases() -> list[Any]:
    return [
        case for case in vector_cases("api")
        if case.values[0] is None or case.values[0]["path"] in SDK_API_PATHS
    ]


@pytest.mark.parametrize("case", _sdk_api_cases())
def test_api_vector_for_what_the_sdk_sends(case: dict[str, Any]) -> None:
    if "rawBody" in case:
        pytest.skip("not JSON: the SDK always serializes its bodies")
    problem = _api_problem(case["path"], case["body"])
    if case["valid"]:
        assert problem is None
    else:
        assert problem == case["errorPath"]
