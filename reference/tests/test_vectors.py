"""The engine's own pure logic against the spec's language-neutral vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from durable_engine import signing
from durable_engine.paths import event_matches, key_value
from durable_engine.validation import Invalid, spec_dir, validate_definition, validate_schema

SPEC = spec_dir()


def cases(area: str) -> list[dict[str, Any]]:
    if SPEC is None:
        return []
    found: list[dict[str, Any]] = []
    for path in sorted((SPEC / "vectors" / area).glob("*.json")):
        found += json.loads(Path(path).read_text())["cases"]
    return found


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


MATCH, KEYS, DEFS = cases("match"), cases("keys"), cases("definitions")
SIGS = [c for c in cases("signatures") if c["hop"] in ("api", "api-v2", "response",
                                                        "response-v2")]


@pytest.mark.parametrize("case", MATCH, ids=ids(MATCH))
def test_match(case: dict[str, Any]) -> None:
    assert event_matches(case["waitEvent"], case["match"], case["event"]) is case["matches"]


@pytest.mark.parametrize("case", KEYS, ids=ids(KEYS))
def test_keys(case: dict[str, Any]) -> None:
    assert key_value(case["event"], case["key"]) == case["value"]


@pytest.mark.parametrize("case", DEFS, ids=ids(DEFS))
def test_definitions(case: dict[str, Any]) -> None:
    try:
        validate_definition(case["definition"])
        validate_schema("function-definition", case["definition"])
        verdict, path = True, None
    except Invalid as error:
        verdict, path = False, error.path
    assert verdict is case["valid"]
    if not case["valid"]:
        assert path == case["errorPath"]


@pytest.mark.parametrize("case", SIGS, ids=ids(SIGS))
def test_signatures_the_engine_verifies(case: dict[str, Any]) -> None:
    headers = {k.lower(): v for k, v in case["headers"].items()}
    body = case["body"].encode()
    if case["hop"] in ("api", "api-v2"):
        cased = {"X-Durable-Signature": headers.get("x-durable-signature"),
                 "X-Durable-Signature-V2": headers.get("x-durable-signature-v2"),
                 "X-Durable-Timestamp": headers.get("x-durable-timestamp")}
        valid = "x-durable-app" in headers and signing.verify_api_request(
            case["keys"], {k: v for k, v in cased.items() if v is not None}, body,
            case["now"]) is None
    else:
        valid = signing.matches_any(case["keys"], body, headers.get("x-durable-signature", ""))
        if case["hop"] == "response-v2":
            valid = valid and signing.matches_any(
                case["keys"], case["requestTimestamp"].encode() + b"." + body,
                headers.get("x-durable-signature-v2", ""))
    assert valid is case["valid"]


CRON = cases("cron")


@pytest.mark.parametrize("case", CRON, ids=ids(CRON))
def test_cron_validity(case: dict[str, Any]) -> None:
    from durable_engine.cron import parse_cron

    try:
        parse_cron(case["expr"])
        valid = True
    except ValueError:
        valid = False
    assert valid is case["valid"]
