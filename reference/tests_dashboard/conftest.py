"""Fixtures of the dashboard's browser tests: a real Postgres (embedded), the engine in
production mode (login with the admin token) on a free loopback port, apps written with our
Python SDK, and Debian's chromium driven by Playwright (never a downloaded browser).
Screenshots go to reference/tests_dashboard/artifacts/."""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from durable import DurableFunction

_BASE = Path(__file__).resolve().parents[1] / "tests" / "conftest.py"
_spec = importlib.util.spec_from_file_location("durable_engine_test_fixtures", _BASE)
assert _spec is not None and _spec.loader is not None
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)

ADMIN_TOKEN = base.ADMIN_TOKEN
EngineHandle = base.EngineHandle
App = base.App
AppServer = base.AppServer
wait_for = base.wait_for
query = base.query
CHROMIUM = os.environ.get("DURABLE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

server_url = base.server_url
database_url = base.database_url


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Any]:
    handle = EngineHandle(database_url).start()  # production mode, admin token set
    yield handle
    handle.stop()


@pytest.fixture
def make_app(engine: Any) -> Iterator[Callable[..., Any]]:
    apps: list[Any] = []

    def make(functions: list[DurableFunction], **kwargs: Any) -> Any:
        app = App(engine, functions, **kwargs)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.console_errors = errors  # type: ignore[attr-defined]
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-end.png"), full_page=True)
    context.close()
    # the strict CSP held: nothing the pages do was refused by it
    assert not [e for e in errors if "Content Security Policy" in e], errors


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page: Any, engine: Any, token: str = ADMIN_TOKEN) -> None:
    page.goto(f"{engine.url}/login")
    page.fill("#token", token)
    page.click("button[type=submit]")


def event_name(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:6]}"
