"""Login, the workspaces grid and the live runs list, in Debian's chromium."""

from __future__ import annotations

import time
from typing import Any

from conftest import ADMIN_TOKEN, event_name, login, shot
from durable import DurableFunction, Step
from playwright.sync_api import expect


def greeter(name: str) -> DurableFunction:
    def handler(event: dict[str, Any], step: Step) -> Any:
        user = step.run("load-user", lambda: (time.sleep(0.06), {"id": 7})[1])
        time.sleep(0.8)  # the run stays running long enough to be seen running
        step.run("send-email", lambda: {"sent": True, "to": user["id"]})
        return {"greeted": user["id"]}

    return DurableFunction(id="greet", trigger={"event": name}, handler=handler)


def test_a_wrong_token_is_refused_and_the_right_one_logs_in(page: Any, engine: Any) -> None:
    page.goto(f"{engine.url}/")
    expect(page).to_have_url(f"{engine.url}/login")
    started = time.monotonic()
    login(page, engine, "not-the-token")
    expect(page.locator("[role=alert]")).to_contain_text("not right")
    assert page.context.cookies() == []  # no session for a wrong token
    login(page, engine, "still-wrong")
    expect(page.locator("[role=alert]")).to_contain_text("not right")
    assert time.monotonic() - started >= 1.5  # 0.5 s then 1 s: wrong tokens are slowed down
    login(page, engine, ADMIN_TOKEN)
    expect(page.locator("h1")).to_have_text("Workspaces")
    cookie = next(c for c in page.context.cookies() if c["name"] == "durable_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert ADMIN_TOKEN not in page.content()
    assert ADMIN_TOKEN not in cookie["value"]
    page.click("text=Log out")
    expect(page).to_have_url(f"{engine.url}/login")
    page.goto(f"{engine.url}/")
    expect(page).to_have_url(f"{engine.url}/login")


def test_a_run_appears_and_finishes_without_reloading(page: Any, engine: Any,
                                                      make_app: Any) -> None:
    name = event_name("greet")
    app = make_app([greeter(name)])
    login(page, engine)
    page.goto(f"{engine.url}/ws/{app.id}/runs")
    expect(page.locator("#runs tr")).to_have_count(0)
    page.wait_for_timeout(300)  # the stream is open
    page.evaluate("window.__notReloaded = true")
    run_id = app.run_of(app.send(name, {"who": "ada"}))
    row = page.locator(f"#run-{run_id}")
    expect(row).to_be_visible(timeout=10_000)
    expect(row.locator(".badge")).to_have_text("running", timeout=10_000)
    shot(page, "runs-live")
    expect(row.locator(".badge")).to_have_text("completed", timeout=15_000)
    assert page.evaluate("window.__notReloaded") is True  # the same document all along
    expect(row).to_contain_text(name)
    shot(page, "runs-completed")


def test_a_status_filtered_list_gains_runs_reaching_the_status_live(
        page: Any, engine: Any, make_app: Any) -> None:
    name = event_name("greet")
    app = make_app([greeter(name)])
    login(page, engine)
    page.goto(f"{engine.url}/ws/{app.id}/runs?status=completed")
    expect(page.locator("#runs tr")).to_have_count(0)
    run_id = app.run_of(app.send(name))
    app.wait_run(run_id, ("running",))
    page.wait_for_timeout(300)
    expect(page.locator(f"#run-{run_id}")).to_have_count(0)  # running: not listed
    row = page.locator(f"#run-{run_id}")
    expect(row.locator(".badge")).to_have_text("completed", timeout=15_000)
    expect(page.locator("#runs tr")).to_have_count(1)
