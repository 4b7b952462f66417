"""Run data that is true ([API-22]): updatedAt and a step's at are when something happened,
wake times have their own field, a failed run shows the attempt it failed on, and a rerun
from a step keeps the copied steps' times and marks them copied."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from conftest import App, spec_check
from durable import DurableFunction, Step


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def get(app: App, run_id: str) -> dict[str, Any]:
    run = app.client.get_run(run_id)
    spec_check("run", run)
    return run


def test_a_sleeping_run_says_when_it_parked_and_when_it_wakes(make_app: Any) -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("before", lambda: 1)
        step.sleep("nap", "1h")

    name = f"nap.{uuid.uuid4().hex[:6]}"
    app = make_app([DurableFunction(id="napper", trigger={"event": name}, handler=handler)])
    run_id = app.run_of(app.send(name))
    app.wait_run(run_id, ("sleeping",))
    run = get(app, run_id)
    now = datetime.now(UTC)
    assert at(run["updatedAt"]) <= now
    assert 3500 < (at(run["wakeAt"]) - now).total_seconds() <= 3600
    nap = next(s for s in run["steps"] if s["id"] == "nap")
    assert at(nap["at"]) <= now and at(nap["wakeAt"]) == at(run["wakeAt"])
    before = next(s for s in run["steps"] if s["id"] == "before")
    assert before["appMs"] >= 0 and "wakeAt" not in before
    assert app.client.cancel_run(run_id)
    assert "wakeAt" not in get(app, run_id)


def test_a_failed_run_shows_the_attempt_it_failed_on(make_app: Any) -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("ok", lambda: 1)

        def boom() -> None:
            raise RuntimeError("still broken")

        step.run("boom", boom)

    name = f"flaky.{uuid.uuid4().hex[:6]}"
    app = make_app([DurableFunction(id="flaky", trigger={"event": name}, handler=handler,
                                    retries=2)])
    run_id = app.run_of(app.send(name))
    run = app.wait_run(run_id)
    assert run["status"] == "failed" and "still broken" in run["error"]["message"]
    assert run["attempt"] == 2  # attempts 0, 1, 2 of step "boom"


def test_rerun_from_a_step_keeps_the_copied_steps_times(make_app: Any) -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("one", lambda: 1)
        step.run("two", lambda: 2)
        return step.run("three", lambda: 3)

    name = f"copy.{uuid.uuid4().hex[:6]}"
    app = make_app([DurableFunction(id="copier", trigger={"event": name}, handler=handler)])
    first = app.run_of(app.send(name))
    original = app.wait_run(first)
    answer = app.client.rerun_from_step(first, "three", idempotency_key=uuid.uuid4().hex)
    again = app.wait_run(answer["runId"])
    assert again["status"] == "completed"
    old = {s["id"]: s for s in original["steps"]}
    new = {s["id"]: s for s in get(app, answer["runId"])["steps"]}
    for kept in ("one", "two"):
        assert new[kept]["at"] == old[kept]["at"]
        assert new[kept]["copiedFrom"] == first
    assert "copiedFrom" not in new["three"] and new["three"]["at"] > old["three"]["at"]


def test_one_log_line_per_run_state_change_without_payloads(make_app: Any,
                                                           caplog: Any) -> None:
    import json
    import logging

    from durable_engine.logs import JsonFormatter

    def handler(event: dict[str, Any], step: Step) -> Any:
        step.sleep("pause", "100ms")

        def boom() -> None:
            raise RuntimeError("no luck")

        step.run("boom", boom)

    name = f"logged.{uuid.uuid4().hex[:6]}"
    app = make_app([DurableFunction(id="logged", trigger={"event": name}, handler=handler,
                                    retries=1)])
    with caplog.at_level(logging.INFO, logger="durable.runs"):
        run_id = app.run_of(app.send(name, {"password": "hunter2-secret"}))
        assert app.wait_run(run_id)["status"] == "failed"
    mine = [r for r in caplog.records if r.name == "durable.runs"
            and r.fields["runId"] == run_id]
    assert [r.fields["status"] for r in mine] == ["created", "sleeping", "retrying", "failed"]
    failed = mine[-1]
    assert failed.levelno == logging.WARNING and failed.fields["attempt"] == 1
    assert failed.fields["step"] == "boom" and failed.fields["function"] == "logged"
    for record in mine:
        line = JsonFormatter().format(record)
        parsed = json.loads(line)
        assert parsed["runId"] == run_id and parsed["level"] in ("info", "warning")
        assert "hunter2" not in line and app.key not in line
        assert "hunter2" not in record.getMessage()
