"""DurableFunction options: the wire definition and the validation of every option."""

from __future__ import annotations

import re
from typing import Any

import pytest
from durable import DurableFunction, parse_duration, validate_definition


def noop(event: dict[str, Any], step: Any) -> None:
    return None


def make(**options: Any) -> DurableFunction:
    options.setdefault("id", "f")
    options.setdefault("trigger", {"event": "e"})
    return DurableFunction(handler=noop, **options)


def test_every_option_reaches_the_definition() -> None:
    function = make(
        concurrency=[{"limit": 2, "key": "tenantId"}, {"limit": 10}],
        priority=-30,
        throttle={"limit": 5, "period": "1m", "key": "user.id"},
        version="7",
        enabled=False,
        retries=4,
        timeout="30s",
        on_failure=lambda event, step, error, run_id: None,
    )
    assert function.runtime_id == "f@7"
    assert function.definition() == {
        "id": "f", "trigger": {"event": "e"}, "priority": -30, "enabled": False,
        "hasOnFailure": True, "version": "7", "retries": 4, "timeoutMs": 30_000,
        "concurrency": [{"limit": 2, "key": "tenantId"}, {"limit": 10}],
        "throttle": {"limit": 5, "periodMs": 60_000, "key": "user.id"},
    }
    assert validate_definition(function.definition()) is None


def test_rate_limit_debounce_batch_wire_names() -> None:
    assert make(rate_limit={"limit": 1, "period": "1h"}).definition()["rateLimit"] == {
        "limit": 1, "periodMs": 3_600_000}
    assert make(debounce={"period": "5s", "key": "k"}).definition()["debounce"] == {
        "periodMs": 5000, "key": "k"}
    assert make(batch={"max_size": 3, "timeout": 1000}).definition()["batch"] == {
        "maxSize": 3, "timeoutMs": 1000}
    assert make(trigger={"cron": "TZ=Europe/Amsterdam 0 3 * * *"}).definition()["trigger"] == {
        "cron": "TZ=Europe/Amsterdam 0 3 * * *"}


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"id": ""}, ValueError, "function id must be 1-200 characters"),
        ({"id": "x" * 201}, ValueError, "function id"),
        ({"trigger": {"event": "e", "cron": "* * * * *"}}, ValueError, "trigger"),
        ({"trigger": {"event": ""}}, ValueError, "trigger"),
        ({"trigger": {"cron": "61 * * * *"}}, ValueError, "trigger/cron"),
        ({"version": ""}, ValueError, "version must be 1-100 characters"),
        ({"retries": 21}, ValueError, "retries must be between 0 and 20"),
        ({"retries": True}, ValueError, "retries"),
        ({"priority": "1"}, TypeError, "priority must be an integer"),
        ({"priority": 601}, ValueError, "priority must be between -600 and 600"),
        ({"enabled": 1}, TypeError, "enabled must be a boolean"),
        ({"batch": {"max_size": 2, "timeout": "1s"}, "debounce": {"period": "1s"}}, ValueError,
         "batch/debounce cannot be combined"),
        ({"debounce": {"period": "1s"}, "throttle": {"limit": 1, "period": "1s"}}, ValueError,
         "batch/debounce cannot be combined"),
        ({"concurrency": {"limit": 0}}, ValueError, "concurrency requires"),
        ({"concurrency": [{"limit": 1}] * 11}, ValueError, "concurrency requires"),
        ({"throttle": {"limit": 1}}, ValueError, "invalid option"),
        ({"throttle": {"limit": 1, "period": "soon"}}, ValueError, "invalid option"),
        ({"debounce": {"period": "1s", "key": "a..b"}}, ValueError, "/debounce/key"),
        ({"batch": {"max_size": 101, "timeout": "1s"}}, ValueError, "/batch/maxSize"),
        ({"timeout": "0s"}, ValueError, "/timeoutMs"),
    ],
)
def test_invalid_options_are_refused_with_a_clear_message(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("/", "\\/").replace("(", "\\(")):
        make(**options)


@pytest.mark.parametrize(
    ("value", "ms"), [(0, 0), (250, 250), ("250ms", 250), ("3s", 3000), ("2m", 120_000),
                      ("1h", 3_600_000), ("1d", 86_400_000)]
)
def test_durations(value: str | int, ms: int) -> None:
    assert parse_duration(value) == ms


@pytest.mark.parametrize("value", [-1, "", "3", "3 s", "1.5s", "3w", "-1s", "ms"])
def test_bad_durations(value: str | int) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize("value", [True, 1.5, None])
def test_durations_of_the_wrong_type(value: Any) -> None:
    with pytest.raises(TypeError):
        parse_duration(value)


def test_protocol_1_1_members_are_left_out_unless_set() -> None:
    definition = DurableFunction(id="f", trigger={"event": "e"}, handler=lambda e, s: 1
                                 ).definition()
    assert not {"cancelOn", "idempotency", "singleton"} & set(definition)  # [MINOR-2]


@pytest.mark.parametrize(("options", "message"), [
    ({"cancel_on": []}, "/cancelOn"),
    ({"cancel_on": [{"event": "x", "match": {"a": "b..c"}}]}, "/cancelOn/0/match/a"),
    ({"cancel_on": [{"event": "x", "timeout": "soon"}]}, "duration"),
    ({"idempotency": {"period": "1h"}}, "/idempotency"),
    ({"singleton": {"mode": "queue"}}, "/singleton/mode"),
    ({"singleton": {"mode": "skip"}, "debounce": {"period": "1s"}}, "/singleton"),
])
def test_protocol_1_1_members_are_validated(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        DurableFunction(id="f", trigger={"event": "e"}, handler=lambda e, s: 1, **options)
