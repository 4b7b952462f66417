"""[SIG-11]: engine API calls signed with V2; a present V2 makes v1 irrelevant."""

from __future__ import annotations

from durable_engine import signing

KEY = "signkey_test"
BODY = b'{"limit":1}'
NOW = 1_767_225_600_000


def v2_headers(stamp: str | None, key: str = KEY) -> dict[str, str]:
    headers = {"X-Durable-Signature-V2": signing.sign_v2(key, stamp or str(NOW), BODY)}
    if stamp is not None:
        headers["X-Durable-Timestamp"] = stamp
    return headers


def test_v2_alone_is_accepted() -> None:
    assert signing.verify_api_request([KEY], v2_headers(str(NOW)), BODY, NOW) is None


def test_v2_ignores_a_wrong_v1() -> None:
    headers = {**v2_headers(str(NOW)), "X-Durable-Signature": "0" * 64}
    assert signing.verify_api_request([KEY], headers, BODY, NOW) is None


def test_v2_without_timestamp_is_refused_even_with_a_valid_v1() -> None:
    headers = {**v2_headers(None), "X-Durable-Signature": signing.sign(KEY, BODY)}
    assert signing.verify_api_request([KEY], headers, BODY, NOW) is not None


def test_wrong_v2_is_refused_even_with_a_valid_v1() -> None:
    headers = {**v2_headers(str(NOW), "other"), "X-Durable-Signature": signing.sign(KEY, BODY)}
    assert signing.verify_api_request([KEY], headers, BODY, NOW) is not None


def test_v2_outside_the_window_is_refused() -> None:
    stamp = str(NOW - 300_001)
    assert signing.verify_api_request([KEY], v2_headers(stamp), BODY, NOW) is not None
    stamp = str(NOW - 300_000)  # inclusive window ([LIMIT-1])
    assert signing.verify_api_request([KEY], v2_headers(stamp), BODY, NOW) is None
