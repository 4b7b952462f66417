"""Fixtures for the regression tests: a real Postgres, engines through the `durable` CLI, and
an app whose answers the test holds back to create the fault at an exact moment."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from durable import Client, DurableFunction, provision_app
from durable_faults.app import FaultyApp
from durable_faults.cluster import ADMIN_TOKEN, EngineProcess, Postgres, migrate


@pytest.fixture
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="durable-faults-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def postgres(base: Path) -> Iterator[Postgres]:
    # Always embedded: these tests restart it.
    pg = Postgres(base, None)
    pg.start()
    migrate(pg.url, base / "migrate.log")
    yield pg
    pg.close()


@pytest.fixture
def serve(postgres: Postgres, base: Path) -> Iterator[EngineProcess]:
    engine = EngineProcess("serve", postgres.url, base / "serve.log", slots=4)
    engine.start()
    engine.wait_ready()
    yield engine
    engine.stop()


class Gate:
    """Holds the app's answers: `arrived` is set when a request comes in, the answer is sent
    only after `release`."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.calls = 0

    def hold(self) -> None:
        self.calls += 1
        self.arrived.set()
        self.released.wait(60)


class HeldApp(FaultyApp):
    def __init__(self, functions: list[DurableFunction], gate: Gate) -> None:
        super().__init__(functions, 0.0, 0)
        self.gate = gate

    def answer(self, method: str, headers: dict[str, str], body: bytes) -> Any:
        if method == "POST" and self.gate.calls == 0:
            self.gate.hold()
        return super().answer(method, headers, body)


@pytest.fixture
def held_app(serve: EngineProcess) -> Iterator[Callable[..., tuple[Client, Gate]]]:
    apps: list[HeldApp] = []

    def make(timeout_ms: int) -> tuple[Client, Gate]:
        gate = Gate()
        function = DurableFunction(
            id="held", trigger={"event": "held/go"}, retries=3, timeout=timeout_ms,
            handler=lambda event, step: step.run("s0", lambda: "done"))
        app = HeldApp([function], gate)
        app.start()
        apps.append(app)
        created = provision_app(base_url=serve.base_url, name=f"held-{uuid.uuid4().hex[:6]}",
                                app_url=app.url, environment="test", admin_token=ADMIN_TOKEN)
        app.signing_key = created["key"]
        client = Client(serve.base_url, created["id"], created["key"], timeout=5)
        client.sync(app.functions)
        return client, gate

    yield make
    for app in apps:
        app.gate.released.set()
        app.close()


def wait_status(client: Client, run_id: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    status = "?"
    while time.monotonic() < deadline:
        try:
            status = client.get_run(run_id)["status"]
        except Exception:  # noqa: BLE001 - the engine may be coming back
            status = "unreachable"
        if status in ("completed", "failed", "cancelled"):
            return status
        time.sleep(0.5)
    return status
