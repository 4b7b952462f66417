"""Flow control and cron exact across several `durable worker` processes on one Postgres
(issue 9): sampled in-flight counts never pass a concurrency limit, throttle and rate-limit
windows hold exactly, debounce and batch outcomes, cron ticks once across two workers and a
restart. The API process here runs no workers: every invocation comes from a subprocess."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import App, EngineHandle, fresh_database, query, wait_for
from durable import DurableFunction, Step
from test_drain import Worker


@pytest.fixture(scope="module")
def api_engine(database_url: str) -> Iterator[EngineHandle]:
    handle = EngineHandle(database_url, workers=False).start()
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def three_workers(database_url: str, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[list[Worker]]:
    logs = tmp_path_factory.mktemp("flow-workers")
    started: list[Worker] = []
    try:
        for i in range(3):
            started.append(Worker(database_url, logs / f"worker-{i}.log", "--workers", "4"))
        yield started
    finally:
        for worker in started:
            worker.kill()


class Recorder:
    """Wraps the app's WSGI callable to keep every invoke body the engine sent."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        import io

        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        if environ.get("REQUEST_METHOD") == "POST" and raw:
            with self.lock:
                self.bodies.append(json.loads(raw))
        return self.app(environ, start_response)


def recorded_app(engine: EngineHandle, functions: list[DurableFunction]) -> tuple[App, Recorder]:
    app = App(engine, functions, sync=False)
    recorder = Recorder(app.server.httpd.get_app())
    app.server.httpd.set_app(recorder)
    app.client.sync(functions)
    return app, recorder


def runs_of(url: str, workspace_id: str, function_id: str) -> list[dict[str, Any]]:
    return query(url, "SELECT id, status, event, events, created_at, started_at FROM runs"
                 " WHERE workspace_id = %s AND function_id = %s ORDER BY created_at, id",
                 workspace_id, function_id)


def test_sampled_in_flight_never_passes_the_limit_across_three_workers(
        api_engine: EngineHandle, three_workers: list[Worker], database_url: str) -> None:
    lock = threading.Lock()
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}

    def work(tenant: str) -> str:
        with lock:
            in_flight[tenant] = in_flight.get(tenant, 0) + 1
            peak[tenant] = max(peak.get(tenant, 0), in_flight[tenant])
        time.sleep(0.15)
        with lock:
            in_flight[tenant] -= 1
        return tenant

    def handler(event: dict[str, Any], step: Step) -> Any:
        tenant = event["data"]["t"]
        step.run("one", lambda: work(tenant))
        return step.run("two", lambda: work(tenant))

    name = f"cc-{uuid.uuid4().hex[:6]}"
    app = App(api_engine, [DurableFunction(id=name, trigger={"event": name}, handler=handler,
                                           concurrency={"limit": 2, "key": "t"})])
    samples: list[dict[str, int]] = []
    done = threading.Event()

    def sample() -> None:  # the engine's own view: live leases per bucket
        while not done.is_set():
            rows = query(database_url, "SELECT k, count(*) AS n FROM queue, unnest(flow_keys)"
                         " AS k WHERE lease_token IS NOT NULL AND workspace_id = %s"
                         " GROUP BY k", app.id)
            samples.append({r["k"]: r["n"] for r in rows})
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    try:
        sampler.start()
        run_ids = [app.run_of(app.send(name, {"t": "a" if i % 3 else "b"})) for i in range(15)]
        for run_id in run_ids:
            assert app.wait_run(run_id, timeout=60)["status"] == "completed"
    finally:
        done.set()
        sampler.join(5)
        app.close()
    assert peak == {"a": 2, "b": 2}  # reached by 12 workers' slots, never passed
    assert len(samples) > 10
    assert max(n for s in samples for n in s.values()) <= 2
    assert any(n == 2 for s in samples for n in s.values())


def test_throttle_window_is_exact_and_first_in_first_out(
        api_engine: EngineHandle, three_workers: list[Worker], database_url: str) -> None:
    period = timedelta(milliseconds=600)
    name = f"thr-{uuid.uuid4().hex[:6]}"
    app = App(api_engine, [DurableFunction(id=name, trigger={"event": name},
                                           handler=lambda e, s: e["data"]["n"],
                                           throttle={"limit": 2, "period": "600ms",
                                                     "key": "k"})])
    try:
        sent = time.monotonic()
        run_ids = [app.run_of(app.send(name, {"k": "a", "n": n})) for n in range(8)]
        other = app.run_of(app.send(name, {"k": "b", "n": 99}))
        assert app.wait_run(other, timeout=30)["output"] == 99
        b_done = time.monotonic() - sent
        for n, run_id in enumerate(run_ids):
            assert app.wait_run(run_id, timeout=60)["output"] == n  # delayed, never dropped
        took = time.monotonic() - sent
    finally:
        app.close()
    rows = runs_of(database_url, app.id, name)
    starts = {r["id"]: r["started_at"] for r in rows}
    a_starts = [starts[r] for r in run_ids]
    assert a_starts == sorted(a_starts)  # first in, first out
    for t in a_starts:  # at most 2 starts in any sliding window of 600 ms
        assert sum(1 for s in a_starts if t - period < s <= t) <= 2
    # ... and the window is used: pairs start one period apart
    assert a_starts[-1] - a_starts[0] >= 3 * period
    assert took >= 3 * period.total_seconds()
    assert b_done < 3 * period.total_seconds()  # key b has its own window


