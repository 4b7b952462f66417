"""[GRPC-2] conversion in the SDK's copy of convert.py: JSON objects and protobuf messages
are the same value, numbers keep every digit, and a value protobuf cannot hold is refused
with its path."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("google.protobuf")

from durable._pb import convert, engine_messages_pb2  # noqa: E402


def round_trip(value: dict[str, Any], message: Any) -> dict[str, Any]:
    data = convert.from_json(value, message).SerializeToString()
    return convert.to_json(type(message).FromString(data))


def test_a_run_survives_member_for_member() -> None:
    run = {"runId": "r1", "functionId": "f@2", "status": "completed", "eventId": "e1",
           "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:01.000Z",
           "event": {"id": "e1", "name": "n", "ts": 5,
                     "data": {"big": 2**64 + 1, "neg": -(2**70), "f": 0.1, "null": None,
                              "text": "é\u2028", "list": [1, [2, {"x": True}]]}},
           "attempt": 0, "output": None,
           "steps": [{"id": "a", "type": "run", "data": "x", "at": "2026-01-01T00:00:00.500Z",
                      "appMs": 12}]}
    assert round_trip(run, engine_messages_pb2.Run()) == run


def test_absent_null_and_empty_follow_the_schema() -> None:
    assert convert.to_json(engine_messages_pb2.SearchRunsAnswer()) == {
        "runs": [], "nextCursor": None}  # required list written empty, nullable as null
    assert convert.to_json(engine_messages_pb2.SearchRunsRequest()) == {}
    one_rule = {"id": "f", "trigger": {"event": "e"}, "concurrency": {"limit": 2}}
    assert round_trip(one_rule, engine_messages_pb2.FunctionDefinition()) == {
        **one_rule, "concurrency": [{"limit": 2}]}


@pytest.mark.parametrize(("value", "path"), [
    ({"limit": "5"}, "/limit"), ({"limit": True}, "/limit"), ({"limit": 2**63}, "/limit"),
    ({"cursor": 5}, "/cursor"), ({"extra": 1}, "/extra")])
def test_what_protobuf_cannot_hold_is_refused_with_its_path(value: dict[str, Any],
                                                           path: str) -> None:
    with pytest.raises(convert.Mismatch) as refused:
        convert.from_json(value, engine_messages_pb2.SearchRunsRequest())
    assert (refused.value.code, refused.value.path) == ("INVALID_REQUEST", path)


def test_json_text_that_is_not_json_is_invalid_json_at_its_member() -> None:
    event = engine_messages_pb2.EventInput(name="n")
    for text in ("{", "NaN", "1e999", ""):
        event.data.text = text
        with pytest.raises(convert.Mismatch) as refused:
            convert.to_json(event)
        assert (refused.value.code, refused.value.path) == ("INVALID_JSON", "/data")
