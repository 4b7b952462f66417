"""The metrics page: the window's totals from the metrics read model, and uPlot charts drawn
by the page's own script under the strict CSP (no inline script, no console error), for the
last hour, day and week."""

from __future__ import annotations

import time
from typing import Any

from conftest import event_name, login, shot
from durable import DurableFunction, Step
from playwright.sync_api import expect


def test_the_metrics_page_charts_runs_step_times_and_backlog(
        page: Any, engine: Any, make_app: Any) -> None:
    ok, bad = event_name("charted"), event_name("broken")

    def work(event: dict[str, Any], step: Step) -> Any:
        step.run("load", lambda: (time.sleep(0.02), 1)[1])
        return step.run("save", lambda: 2)

    def fail(event: dict[str, Any], step: Step) -> Any:
        def boom() -> None:
            raise RuntimeError("no")

        step.run("boom", boom)

    app = make_app([DurableFunction(id="charted", trigger={"event": ok}, handler=work),
                    DurableFunction(id="broken", trigger={"event": bad}, handler=fail,
                                    retries=0)])
    runs = [app.run_of(app.send(ok)) for _ in range(3)] + [app.run_of(app.send(bad))]
    for run_id in runs:
        app.wait_run(run_id)

    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    login(page, engine)
    page.goto(f"{engine.url}/ws/{app.id}/runs")
    page.click("nav.crumbs >> text=Metrics")
    expect(page).to_have_url(f"{engine.url}/ws/{app.id}/metrics")
    expect(page.locator("#total-started")).to_have_text("4")
    expect(page.locator("#total-completed")).to_have_text("3")
    expect(page.locator("#total-failed")).to_have_text("1")
    for chart in ("runs", "backlog", "app", "durable"):
        drawn = page.locator(f"#chart-{chart}[data-points='60'] .uplot canvas")
        expect(drawn).to_have_count(1)
        box = drawn.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100
    legend = page.locator("#chart-runs .u-legend")
    expect(legend).to_contain_text("started")
    expect(legend).to_contain_text("failed")
    shot(page, "metrics-hour")

    page.click("#window-day")
    expect(page.locator("#chart-runs[data-points='144'] .uplot canvas")).to_have_count(1)
    page.select_option("#function", "broken")
    page.click("form.row-form button[type=submit]")
    expect(page.locator("#total-started")).to_have_text("1")
    expect(page.locator("#total-failed")).to_have_text("1")
    expect(page.locator("#chart-app[data-points='144'] .uplot canvas")).to_have_count(1)
    page.click("#window-week")
    expect(page.locator("#chart-backlog[data-points='168'] .uplot canvas")).to_have_count(1)
    expect(page.locator("#total-started")).to_have_text("1")  # the function choice stays
    shot(page, "metrics-week")
    assert missing == [], missing
    assert page.console_errors == []  # no CSP violation, no script error
