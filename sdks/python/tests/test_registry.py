"""Every wire constant of the SDK equals the one in spec/registry.json."""

from __future__ import annotations

import json

import pytest
from durable import _protocol as p
from durable.core import DurableApp
from durable_testkit import SPEC

REGISTRY_PATH = SPEC / "registry.json"


@pytest.fixture(scope="module")
def registry() -> dict:
    return json.loads(REGISTRY_PATH.read_text())


def test_protocol_version(registry: dict) -> None:
    assert p.PROTOCOL_VERSION == registry["protocolVersion"]


def test_headers(registry: dict) -> None:
    headers = registry["headers"]
    assert p.HEADER_SIGNATURE == headers["signature"].lower()
    assert p.HEADER_SIGNATURE_V2 == headers["signatureV2"].lower()
    assert p.HEADER_TIMESTAMP == headers["timestamp"].lower()
    assert p.HEADER_DISCOVERY == headers["discovery"].lower()
    assert p.HEADER_APP == headers["app"].lower()


def test_ops_and_memo_types(registry: dict) -> None:
    assert set(p.OPS) == set(registry["ops"])
    assert set(p.MEMO_TYPES) == set(registry["memoTypes"])
    assert registry["ops"][p.OP_STEP]["memoType"] == p.MEMO_RUN
    assert registry["ops"][p.OP_SLEEP]["memoType"] == p.MEMO_SLEEP
    assert registry["ops"][p.OP_WAIT]["memoType"] == p.MEMO_WAIT
    assert registry["ops"][p.OP_SEND_EVENT]["memoType"] == p.MEMO_SEND_EVENT


def test_capabilities_are_all_registered_and_all_supported(registry: dict) -> None:
    assert list(p.CAPABILITIES) == list(registry["capabilities"])
    app = DurableApp([], signing_key="k")
    assert app.manifest()["capabilities"] == list(registry["capabilities"])


def test_error_codes(registry: dict) -> None:
    codes = registry["errorCodes"]
    for code in (
        p.CODE_NON_DETERMINISTIC,
        p.CODE_MISSING_FAILURE_HANDLER,
        p.CODE_INVALID_PARALLEL,
        p.CODE_INVALID_EVENTS,
    ):
        assert codes[code]["where"] == "op"
        assert codes[code]["retryable"] is False


def test_limits(registry: dict) -> None:
    limits = registry["limits"]
    assert p.SIGNATURE_WINDOW_MS == limits["timestampWindowMs"]
    assert p.MAX_BODY_BYTES == limits["appRequestBytesDefault"] == registry["defaults"][
        "maxRequestBytes"
    ]
    assert p.MAX_RESPONSE_BYTES == limits["appResponseBytes"]
    assert p.MAX_ERROR_DETAILS_BYTES == limits["errorDetailsBytes"]
    assert p.MAX_ERROR_CODE_CHARS == limits["errorCodeChars"]
    assert p.MAX_EVENTS_PER_SEND == limits["eventsPerCall"]
    assert p.MAX_PARALLEL_TASKS == limits["parallelTasks"]
    assert p.MAX_FUNCTION_ID_CHARS == limits["functionIdChars"]
    assert p.MAX_VERSION_CHARS == limits["versionChars"]
    assert p.MAX_RETRIES == limits["retriesMax"]
    assert p.MAX_CONCURRENCY_RULES == limits["concurrencyRules"]
    assert p.PRIORITY_MIN == limits["priorityMin"]
    assert p.PRIORITY_MAX == limits["priorityMax"]
    assert p.BATCH_MAX_SIZE == limits["batchMaxSize"]
    assert p.KEY_PATH_CHARS == limits["keyPathChars"]
    assert p.MAX_DURATION_MS == limits["maxDurationMs"]


def test_durations_and_separator(registry: dict) -> None:
    assert p.DURATION_UNITS_MS == registry["durationUnits"]
    assert p.STEP_OCCURRENCE_SEPARATOR == registry["stepIdOccurrenceSeparator"]
