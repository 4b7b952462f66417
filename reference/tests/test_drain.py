"""Graceful drain and scale-out with real `durable worker` processes on one Postgres: SIGTERM
lets in-flight invocations finish up to --drain-timeout, releases the rest and exits 0; a
restart loses nothing and repeats no committed step; two workers share the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import App, EngineHandle, query, wait_for
from durable import DurableFunction, Step


class Worker:
    """`durable worker` as a child process, its output in a file (no pipe to fill)."""

    def __init__(self, database_url: str, log: Path, *args: str) -> None:
        self.log = log
        env = {**os.environ, "DURABLE_LOG": "WARNING"}
        env.pop("DATABASE_URL", None)
        self.handle = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "durable_engine.cli", "worker", "--database-url",
             database_url, "--retention", "0", *args],
            env=env, stdout=self.handle, stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: "workers:" in self.output() or self.process.poll() is not None, 60)
        assert self.process.poll() is None, self.output()

    def output(self) -> str:
        return self.log.read_text()

    def terminate(self, timeout: float = 30) -> tuple[int, float]:
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.handle.close()


@pytest.fixture(scope="module")
def api_engine(database_url: str) -> Iterator[EngineHandle]:
    """The engine API only: every invocation in this module is made by worker processes."""
    handle = EngineHandle(database_url, workers=False).start()
    yield handle
    handle.stop()


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator[Any]:
    started: list[Worker] = []

    def start(*args: str) -> Worker:
        worker = Worker(database_url, tmp_path / f"worker-{len(started)}.log", *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


def _three_steps(name: str, slow_s: list[float], calls: dict[str, int],
                 entered: threading.Event) -> DurableFunction:
    lock = threading.Lock()

    def count(step_id: str) -> None:
        with lock:
            calls[step_id] = calls.get(step_id, 0) + 1

    def slow() -> str:
        count("slow")
        entered.set()
        time.sleep(slow_s.pop(0) if slow_s else 0)
        return "slow"

    def handler(event: dict[str, Any], step: Step) -> Any:
        a = step.run("a", lambda: count("a") or "a")
        s = step.run("slow", slow)
        c = step.run("c", lambda: count("c") or "c")
        return [a, s, c]

    return DurableFunction(id=name, trigger={"event": name}, handler=handler)


def test_sigterm_lets_the_in_flight_invocation_finish_then_exits_0(
        api_engine: EngineHandle, workers: Any, database_url: str) -> None:
    calls: dict[str, int] = {}
    entered = threading.Event()
    name = f"drain-{uuid.uuid4().hex[:6]}"
    app = App(api_engine, [_three_steps(name, [1.5], calls, entered)])
    try:
        first = workers("--workers", "2", "--drain-timeout", "10s")
        run_id = app.run_of(app.send(name))
        assert entered.wait(20)
        code, took = first.terminate()
        assert code == 0, first.output()
        assert 1.0 <= took < 10, took  # it waited for the slow step, not for the deadline
        assert "draining" in first.output()
        steps = [r["step_id"] for r in query(
            database_url, "SELECT step_id FROM steps WHERE run_id = %s ORDER BY position",
            run_id)]
        assert steps == ["a", "slow"]  # the in-flight answer was committed during the drain
        lease = query(database_url, "SELECT lease_token FROM queue WHERE run_id = %s", run_id)
        assert lease == [{"lease_token": None}]  # released at once, not left to expire
        workers("--workers", "2")  # the deploy's new process
        run = app.wait_run(run_id, timeout=30)
        assert run["output"] == ["a", "slow", "c"]
        assert calls == {"a": 1, "slow": 1, "c": 1}  # nothing lost, nothing repeated
    finally:
        app.close()


def test_drain_deadline_releases_unfinished_work_for_the_next_process(
        api_engine: EngineHandle, workers: Any, database_url: str) -> None:
    calls: dict[str, int] = {}
    entered = threading.Event()
    name = f"deadline-{uuid.uuid4().hex[:6]}"
    app = App(api_engine, [_three_steps(name, [30.0], calls, entered)])
    try:
        first = workers("--workers", "2", "--drain-timeout", "1s")
        run_id = app.run_of(app.send(name))
        assert entered.wait(20)
        code, took = first.terminate()
        assert code == 0, first.output()
        assert took < 8, took  # the deadline, not the 30 s step
        assert query(database_url, "SELECT lease_token FROM queue WHERE run_id = %s",
                     run_id) == [{"lease_token": None}]
        second = workers("--workers", "2")
        run = app.wait_run(run_id, timeout=30)
        assert run["output"] == ["a", "slow", "c"]
        # The committed step ran once; the step cut off by the deadline ran again.
        assert calls == {"a": 1, "slow": 2, "c": 1}
        assert second.process.poll() is None
    finally:
        app.close()


def test_two_worker_processes_share_the_work_without_a_coordinator(
        api_engine: EngineHandle, workers: Any) -> None:
    lock = threading.Lock()
    active = {"now": 0, "most": 0}
    executed: dict[str, int] = {}

    def busy(key: str) -> str:
        with lock:
            executed[key] = executed.get(key, 0) + 1
            active["now"] += 1
            active["most"] = max(active["most"], active["now"])
        time.sleep(0.25)
        with lock:
            active["now"] -= 1
        return key

    def handler(event: dict[str, Any], step: Step) -> Any:
        n = event["data"]["n"]
        return [step.run("one", lambda: busy(f"{n}:one")),
                step.run("two", lambda: busy(f"{n}:two"))]

    name = f"scale-{uuid.uuid4().hex[:6]}"
    app = App(api_engine, [DurableFunction(id=name, trigger={"event": name}, handler=handler)])
    try:
        # Two slots each: more than two steps at once proves both processes were invoking.
        workers("--workers", "2")
        workers("--workers", "2")
        started = time.monotonic()
        run_ids = [app.run_of(app.send(name, {"n": n})) for n in range(16)]
        outputs = [app.wait_run(r, timeout=60)["output"] for r in run_ids]
        took = time.monotonic() - started
        assert outputs == [[f"{n}:one", f"{n}:two"] for n in range(16)]
        assert all(count == 1 for count in executed.values()) and len(executed) == 32
        assert 2 < active["most"] <= 4, active
        assert took < 32 * 0.25  # faster than one slot at a time
    finally:
        app.close()
