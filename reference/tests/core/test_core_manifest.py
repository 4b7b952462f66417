"""An app's manifest read once into typed values."""

from __future__ import annotations

from durable_engine.core.manifest import Manifest, parse_manifest


def test_manifest_values_and_defaults() -> None:
    assert parse_manifest([]) is None and parse_manifest(None) is None
    assert parse_manifest({}) == Manifest(functions=[])
    m = parse_manifest({"capabilities": ["timestamped-signatures", 3],
                        "maxRequestBytes": 65_536, "sdkVersion": "py/1", "signingKey": "k",
                        "appId": "a", "appName": "A", "functions": [{"id": "f"}]})
    assert m == Manifest(["timestamped-signatures"], 65_536, "py/1", "k", "a", "A",
                         [{"id": "f"}])


def test_out_of_range_values_fall_back() -> None:
    for bad in (1024, 2**31, True, "1048576", 65_536.0):
        m = parse_manifest({"maxRequestBytes": bad})
        assert m is not None and m.max_request_bytes == 1_048_576
    m = parse_manifest({"capabilities": "timestamped-signatures", "functions": {},
                        "appId": "", "sdkVersion": 1})
    assert m is not None and m.capabilities == [] and m.functions is None
    assert m.app_id is None and m.sdk_version is None
