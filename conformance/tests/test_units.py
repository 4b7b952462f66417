"""The comparison, clock shifting and expected-gap rules the runner relies on."""

from __future__ import annotations

from durable_conformance import signing
from durable_conformance.__main__ import apply_expected_gaps
from durable_conformance.compare import compare, normalise
from durable_conformance.fake_engine import shift_to_now
from durable_conformance.harness import Harness
from durable_conformance.results import EXPECTED, FAIL, Result

NOW = 1_767_225_600_000


def test_after_ms_accepts_the_window_and_rejects_outside_it() -> None:
    expected = {"op": "sleep", "id": "nap", "until": {"$afterMs": 2000}}
    good = {"op": "sleep", "id": "nap", "until": "2026-01-01T00:00:02.000Z"}
    assert compare(expected, good, NOW) == []
    late = {**good, "until": "2026-01-01T00:00:08.000Z"}
    assert compare(expected, late, NOW)
    no_ms = {**good, "until": "2026-01-01T00:00:02Z"}
    assert compare(expected, no_ms, NOW)
    assert normalise(expected, good)["until"] == "<$afterMs>"


def test_exact_comparison_and_type_wildcard() -> None:
    expected = {"op": "error", "id": None, "name": {"$type": "string"}, "retryable": True}
    assert compare(expected, {"op": "error", "id": None, "name": "Error", "retryable": True},
                   NOW) == []
    assert compare(expected, {"op": "error", "id": None, "name": 3, "retryable": True}, NOW)
    # absent fields must be absent; true is not 1; 1 == 1.0
    extra = {"op": "error", "id": None, "name": "E", "retryable": True, "code": "X"}
    assert any("unexpected field" in p for p in compare(expected, extra, NOW))
    assert compare({"n": True}, {"n": 1}, NOW)
    assert compare({"n": 1}, {"n": 1.0}, NOW) == []


def test_shift_to_now_resigns_good_signatures_and_keeps_tampered_ones() -> None:
    stamp = str(NOW - 1000)
    good = signing.mac("k", stamp.encode())
    data = {"hop": "manifest", "keys": ["k"], "signingKey": "k", "body": "", "now": NOW,
            "headers": {"x-durable-timestamp": stamp, "x-durable-signature": good}}
    headers, _ = shift_to_now(data, ["k"], True)
    new_stamp = headers["x-durable-timestamp"]
    assert abs(int(new_stamp) - (signing.now_ms() - 1000)) < 2000
    assert headers["x-durable-signature"] == signing.mac("k", new_stamp.encode())
    tampered = {**data, "headers": {"x-durable-timestamp": stamp, "x-durable-signature": "0" * 64}}
    headers, _ = shift_to_now(tampered, ["k"], False)
    assert headers["x-durable-signature"] == "0" * 64


def test_window_edge_moves_to_the_side_of_the_verdict() -> None:
    for offset, valid, low, high in ((-300_000, True, -300_000, -298_000),
                                     (300_001, False, 300_500, 302_000)):
        stamp = str(NOW + offset)
        data = {"hop": "manifest", "keys": ["k"], "body": "", "now": NOW,
                "headers": {"x-durable-timestamp": stamp,
                            "x-durable-signature": signing.mac("k", stamp.encode())}}
        headers, _ = shift_to_now(data, ["k"], valid)
        moved = int(headers["x-durable-timestamp"]) - signing.now_ms()
        assert low < moved < high, (offset, moved)


def test_a_failure_is_expected_only_when_every_violated_id_is_a_gap() -> None:
    harness = Harness("x", "sdk", [], None, {}, "/api/durable", 1.0,  # type: ignore[arg-type]
                      expected_requirements={"REPLAY-4": "old"},
                      expected_functions={"flaky": "no attempt"})
    partly = Result("a", "replay", ["REPLAY-4", "SIG-7"])
    partly.fail(["REPLAY-4", "SIG-7"], "two problems")
    gap = Result("b", "replay", ["REPLAY-4"])
    gap.fail([], "one known problem")
    by_function = Result("c", "replay", ["INV-4"], function="flaky")
    by_function.fail([], "no attempt")
    apply_expected_gaps(harness, [partly, gap, by_function])
    assert partly.status == FAIL
    assert gap.status == EXPECTED and by_function.status == EXPECTED
