"""A run advanced by another `durable worker` process shows live (the page's engine only
takes events; LISTEN/NOTIFY brings the other process's changes), and dev mode is open on
localhost with a banner."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import App, EngineHandle, event_name, login, shot
from durable import DurableFunction, Step
from playwright.sync_api import expect


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Any]:
    handle = EngineHandle(database_url, workers=False).start()  # API and pages, no workers
    yield handle
    handle.stop()


@pytest.fixture
def worker(database_url: str) -> Iterator[subprocess.Popen[str]]:
    env = {**os.environ, "DATABASE_URL": database_url, "DURABLE_LOG": "warning"}
    process = subprocess.Popen(
        [sys.executable, "-m", "durable_engine.cli", "worker", "--prod", "--port", "0",
         "--retention", "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    yield process
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def test_a_run_advanced_by_another_worker_process_updates_live(
        page: Any, engine: Any, worker: subprocess.Popen[str]) -> None:
    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("first", lambda: os.getpid())
        time.sleep(1.5)
        step.run("second", lambda: os.getpid())
        return "done"

    name = event_name("far")
    app = App(engine, [DurableFunction(id="far", trigger={"event": name}, handler=handler)])
    try:
        login(page, engine)
        page.goto(f"{engine.url}/ws/{app.id}/runs")
        page.wait_for_timeout(300)
        run_id = app.run_of(app.send(name))
        row = page.locator(f"#run-{run_id}")
        # this engine runs nothing: running and completed are the worker process's writes
        expect(row.locator(".badge")).to_have_text("running", timeout=10_000)
        expect(row.locator(".badge")).to_have_text("completed", timeout=30_000)
        assert worker.poll() is None
        row.locator("a").click()
        expect(page.locator(".wf-row")).to_have_count(2)
        shot(page, "worker-process-run")
    finally:
        app.close()


def test_dev_mode_is_open_on_localhost_with_a_banner(database_url: str, browser: Any) -> None:
    dev = EngineHandle(database_url, dev=True, admin_token=None, workers=False).start()
    try:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{dev.url}/")
        expect(page.locator("h1")).to_have_text("Workspaces")  # no login
        expect(page.locator(".banner")).to_contain_text("Dev mode")
        context.close()
    finally:
        dev.stop()
