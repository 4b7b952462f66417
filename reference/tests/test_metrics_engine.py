"""Metrics of a real engine driving real apps on our SDK (decision 0040): the backlog sample
sees due, running, sleeping and waiting runs; two engine processes side by side, one of them
restarted, roll every run and step exactly once; /metrics serves the same figures in
Prometheus text format and does not leak to anonymous clients in production mode."""

from __future__ import annotations

import asyncio
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import (
    ADMIN_TOKEN,
    App,
    CheckedClient,
    EngineHandle,
    fresh_database,
    query,
    wait_for,
)
from durable import DurableFunction, Step
from durable_engine.server import Server
from prometheus_client.parser import text_string_to_metric_families


def uid(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:6]}"


def scrape(url: str, token: str | None = ADMIN_TOKEN) -> tuple[int, str, str]:
    request = urllib.request.Request(f"{url}/metrics")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def sample_now(engine: EngineHandle) -> Any:
    assert engine.server is not None and engine.server.sampler is not None
    return asyncio.run_coroutine_threadsafe(engine.server.sampler.sample_once(),
                                            engine.loop).result(30)


def test_backlog_counts_due_running_sleeping_and_waiting_runs(
        make_app: Any, engine: EngineHandle, database_url: str) -> None:
    nap, wait, busy = uid("nap"), uid("wait"), uid("busy")
    release = threading.Event()

    def napper(event: dict[str, Any], step: Step) -> Any:
        step.sleep("nap", "1h")

    def waiter(event: dict[str, Any], step: Step) -> Any:
        step.wait_for_event("approval", event=uid("never"), timeout="1h")

    def blocker(event: dict[str, Any], step: Step) -> Any:
        return step.run("block", lambda: release.wait(20))

    app = make_app([
        DurableFunction(id="napper", trigger={"event": nap}, handler=napper),
        DurableFunction(id="waiter", trigger={"event": wait}, handler=waiter),
        DurableFunction(id="limited", trigger={"event": busy}, handler=blocker,
                        concurrency={"limit": 1}, timeout="30s"),
    ])
    try:
        sleeping = [app.run_of(app.send(nap)) for _ in range(2)]
        waiting = app.run_of(app.send(wait))
        limited = [app.run_of(app.send(busy)) for _ in range(3)]
        for run_id in sleeping:
            app.wait_run(run_id, ("sleeping",))
        app.wait_run(waiting, ("waiting",))
        wait_for(lambda: sum(app.client.get_run(r)["status"] == "running" for r in limited) == 1)

        snap = sample_now(engine)
        mine = {r["function_id"]: r for r in snap.backlog if r["workspace_id"] == app.id}
        assert (mine["napper"]["sleeping"], mine["napper"]["due"]) == (2, 0)
        assert (mine["waiter"]["waiting"], mine["waiter"]["due"]) == (1, 0)
        assert (mine["limited"]["running"], mine["limited"]["due"]) == (1, 2)

        stored = query(database_url, "SELECT function_id, due, running, sleeping, waiting "
                       "FROM metrics_backlog WHERE workspace_id = %s AND minute = %s",
                       app.id, snap.at.replace(second=0, microsecond=0))
        by_fn = {r["function_id"]: r for r in stored}
        assert by_fn["limited"]["due"] >= 2 and by_fn["napper"]["sleeping"] >= 2

        assert engine.server is not None
        service = engine.server.sampler.engine  # type: ignore[union-attr]
        from durable_engine.service import Service
        from durable_engine.service.metrics import MetricsQuery

        series = asyncio.run_coroutine_threadsafe(
            Service(service).metrics_series(app.id, MetricsQuery(function="limited")),
            engine.loop).result(30).to_json()
        assert series["backlogNow"]["due"] == 2 and series["backlogNow"]["running"] == 1
        assert series["backlog"]["due"][-1] >= 2  # this minute was sampled

        status, content_type, text = scrape(engine.url)
        assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
        found = samples(text)

        def gauge(function: str, state: str) -> float:
            return found[("durable_backlog_runs", (("function", function), ("state", state),
                                                   ("workspace", app.id)))]

        assert gauge("limited", "due") == 2 and gauge("limited", "running") == 1
        assert gauge("napper", "sleeping") == 2 and gauge("waiter", "waiting") == 1
        assert found[("durable_engine_info", (("version", "0.1.0"),))] == 1
        assert ("process_cpu_seconds_total", ()) in found
        rolled_to = found[("durable_metrics_rolled_to_timestamp_seconds", ())]
        assert snap.rolled_to.timestamp() <= rolled_to <= datetime.now(UTC).timestamp()
    finally:
        release.set()
        for run_id in sleeping + [waiting]:
            app.client.cancel_run(run_id)


@pytest.mark.parametrize(("dev", "token", "public", "sent", "status"), [
    (False, ADMIN_TOKEN, False, None, 401),
    (False, ADMIN_TOKEN, False, "wrong", 401),
    (False, ADMIN_TOKEN, False, ADMIN_TOKEN, 200),
    (False, None, False, None, 403),
    (False, ADMIN_TOKEN, True, None, 200),
    (False, None, True, None, 200),
    (True, None, False, None, 200),  # dev mode, loopback client
])
def test_metrics_do_not_leak_to_anonymous_clients_in_production(
        database_url: str, dev: bool, token: str | None, public: bool, sent: str | None,
        status: int) -> None:
    handle = EngineHandle(database_url, dev=dev, admin_token=token, workers=False)
    handle.options.metrics_public = public
    handle.start()
    try:
        got, content_type, body = scrape(handle.url, sent)
        assert got == status, body
        if status == 200:
            assert "durable_engine_info" in body
        else:
            assert content_type.startswith("application/json")
            assert '"code": "UNAUTHORIZED"' in body or '"code": "FORBIDDEN"' in body
    finally:
        handle.stop()


