"""Several engines on one Postgres: a crash mid-run (no step committed twice), a graceful
drain, and API and workers in separate processes. No module-wide engine runs here."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from conftest import CheckedClient, EngineHandle, provision_served, query, wait_for
from durable import DurableFunction, Step


def test_engine_crash_mid_step_resumes_without_double_commit(database_url: str) -> None:
    counts = {"before": 0, "slow": 0, "after": 0}
    entered = threading.Event()
    release = threading.Event()

    def handler(event: dict[str, Any], step: Step) -> Any:
        def before() -> str:
            counts["before"] += 1
            return "b"

        def slow() -> str:
            counts["slow"] += 1
            if counts["slow"] == 1:
                entered.set()
                release.wait(10)  # the engine dies while this invocation is in flight
            return "s"

        def after() -> str:
            counts["after"] += 1
            return "a"

        return [step.run("before", before), step.run("slow", slow), step.run("after", after)]

    name = f"crash.{uuid.uuid4().hex[:6]}"
    fn = DurableFunction(id="crash", trigger={"event": name}, handler=handler, timeout="1500ms")
    first = EngineHandle(database_url, lease_s=2.0).start()
    created, server = provision_served(first.url, database_url, name, [fn])
    second = None
    try:
        client = CheckedClient(first.url, created["id"], created["key"])
        client.sync([fn])
        run_id = client.send(name)["runIds"][0]
        assert entered.wait(10)
        first.stop(crash=True)
        release.set()  # the first attempt's answer now goes nowhere
        second = EngineHandle(database_url, lease_s=2.0).start()
        client = CheckedClient(second.url, created["id"], created["key"])
        run = wait_for(lambda: (r := client.get_run(run_id))["status"] == "completed" and r, 15)
        assert run["output"] == ["b", "s", "a"]
        assert counts == {"before": 1, "slow": 2, "after": 1}  # at-least-once execution...
        rows = query(database_url, "SELECT step_id, count(*) AS n FROM steps WHERE run_id = %s"
                     " GROUP BY step_id ORDER BY step_id", run_id)
        assert [(r["step_id"], r["n"]) for r in rows] == [("after", 1), ("before", 1),
                                                          ("slow", 1)]  # ...memoized once
    finally:
        if second is not None:
            second.stop()
        server.close()


def test_graceful_stop_hands_runs_back_at_once(database_url: str) -> None:
    """SIGTERM-style drain: in-flight work finishes, held leases are released, so another
    engine continues the runs without waiting for lease expiry."""
    name = f"drain.{uuid.uuid4().hex[:6]}"

    def handler(event: dict[str, Any], step: Step) -> Any:
        total = 0
        for i in range(12):
            total += step.run(f"s{i}", lambda i=i: (time.sleep(0.05), i)[1])
        return total

    fn = DurableFunction(id="drain", trigger={"event": name}, handler=handler)
    first = EngineHandle(database_url, lease_s=60).start()
    created, server = provision_served(first.url, database_url, name, [fn])
    second = None
    try:
        client = CheckedClient(first.url, created["id"], created["key"])
        client.sync([fn])
        run_ids = [client.send(name)["runIds"][0] for _ in range(3)]
        wait_for(lambda: query(database_url, "SELECT count(*) AS n FROM steps WHERE run_id ="
                               " ANY(%s)", run_ids)[0]["n"] >= 3)
        first.stop()  # graceful
        left = query(database_url, "SELECT count(*) AS n FROM queue WHERE run_id = ANY(%s)"
                     " AND lease_token IS NOT NULL", run_ids)[0]["n"]
        assert left == 0
        second = EngineHandle(database_url, lease_s=60).start()
        client = CheckedClient(second.url, created["id"], created["key"])
        for run_id in run_ids:  # well before the 60 s lease margin would expire
            run = wait_for(lambda r=run_id: (x := client.get_run(r))["status"] == "completed"
                           and x, 15)
            assert run["output"] == sum(range(12))
    finally:
        if second is not None:
            second.stop()
        server.close()


def test_api_and_workers_in_separate_processes_share_one_postgres(database_url: str) -> None:
    name = f"split.{uuid.uuid4().hex[:6]}"
    fn = DurableFunction(id="split", trigger={"event": name},
                         handler=lambda e, s: s.run("one", lambda: "done by a worker"))
    api_only = EngineHandle(database_url, workers=False).start()
    workers = [EngineHandle(database_url, api=False).start() for _ in range(2)]
    created, server = provision_served(api_only.url, database_url, name, [fn])
    try:
        client = CheckedClient(api_only.url, created["id"], created["key"])
        client.sync([fn])
        run_ids = [r for _ in range(6) for r in client.send(name)["runIds"]]
        for run_id in run_ids:
            run = wait_for(lambda r=run_id: (x := client.get_run(r))["status"] == "completed"
                           and x)
            assert run["output"] == "done by a worker"
        rows = query(database_url, "SELECT count(*) AS n FROM steps WHERE run_id = ANY(%s)",
                     run_ids)
        assert rows[0]["n"] == 6
    finally:
        api_only.stop()
        for handle in workers:
            handle.stop()
        server.close()


def test_postgres_restart_mid_invocation_does_not_strand_the_run(tmp_path: Any) -> None:
    """The database goes away while the app is working; its answer is applied once the
    database is back, by the same engine process, without waiting for a lease to expire."""
    from conftest import free_port
    from durable_engine.db import migrate
    from durable_engine.pg import EmbeddedPostgres

    pg = EmbeddedPostgres(tmp_path / "pgdata", free_port())
    pg.start()
    entered, release = threading.Event(), threading.Event()

    def handler(event: dict[str, Any], step: Step) -> Any:
        def held() -> str:
            entered.set()
            release.wait(20)
            return "held"

        return [step.run("held", held), step.run("after", lambda: "after")]

    name = f"pgrestart.{uuid.uuid4().hex[:6]}"
    fn = DurableFunction(id="held", trigger={"event": name}, handler=handler, timeout="60s")
    handle = server = None
    try:
        migrate(pg.url)
        handle = EngineHandle(pg.url, lease_s=60).start()
        created, server = provision_served(handle.url, pg.url, name, [fn])
        client = CheckedClient(handle.url, created["id"], created["key"])
        client.sync([fn])
        run_id = client.send(name)["runIds"][0]
        assert entered.wait(10)
        pg.stop()
        pg.start()
        release.set()
        run = wait_for(lambda: (r := client.get_run(run_id))["status"] == "completed" and r, 30)
        assert run["output"] == ["held", "after"]
    finally:
        if handle is not None:
            handle.stop()
        if server is not None:
            server.close()
        pg.stop()


def test_priority_orders_due_work(database_url: str) -> None:
    """Decision 0008: due work is claimed by due_at - priority seconds."""
    order: list[str] = []
    name = f"prio.{uuid.uuid4().hex[:6]}"
    low = DurableFunction(id="low", trigger={"event": name}, priority=-600,
                          handler=lambda e, s: order.append("low"))
    high = DurableFunction(id="high", trigger={"event": name + ".high"}, priority=600,
                           handler=lambda e, s: order.append("high"))
    api_only = EngineHandle(database_url, workers=False).start()
    worker = None
    created, server = provision_served(api_only.url, database_url, name, [low, high])
    try:
        client = CheckedClient(api_only.url, created["id"], created["key"])
        client.sync([low, high])
        for _ in range(3):
            client.send(name)  # older, but low priority
        time.sleep(0.05)
        for _ in range(3):
            client.send(name + ".high")
        worker = EngineHandle(database_url, api=False, worker_slots=1).start()
        wait_for(lambda: len(order) == 6)
        assert order == ["high"] * 3 + ["low"] * 3
    finally:
        api_only.stop()
        if worker is not None:
            worker.stop()
        server.close()
