"""Run control (issue 4): cancel that stops a run for good, bulk cancel and rerun by filter,
a run's attempt history, the failures view, versions side by side, and retention."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import App, AppServer, EngineHandle, query, spec_check, wait_for
from durable import Client, DurableError, DurableFunction, NonRetriableError, Step
from durable_engine.ops import parse_age, prune_once

ANSWERS = {"/runs/bulk-cancel": "runs-bulk-cancel-answer",
           "/runs/bulk-rerun": "runs-bulk-rerun-answer", "/runs/history": "runs-history-answer"}


def uid(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}"


def call(app: App, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An engine API call the published client has no method for; answer checked by schema."""
    answer = Client._post(app.client, path, payload)
    spec_check(ANSWERS[path], answer)
    return answer


def refused(app: App, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        Client._post(app.client, path, payload)
    except DurableError as error:  # "durable <path> failed: <status> <body>"
        match = re.search(r"failed: (\d{3}) (.*)$", str(error), re.S)
        assert match is not None, str(error)
        body = json.loads(match.group(2))
        spec_check("error-body", body)
        return {"status": int(match.group(1)), **body["error"]}
    raise AssertionError(f"{path} {payload} was accepted")


def iso_ms(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def history(app: App, run_id: str) -> list[dict[str, Any]]:
    return call(app, "/runs/history", {"runId": run_id})["attempts"]


def test_cancel_of_a_running_run_discards_its_answer_and_never_invokes_again(
        make_app: Any) -> None:
    entered, release = threading.Event(), threading.Event()
    calls = {"invocations": 0, "slow": 0, "after": 0}

    def slow() -> int:
        calls["slow"] += 1
        entered.set()
        release.wait(10)
        return 1

    def handler(event: dict[str, Any], step: Step) -> Any:
        calls["invocations"] += 1
        step.run("slow", slow)
        calls["after"] += 1
        return step.run("after", lambda: 2)

    name = uid("cancel-running")
    app = make_app([DurableFunction(id="cancel-running", trigger={"event": name},
                                    handler=handler)])
    run_id = app.run_of(app.send(name))
    assert entered.wait(10)
    assert app.client.get_run(run_id)["status"] == "running"
    assert app.client.cancel_run(run_id) is True
    release.set()  # the in-flight invocation answers now: too late
    time.sleep(1.0)
    run = app.client.get_run(run_id)
    assert run["status"] == "cancelled"
    assert run["steps"] == []  # the late answer's memo was discarded
    assert calls == {"invocations": 1, "slow": 1, "after": 0}
    attempts = history(app, run_id)
    assert len(attempts) == 1 and attempts[0]["op"] == "step"
    assert attempts[0]["error"] == "stale attempt" and attempts[0]["httpStatus"] == 200


def test_cancel_between_steps_allows_at_most_the_invocation_in_flight(make_app: Any) -> None:
    lock = threading.Lock()
    calls = {"invocations": 0}

    def handler(event: dict[str, Any], step: Step) -> Any:
        with lock:
            calls["invocations"] += 1
        for i in range(200):
            step.run(f"s{i}", lambda: time.sleep(0.01) or 1)
        return "all"

    name = uid("cancel-steps")
    app = make_app([DurableFunction(id="cancel-steps", trigger={"event": name},
                                    handler=handler)])
    run_id = app.run_of(app.send(name))
    wait_for(lambda: calls["invocations"] >= 10, 20)
    assert app.client.cancel_run(run_id) is True
    with lock:
        at_cancel = calls["invocations"]
    time.sleep(1.0)
    assert calls["invocations"] <= at_cancel + 1  # only an invocation already on its way
    run = app.client.get_run(run_id)
    assert run["status"] == "cancelled" and len(run["steps"]) < 200
    committed = len(run["steps"])
    time.sleep(0.5)
    assert len(app.client.get_run(run_id)["steps"]) == committed


def _parker(name: str, approved: str, calls: dict[str, int]) -> DurableFunction:
    def handler(event: dict[str, Any], step: Step) -> Any:
        key = f"{name}:{event['data']['kind']}"
        calls[key] = calls.get(key, 0) + 1
        if event["data"]["kind"] == "sleep":
            step.sleep("nap", "1s")
        else:
            step.wait_for_event("approve", event=approved, timeout="1h")
        return "woke"

    return DurableFunction(id=name, trigger={"event": name}, handler=handler)


def test_bulk_cancel_stops_sleeping_and_waiting_runs_by_filter(make_app: Any) -> None:
    calls: dict[str, int] = {}
    name, other, approved = uid("parked"), uid("kept"), uid("approved")
    app = make_app([_parker(name, approved, calls), _parker(other, approved, calls)])
    before = datetime.now(UTC) - timedelta(seconds=1)
    sleeper = app.run_of(app.send(name, {"kind": "sleep"}))
    waiters = [app.run_of(app.send(name, {"kind": "wait"})) for _ in range(3)]
    kept = app.run_of(app.send(other, {"kind": "wait"}))
    app.wait_run(sleeper, ("sleeping",), timeout=5)
    for run_id in [*waiters, kept]:
        app.wait_run(run_id, ("waiting",), timeout=5)
    after = datetime.now(UTC) + timedelta(seconds=1)

    assert refused(app, "/runs/bulk-cancel", {})["status"] == 400  # [API-16]: a filter
    assert refused(app, "/runs/bulk-cancel", {"status": "waiting",
                                               "createdFrom": "yesterday"})["status"] == 400
    # A time range before every run matches nothing.
    empty = call(app, "/runs/bulk-cancel", {"functionId": name, "createdTo": iso_ms(before)})
    assert empty == {"cancelled": [], "nextCursor": None}

    cancelled: list[str] = []
    page: dict[str, Any] = {"functionId": name, "createdFrom": iso_ms(before),
                            "createdTo": iso_ms(after), "limit": 2}
    pages = 0
    while True:
        answer = call(app, "/runs/bulk-cancel", page)
        cancelled += answer["cancelled"]
        pages += 1
        if answer["nextCursor"] is None:
            break
        page["cursor"] = answer["nextCursor"]
    assert pages == 2 and sorted(cancelled) == sorted([sleeper, *waiters])
    seen = dict(calls)
    app.send(approved, {})  # would resume the waiters; they are cancelled
    time.sleep(1.5)  # past the sleeper's due time
    for run_id in [sleeper, *waiters]:
        assert app.client.get_run(run_id)["status"] == "cancelled"
    assert {k: v for k, v in calls.items() if k.startswith(name + ":")} == {
        k: v for k, v in seen.items() if k.startswith(name + ":")}  # never called again
    assert app.client.get_run(kept)["status"] in ("waiting", "queued", "running", "completed")
    assert app.wait_run(kept)["status"] == "completed"  # the other function was not touched
    again = call(app, "/runs/bulk-cancel", {"functionId": name})
    assert again["cancelled"] == []  # terminal runs are not cancelled twice


def test_bulk_rerun_by_status_is_idempotent_per_run(make_app: Any) -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        value = step.run("v", lambda: event["data"]["n"])
        if event["data"].get("fail") and not event["data"].get("rerun"):
            raise NonRetriableError("bad input")
        return value

    name = uid("bulk-rerun")
    app = make_app([DurableFunction(id="bulk-rerun", trigger={"event": name},
                                    handler=handler, retries=0)])
    failed = [app.run_of(app.send(name, {"n": i, "fail": True})) for i in range(3)]
    fine = app.run_of(app.send(name, {"n": 9}))
    for run_id in [*failed, fine]:
        app.wait_run(run_id)
    body = {"functionId": "bulk-rerun", "status": "failed", "idempotencyKey": "fix-1"}
    first = call(app, "/runs/bulk-rerun", body)
    assert first["nextCursor"] is None
    assert sorted(r["rerunOf"] for r in first["reruns"]) == sorted(failed)
    assert all(r["duplicate"] is False for r in first["reruns"])
    for rerun in first["reruns"]:
        run = app.wait_run(rerun["runId"])
        assert run["status"] == "failed"  # same event, same input: fails again
        assert run["event"]["id"] in {app.client.get_run(s)["event"]["id"] for s in failed}
    # A retried call starts nothing twice (the reruns also failed now, so list the sources).
    again = call(app, "/runs/bulk-rerun", {**body, "createdTo": iso_ms(
        datetime.fromisoformat(app.client.get_run(failed[-1])["createdAt"].replace(
            "Z", "+00:00")) + timedelta(milliseconds=1))})
    by_source = {r["rerunOf"]: r for r in again["reruns"]}
    for rerun in first["reruns"]:
        assert by_source[rerun["rerunOf"]] == {**rerun, "duplicate": True}
    paged = call(app, "/runs/bulk-rerun", {"functionId": "bulk-rerun", "status": "completed",
                                           "idempotencyKey": "k2", "limit": 1})
    assert [r["rerunOf"] for r in paged["reruns"]] == [fine] and paged["nextCursor"] is None
    assert refused(app, "/runs/bulk-rerun", {"idempotencyKey": "x"})["status"] == 400


def test_history_lists_every_attempt_and_failures_show_the_app_answer(
        make_app: Any, engine: EngineHandle) -> None:
    attempts = {"n": 0}

    def handler(event: dict[str, Any], step: Step) -> Any:
        def flaky() -> str:
            attempts["n"] += 1
            if attempts["n"] < 3:
                raise RuntimeError(f"flaky {attempts['n']}")
            return "ok"

        return step.run("flaky", flaky)

    name = uid("history")
    app = make_app([DurableFunction(id="history", trigger={"event": name}, handler=handler)])
    run_id = app.run_of(app.send(name))
    assert app.wait_run(run_id)["status"] == "completed"
    rows = history(app, run_id)
    assert [(r["attempt"], r["op"]) for r in rows] == [(0, "error"), (1, "error"), (2, "step"),
                                                       (0, "done")]
    assert "flaky 1" in rows[0]["error"] and "flaky 2" in rows[1]["error"]
    assert rows[2]["error"] is None and all(r["httpStatus"] == 200 for r in rows)
    first = call(app, "/runs/history", {"runId": run_id, "limit": 3})
    rest = call(app, "/runs/history", {"runId": run_id, "cursor": first["nextCursor"]})
    assert first["attempts"] + rest["attempts"] == rows and rest["nextCursor"] is None
    assert refused(app, "/runs/history", {"runId": "nope"})["status"] == 404

    # An app that answers HTTP 500: the failure lists its status and the start of its answer.
    def broken(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"database on fire"]

    bad = App(engine, [DurableFunction(id="broken", trigger={"event": name + ".b"},
                                       handler=handler, retries=1)], sync=False)
    bad.server.close()
    bad.server = AppServer(broken, bad.server.port)
    try:
        bad.client.sync(bad.functions)
        broken_run = bad.run_of(bad.send(name + ".b"))
        assert bad.wait_run(broken_run)["status"] == "failed"
        failure = next(f for f in bad.client.list_failures(20) if f["runId"] == broken_run)
        assert failure["httpStatus"] == 500 and "database on fire" in failure["detail"]
        tries = history(bad, broken_run)
        assert [(t["attempt"], t["httpStatus"], t["op"]) for t in tries] == [
            (0, 500, None), (1, 500, None)]
        assert bad.client.retry_failure(failure["deliveryId"]) is True
        assert bad.wait_run(broken_run)["status"] == "failed"
        assert len(history(bad, broken_run)) == 4  # the retry's attempts are added
    finally:
        bad.close()


def test_versions_side_by_side_runs_finish_on_their_version(make_app: Any) -> None:
    name, approved = uid("versioned"), uid("approved")

    def version(tag: str) -> DurableFunction:
        def handler(event: dict[str, Any], step: Step) -> Any:
            got = step.wait_for_event("go", event=approved, timeout="1h")
            return {"version": tag, "got": got is not None}

        return DurableFunction(id="versioned", version=tag, trigger={"event": name},
                               handler=handler)

    v1, v2 = version("1"), version("2")
    app = make_app([v1, v2], sync=False)
    app.client.sync([v1])
    old = app.run_of(app.send(name))
    app.wait_run(old, ("waiting",), timeout=5)
    app.client.sync([v2])  # v1 retired: left out of the sync
    receipt = app.send(name)
    assert len(receipt["runIds"]) == 1
    new = app.run_of(receipt)
    app.wait_run(new, ("waiting",), timeout=5)
    status = app.client.get_version_status("versioned")
    by_id = {v["runtimeId"]: v for v in status["versions"]}
    assert by_id["versioned@1"]["active"] is False and by_id["versioned@1"]["runs"] == {
        "waiting": 1}
    assert by_id["versioned@2"]["active"] is True and by_id["versioned@2"]["runs"] == {
        "waiting": 1}
    app.send(approved)
    assert app.wait_run(old)["output"] == {"version": "1", "got": True}  # its own version
    assert app.wait_run(new)["output"] == {"version": "2", "got": True}
    assert app.client.get_run(old)["functionId"] == "versioned@1"
    status = app.client.get_version_status("versioned")
    assert [v["runtimeId"] for v in status["versions"]] == ["versioned@2"]  # v1 gone: no runs

    app.client.sync([replace(v2, enabled=False)])  # disabled: live but no new runs
    assert app.send(name)["runIds"] == []
    status = app.client.get_version_status("versioned")
    assert [(v["runtimeId"], v["active"]) for v in status["versions"]] == [
        ("versioned@2", False)]
    app.client.sync([v2])  # enabled again
    assert len(app.send(name)["runIds"]) == 1


def test_retention_prunes_old_ended_runs_events_and_deliveries_in_batches(
        make_app: Any, engine: EngineHandle, database_url: str) -> None:
    name, approved = uid("retained"), uid("approved")

    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("one", lambda: 1)
        if event["data"].get("wait"):
            step.wait_for_event("go", event=approved, timeout="1h")
        return "done"

    app = make_app([DurableFunction(id="retained", trigger={"event": name}, handler=handler)])
    old = [app.run_of(app.send(name)) for _ in range(3)]
    recent = app.run_of(app.send(name))
    live = app.run_of(app.send(name, {"wait": True}))
    for run_id in [*old, recent]:
        app.wait_run(run_id)
    app.wait_run(live, ("waiting",), timeout=5)
    long_ago = datetime.now(UTC) - timedelta(days=40)
    query(database_url, "UPDATE runs SET ended_at = %s, created_at = %s WHERE id = ANY(%s)"
          " RETURNING id", long_ago, long_ago, old)
    query(database_url, "UPDATE runs SET created_at = %s WHERE id = %s RETURNING id",
          long_ago, live)  # old but not ended: never pruned
    query(database_url, "UPDATE events SET received_at = %s WHERE id = ANY(SELECT event_id "
          "FROM runs WHERE id = ANY(%s)) RETURNING id", long_ago, old)
    assert len(query(database_url, "SELECT 1 FROM deliveries WHERE run_id = ANY(%s)", old)) == 6

    assert engine.server is not None
    totals = asyncio.run_coroutine_threadsafe(
        prune_once(engine.server.engine, parse_age("30d") or 0, batch=2),  # type: ignore[arg-type]
        engine.loop).result(30)
    assert totals["runs"] == 3 and totals["deliveries"] == 6 and totals["events"] == 3
    left = {r["id"] for r in query(database_url, "SELECT id FROM runs WHERE id = ANY(%s)",
                                   [*old, recent, live])}
    assert left == {recent, live}
    for table in ("steps", "deliveries"):
        assert query(database_url, f"SELECT 1 FROM {table} WHERE run_id = ANY(%s)", old) == []
    assert query(database_url, "SELECT 1 FROM steps WHERE run_id = %s", recent)
    app.send(approved)
    assert app.wait_run(live)["output"] == "done"


def test_retention_and_drain_settings_are_checked() -> None:
    assert parse_age("30d") == 30 * 86400 and parse_age("90m") == 5400
    assert parse_age("0") is None and parse_age("off") is None
    with pytest.raises(ValueError):
        parse_age("soon")
    done = subprocess.run([sys.executable, "-m", "durable_engine.cli", "worker",
                           "--retention", "soon", "--database-url", "postgresql://x/y"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "not a duration" in done.stderr
    assert wait_for(lambda: True)


def test_random_bodies_to_the_run_control_endpoints_never_get_a_5xx(make_app: Any) -> None:
    import base64
    import random

    from test_fuzz import mutate

    app = make_app([DurableFunction(id="fz", trigger={"event": uid("fz")},
                                    handler=lambda event, step: 1)])
    odd_cursor = base64.urlsafe_b64encode(b"2026-01-01T00:00:00|a\x00b").decode()
    valid: dict[str, Any] = {
        "/runs/bulk-cancel": {"functionId": "fz", "status": "queued", "limit": 5,
                              "createdFrom": "2026-01-01T00:00:00.000Z", "cursor": odd_cursor},
        "/runs/bulk-rerun": {"functionId": "fz@1", "idempotencyKey": "k", "limit": 2,
                             "createdTo": "2026-01-01T00:00:00.000Z", "cursor": ""},
        "/runs/history": {"runId": "r", "limit": 3, "cursor": "bm90IGEgY3Vyc29y"},
    }
    rng = random.Random(4)
    statuses: dict[int, int] = {}
    for i in range(150):
        path = rng.choice(list(valid))
        body = mutate(valid[path], rng) if i % 5 else valid[path]
        try:
            Client._post(app.client, path, body)
            statuses[200] = statuses.get(200, 0) + 1
        except DurableError as error:
            match = re.search(r"failed: (\d{3}) ", str(error))
            assert match is not None and match.group(1) in ("400", "404", "409", "413"), (
                path, body, str(error))
            statuses[int(match.group(1))] = statuses.get(int(match.group(1)), 0) + 1
    assert statuses.get(400, 0) > 30 and statuses.get(200, 0) > 5, statuses
    answer = refused(app, "/runs/search", {"cursor": odd_cursor})  # was a 500 too
    assert answer["status"] == 400 and answer["path"] == "/cursor"