def test_a_throttled_backlog_does_not_hold_back_other_keys(
        api_engine: EngineHandle, three_workers: list[Worker], database_url: str) -> None:
    name = f"hol-{uuid.uuid4().hex[:6]}"
    app = App(api_engine, [DurableFunction(id=name, trigger={"event": name},
                                           handler=lambda e, s: e["data"]["k"],
                                           throttle={"limit": 1, "period": "1h", "key": "k"})])
    try:
        backlog = [app.run_of(r) for r in app.client.send_many(
            [{"name": name, "data": {"k": "a"}} for _ in range(60)])]
        other = app.run_of(app.send(name, {"k": "b"}))
        assert app.wait_run(other, timeout=10)["output"] == "b"
        assert app.wait_run(backlog[0], timeout=10)["output"] == "a"
        time.sleep(0.5)
        statuses = [app.client.get_run(r)["status"] for r in backlog[1:]]
        assert statuses == ["queued"] * 59  # one start per hour for key a
    finally:
        for run_id in backlog:
            app.client.cancel_run(run_id)
        app.close()


def test_a_throttle_start_goes_to_the_oldest_run_even_when_another_claimer_holds_it(
        api_engine: EngineHandle, three_workers: list[Worker], database_url: str) -> None:
    # A claimer locks its candidate rows before it takes the bucket's lock, so another
    # claimer may reach the bucket first with only later runs in hand (SKIP LOCKED). The
    # oldest run's row is held here the same way while the window opens: no later run may
    # take the start in its place ([FLOW-3]: first in, first out).
    name = f"hh-{uuid.uuid4().hex[:6]}"
    app = App(api_engine, [DurableFunction(id=name, trigger={"event": name},
                                           handler=lambda e, s: e["data"]["n"],
                                           throttle={"limit": 1, "period": "2s"})])
    created: list[str] = []
    try:
        first = app.run_of(app.send(name, {"n": 0}))
        created.append(first)
        assert app.wait_run(first, timeout=10)["output"] == 0  # the window is now full
        queued = [app.run_of(app.send(name, {"n": n})) for n in (1, 2, 3)]
        created += queued
        with psycopg.connect(database_url) as holder:
            holder.execute("SELECT 1 FROM queue WHERE run_id = %s FOR UPDATE", (queued[0],))
            (started_at,) = query(database_url, "SELECT started_at FROM runs WHERE id = %s",
                                  first)[0].values()
            time.sleep(max(0.0, (started_at + timedelta(seconds=2.8)
                                 - datetime.now(UTC)).total_seconds()))
            held_until = datetime.now(UTC)  # the window has been open for 0.8 s
            early = [app.client.get_run(r)["status"] for r in queued]
        assert early == ["queued"] * 3  # nobody started a later run in its place
        assert app.wait_run(queued[0], timeout=10)["output"] == 1
        time.sleep(0.5)
        assert [app.client.get_run(r)["status"] for r in queued[1:]] == ["queued"] * 2
    finally:
        for run_id in created:
            app.client.cancel_run(run_id)
        app.close()
    starts = {r["id"]: r["started_at"] for r in runs_of(database_url, app.id, name)}
    assert starts[queued[0]] >= held_until


def test_rate_limit_window_exact_under_concurrent_events(api_engine: EngineHandle,
                                                         database_url: str) -> None:
    name = f"rl-{uuid.uuid4().hex[:6]}"
    app = App(api_engine, [DurableFunction(id=name, trigger={"event": name},
                                           handler=lambda e, s: "ok",
                                           rate_limit={"limit": 3, "period": "1h"})])
    try:
        with ThreadPoolExecutor(8) as pool:
            receipts = list(pool.map(lambda n: app.send(name, {"n": n}), range(16)))
        rows = runs_of(database_url, app.id, name)
        for row in rows:
            if row["status"] != "skipped":
                app.client.cancel_run(row["id"])
    finally:
        app.close()
    assert all(len(r["runIds"]) == 1 for r in receipts)
    assert len(rows) == 16
    assert sum(1 for r in rows if r["status"] != "skipped") == 3  # exactly the limit


