"""The runs list's filters (status, function, event name, time range, run id) and cursor
paging, in the browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import event_name, login, shot
from durable import DurableFunction, Step
from playwright.sync_api import expect


def test_filters_and_cursor_paging(page: Any, engine: Any, make_app: Any) -> None:
    def quick(event: dict[str, Any], step: Step) -> Any:
        return step.run("one", lambda: 1)

    def boom(event: dict[str, Any], step: Step) -> Any:
        raise RuntimeError("no")

    a, b = event_name("order"), event_name("refund")
    app = make_app([DurableFunction(id="orders", trigger={"event": a}, handler=quick),
                    DurableFunction(id="refunds", trigger={"event": b}, handler=boom,
                                    retries=0)])
    before = datetime.now(UTC) - timedelta(seconds=1)
    orders = [app.run_of(app.send(a, {"n": n})) for n in range(52)]
    refunds = [app.run_of(app.send(b)) for _ in range(2)]
    for run_id in orders[-1:] + refunds:
        app.wait_run(run_id)
    login(page, engine)
    page.goto(f"{engine.url}/ws/{app.id}/runs")
    expect(page.locator("#runs tr")).to_have_count(50)
    expect(page.locator("#live-state")).to_have_text("live")
    page.click("#next-page")
    expect(page.locator("#runs tr")).to_have_count(4)  # 54 runs: 50 + 4, newest first
    expect(page.locator("#live-state")).to_contain_text("not live")
    assert page.locator(f"#run-{orders[0]}").count() == 1  # the oldest is on page two

    page.goto(f"{engine.url}/ws/{app.id}/runs?event={b}")
    expect(page.locator("#runs tr")).to_have_count(2)
    page.goto(f"{engine.url}/ws/{app.id}/runs")
    page.select_option("select[name=status]", "failed")
    page.click("button:has-text('Filter')")
    expect(page.locator("#runs tr")).to_have_count(2)
    expect(page.locator("#runs")).to_contain_text("refunds")
    page.goto(f"{engine.url}/ws/{app.id}/runs?function=orders&run={orders[7][:13]}")
    expect(page.locator("#runs tr")).to_have_count(1)
    expect(page.locator(f"#run-{orders[7]}")).to_be_visible()
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    page.goto(f"{engine.url}/ws/{app.id}/runs?from={future}")
    expect(page.locator("#runs tr")).to_have_count(0)
    expect(page.locator("#no-runs")).to_be_visible()
    page.goto(f"{engine.url}/ws/{app.id}/runs?from={before.strftime('%Y-%m-%dT%H:%M:%S')}"
              f"&function=refunds")
    expect(page.locator("#runs tr")).to_have_count(2)
    shot(page, "runs-filtered")
    page.goto(f"{engine.url}/ws/{app.id}/runs?from=yesterday")
    expect(page.locator("main")).to_contain_text("from must be a date and time")