class ClockedEngine(EngineHandle):
    """An engine whose clock runs `offset` ahead, sampling every 0.2 s and rolling a minute one
    second after it ends, so a test sees minutes end within seconds."""

    def __init__(self, database_url: str, offset: timedelta) -> None:
        super().__init__(database_url)
        self.offset = offset
        self.options.metrics_sample_s = 0.2
        self.options.metrics_grace_s = 1.0

    def start(self) -> ClockedEngine:
        self.thread.start()
        offset = self.offset

        async def boot() -> Server:
            server = Server(self.config, self.options, say=self.lines.append,
                            clock=lambda: datetime.now(UTC) + offset)
            await server.start()
            return server

        self.server = asyncio.run_coroutine_threadsafe(boot(), self.loop).result(90)
        return self


@pytest.fixture
def own_database(server_url: str) -> Iterator[str]:
    with fresh_database(server_url) as url:
        yield url


def test_two_engines_and_a_restart_count_every_run_and_step_once(own_database: str) -> None:
    url = own_database
    # Both engines' clocks stand at second 45 of a minute now: it ends within seconds.
    offset = timedelta(seconds=(45 - datetime.now(UTC).second) % 60)
    name, failing = uid("work"), uid("boom")

    def work(event: dict[str, Any], step: Step) -> Any:
        a = step.run("a", lambda: 1)
        return step.run("b", lambda: a + 1)

    def boom(event: dict[str, Any], step: Step) -> Any:
        def fail() -> None:
            raise RuntimeError("no")

        step.run("fail", fail)

    functions = [DurableFunction(id="work", trigger={"event": name}, handler=work),
                 DurableFunction(id="boom", trigger={"event": failing}, handler=boom,
                                 retries=0)]
    first, second = ClockedEngine(url, offset).start(), ClockedEngine(url, offset).start()
    engines = [first, second]
    app = App(first, functions)
    try:
        def send_and_finish(client: CheckedClient, works: int, booms: int) -> None:
            runs = [client.send(name, {})["runIds"][0] for _ in range(works)]
            runs += [client.send(failing, {})["runIds"][0] for _ in range(booms)]
            for run_id in runs:
                wait_for(lambda r=run_id: client.get_run(r)["status"] in ("completed",
                                                                          "failed"), 30)

        def rolled_past_every_run() -> bool:
            row = query(url, "SELECT (SELECT rolled_to FROM metrics_state) > "
                        "max(ended_at) AS done FROM runs")[0]
            return bool(row["done"])

        def rolled() -> dict[str, int]:
            row = query(url, "SELECT sum(started) AS started, sum(completed) AS completed, "
                        "sum(failed) AS failed, (SELECT sum(n) FROM metrics_minutes, "
                        "unnest(app_counts) AS n) AS app_steps FROM metrics_minutes")[0]
            return {k: int(v or 0) for k, v in row.items()}

        def truth() -> dict[str, int]:
            row = query(url, "SELECT count(started_at) AS started, "
                        "count(*) FILTER (WHERE status = 'completed') AS completed, "
                        "count(*) FILTER (WHERE status = 'failed') AS failed, "
                        "(SELECT count(app_ms) FROM steps) AS app_steps FROM runs")[0]
            return {k: int(v) for k, v in row.items()}

        send_and_finish(app.client, 4, 1)
        wait_for(rolled_past_every_run, 120, 0.2)
        assert rolled() == truth() == {"started": 5, "completed": 4, "failed": 1,
                                       "app_steps": 8}  # a failed step records no memo

        first.stop()  # restarted: a new process on the same database
        first = ClockedEngine(url, offset).start()
        engines[0] = first
        client = CheckedClient(second.url, app.id, app.key, timeout=10)
        send_and_finish(client, 3, 1)
        wait_for(rolled_past_every_run, 120, 0.2)
        assert rolled() == truth() == {"started": 9, "completed": 7, "failed": 2,
                                       "app_steps": 14}
        totals = query(url, "SELECT function_id, started, completed, failed "
                       "FROM metrics_totals ORDER BY function_id")
        assert totals == [
            {"function_id": "boom", "started": 2, "completed": 0, "failed": 2},
            {"function_id": "work", "started": 7, "completed": 7, "failed": 0}]

        def scraped(engine: EngineHandle) -> dict[Any, float] | None:
            found = samples(scrape(engine.url)[2])
            key = (("function", "work"), ("workspace", app.id))
            if found.get(("durable_runs_started_total", key)) != 7:
                return None  # its sampler has not read the last roll yet
            return found

        for engine in engines:
            found = wait_for(lambda e=engine: scraped(e), 10)
            work_key = (("function", "work"), ("workspace", app.id))
            boom_key = (("function", "boom"), ("workspace", app.id))
            assert found[("durable_runs_completed_total", work_key)] == 7
            assert found[("durable_runs_failed_total", boom_key)] == 2
            assert found[("durable_step_app_seconds_count", work_key)] == 14
            assert ("durable_step_app_seconds_count", boom_key) not in found  # no step memo
            assert found[("durable_step_app_seconds_bucket", (*work_key[:1], ("le", "+Inf"),
                                                              work_key[1]))] == 14
            assert found[("durable_step_app_seconds_sum", work_key)] > 0
    finally:
        app.close()
        for engine in engines:
            engine.stop()