def test_debounce_runs_once_with_the_last_event_after_the_quiet_period(
        api_engine: EngineHandle, three_workers: list[Worker], database_url: str) -> None:
    name = f"deb-{uuid.uuid4().hex[:6]}"
    app = App(api_engine, [DurableFunction(id=name, trigger={"event": name},
                                           handler=lambda e, s: e["data"]["n"],
                                           debounce={"period": "500ms", "key": "user"})])
    try:
        last_sent: dict[str, datetime] = {}
        for n in range(5):
            for user in ("u1", "u2") if n < 2 else ("u1",):
                last_sent[user] = datetime.now(UTC)  # the engine accepts it after this
                receipt = app.send(name, {"user": user, "n": n}, event_id=f"{user}-{n}-{name}")
                assert receipt["runIds"] == []  # created later ([EVT-4])
            time.sleep(0.15)

        def completed() -> list[dict[str, Any]] | None:
            rows = runs_of(database_url, app.id, name)
            return rows if len(rows) == 2 and all(r["status"] == "completed"
                                                   for r in rows) else None

        rows = wait_for(completed, 30)
        time.sleep(0.8)  # nothing more comes
        assert len(runs_of(database_url, app.id, name)) == 2
    finally:
        app.close()
    by_user = {r["event"]["data"]["user"]: r for r in rows}
    assert by_user["u1"]["event"]["id"] == f"u1-4-{name}"  # the last event
    assert by_user["u2"]["event"]["id"] == f"u2-1-{name}"
    for user, row in by_user.items():
        assert row["events"] is None
        # the period restarted with each event (sent 150 ms apart)
        assert row["started_at"] >= last_sent[user] + timedelta(milliseconds=500)
    assert by_user["u2"]["started_at"] < by_user["u1"]["started_at"], (last_sent, rows)


def test_batches_by_size_and_by_timeout_carry_events_in_arrival_order(
        api_engine: EngineHandle, three_workers: list[Worker], database_url: str) -> None:
    # The conformance catalog's `batcher`: batch {maxSize: 3, timeout: 1s}.
    batcher = DurableFunction(id="batcher", trigger={"event": "conf.batcher"},
                              handler=lambda e, s: {"first": e["id"]},
                              batch={"max_size": 3, "timeout": "1s"})
    keyed = DurableFunction(id="keyed", trigger={"event": "conf.keyed"},
                            handler=lambda e, s: e["id"],
                            batch={"max_size": 2, "timeout": "600ms", "key": "g"})
    app, recorder = recorded_app(api_engine, [batcher, keyed])
    try:
        ids = [f"b{n}-{uuid.uuid4().hex[:4]}" for n in range(7)]
        for event_id in ids:
            sent = datetime.now(UTC)  # before the last event: its batch is due 1 s later
            assert app.send("conf.batcher", {"n": event_id}, event_id=event_id)["runIds"] == []
        for n, group in enumerate(["x", "y", "x"]):
            app.send("conf.keyed", {"g": group}, event_id=f"k{n}-{app.id}")

        def completed() -> list[dict[str, Any]] | None:
            rows = [*runs_of(database_url, app.id, "batcher"),
                    *runs_of(database_url, app.id, "keyed")]
            return rows if len(rows) == 5 and all(r["status"] == "completed"
                                                   for r in rows) else None

        rows = wait_for(completed, 30)
        rerun = app.client.rerun(rows[1]["id"])["runId"]  # the same batch again
        assert app.wait_run(rerun, timeout=20)["status"] == "completed"
    finally:
        app.close()
    rerun_invokes = [b for b in recorder.bodies if b.get("runId") == rerun]
    assert rerun_invokes and [e["id"] for e in rerun_invokes[0]["events"]] == ids[3:6]
    batches = [[e["id"] for e in r["events"]] for r in rows if r["event"]["name"] ==
               "conf.batcher"]
    assert batches == [ids[0:3], ids[3:6], ids[6:7]]  # by size twice, then by timeout
    timed_out = rows[2]
    assert timed_out["started_at"] >= sent + timedelta(seconds=1)
    keyed_rows = {r["event"]["data"]["g"]: [e["id"] for e in r["events"]] for r in rows[3:]}
    assert keyed_rows == {"x": [f"k0-{app.id}", f"k2-{app.id}"], "y": [f"k1-{app.id}"]}
    # Every invocation of a batch run carries `events`, and `event` is the first of them.
    invokes = [b for b in recorder.bodies if "runId" in b and b["runId"] != rerun]
    assert {b["runId"] for b in invokes} == {r["id"] for r in rows}
    for body in invokes:
        assert body["events"] and body["event"] == body["events"][0]
    run = app.client.get_run(rows[0]["id"])
    assert [e["id"] for e in run["events"]] == ids[0:3] and run["event"]["id"] == ids[0]


@pytest.fixture
def own_database(server_url: str) -> Iterator[str]:
    """A database of its own: no other worker process of this module fires its cron."""
    with fresh_database(server_url) as url:
        yield url


def test_cron_ticks_once_across_two_workers_and_a_restart(own_database: str,
                                                          tmp_path: Path) -> None:
    database_url = own_database
    api = EngineHandle(database_url, workers=False).start()
    runtime_id = f"cron-{uuid.uuid4().hex[:6]}"
    app = App(api, [DurableFunction(id=runtime_id, trigger={"cron": "* * * * * *"},
                                    handler=lambda e, s: e["data"]["scheduledAt"])])
    workers: list[Worker] = []

    def ticks() -> list[datetime]:
        return [r["tick_at"] for r in query(
            database_url, "SELECT tick_at FROM cron_ticks WHERE workspace_id = %s AND"
            " runtime_id = %s ORDER BY tick_at", app.id, runtime_id)]

    try:
        workers = [Worker(database_url, tmp_path / f"w{i}.log", "--workers", "2")
                   for i in range(2)]
        wait_for(lambda: len(ticks()) >= 3, 20)
        for worker in workers:
            assert worker.terminate()[0] == 0
        stopped = datetime.now(UTC)
        time.sleep(3.5)  # downtime: three or four ticks are missed
        restarted = datetime.now(UTC)
        workers.append(Worker(database_url, tmp_path / "w2.log", "--workers", "2"))
        wait_for(lambda: len([t for t in ticks() if t > restarted]) >= 2, 20)
        workers[-1].terminate()
    finally:
        for worker in workers:
            worker.kill()
        app.close()
        api.stop()
    fired = ticks()
    runs = query(database_url, "SELECT event FROM runs WHERE workspace_id = %s AND"
                 " function_id = %s", app.id, runtime_id)
    run_ticks = sorted(r["event"]["ts"] for r in runs)
    assert run_ticks == sorted({int(t.timestamp() * 1000) for t in fired})  # one run a tick
    assert len(fired) == len(set(fired))
    second = timedelta(seconds=1)
    before = [t for t in fired if t <= stopped]
    after = [t for t in fired if t > stopped]
    # While both workers ran, every second fired once (they raced for each tick).
    assert all(b - a == second for a, b in zip(before, before[1:], strict=False)), before
    # After the downtime only the most recent missed tick fired (no storm of the older
    # ones), then the schedule went on.
    assert after and after[0] >= restarted - second, (stopped, restarted, after)
    assert after[0] - before[-1] > 2 * second
    assert all(b - a == second for a, b in zip(after, after[1:], strict=False)), after


def test_cron_runs_are_throttled_too(api_engine: EngineHandle, three_workers: list[Worker],
                                     database_url: str) -> None:
    runtime_id = f"cthr-{uuid.uuid4().hex[:6]}"
    app = App(api_engine, [DurableFunction(id=runtime_id, trigger={"cron": "* * * * * *"},
                                           handler=lambda e, s: "ok",
                                           throttle={"limit": 1, "period": "2s"})])
    try:
        wait_for(lambda: len(runs_of(database_url, app.id, runtime_id)) >= 4, 20)
        app.client.sync([])  # retire it: no more ticks
        rows = runs_of(database_url, app.id, runtime_id)
    finally:
        for row in runs_of(database_url, app.id, runtime_id):
            app.client.cancel_run(row["id"])
        app.close()
    starts = sorted(r["started_at"] for r in rows if r["started_at"] is not None)
    assert 1 <= len(starts) <= 2 < len(rows)  # four ticks in ~3 s, one start per 2 s
    assert all(b - a >= timedelta(seconds=2) for a, b in zip(starts, starts[1:], strict=False))


def test_versions_share_one_batch(api_engine: EngineHandle, three_workers: list[Worker],
                                  database_url: str) -> None:
    name = f"vb-{uuid.uuid4().hex[:6]}"
    versions = [DurableFunction(id=name, version=v, trigger={"event": name},
                                handler=lambda e, s: "ok",
                                batch={"max_size": 2, "timeout": "1h"}) for v in ("1", "2")]
    app = App(api_engine, versions)
    try:
        for n in range(2):
            app.send(name, {"n": n}, event_id=f"{name}-{n}")
        wait_for(lambda: query(database_url, "SELECT 1 FROM runs WHERE workspace_id = %s AND"
                               " status = 'completed'", app.id), 20)
    finally:
        app.close()
    rows = query(database_url, "SELECT function_id, events FROM runs WHERE workspace_id = %s",
                 app.id)
    assert [(r["function_id"], [e["id"] for e in r["events"]]) for r in rows] == [
        (f"{name}@2", [f"{name}-0", f"{name}-1"])]  # one batch, not one per version
