"""The run page: the waterfall's split bars and labels, a waterfall growing live, rerun from a
step chosen in it, cancelling a sleeping run, event data shown as text."""

from __future__ import annotations

import time
from typing import Any

from conftest import event_name, login, shot
from durable import DurableFunction, Step
from playwright.sync_api import expect


def signup(name: str, attempts: list[int]) -> DurableFunction:
    def handler(event: dict[str, Any], step: Step) -> Any:
        user = step.run("load-user", lambda: (time.sleep(0.06), {"id": 7, "name": "Ada"})[1])

        def charge() -> dict[str, Any]:
            attempts.append(1)
            if len(attempts) == 1:
                raise RuntimeError("card declined")
            return {"charged": 42}

        step.run("charge-card", charge)
        step.run("send-email", lambda: {"to": user["name"]})
        return {"ok": True}

    return DurableFunction(id="signup", trigger={"event": name}, handler=handler, retries=2)


def napper(name: str) -> DurableFunction:
    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("prepare", lambda: "ready")
        step.sleep("cooldown", "2d")
        return "woke"

    return DurableFunction(id="napper", trigger={"event": name}, handler=handler)


def slow(name: str) -> DurableFunction:
    def handler(event: dict[str, Any], step: Step) -> Any:
        for i in range(5):
            step.run(f"chunk-{i}", lambda i=i: (time.sleep(0.7), i)[1])
        return "done"

    return DurableFunction(id="slow", trigger={"event": name}, handler=handler)


def bars(page: Any, step: str) -> dict[str, float]:
    """{segment kind: ms} of one waterfall row, read from the page."""
    row = page.locator(f".wf-row[data-step='{step}']")
    return {r.get_attribute("data-kind"): float(r.get_attribute("data-ms"))
            for r in row.locator("rect").all()}


def test_the_waterfall_splits_durable_and_app_time_and_reruns_from_a_step(
        page: Any, engine: Any, make_app: Any) -> None:
    name, attempts = event_name("signup"), []
    app = make_app([signup(name, attempts)])
    run_id = app.run_of(app.send(name, {"email": "ada@example.com"}))
    assert app.wait_run(run_id)["status"] == "completed"
    login(page, engine)
    page.goto(f"{engine.url}/ws/{app.id}/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("completed")
    rows = page.locator(".wf-row")
    expect(rows).to_have_count(3)
    load = bars(page, "load-user")
    assert load["app"] >= 55, load  # the app's 60 ms are app time
    assert "queued" in load and load["queued"] >= 0  # the time before the call is durable
    label = page.locator(".wf-row[data-step='load-user'] .wf-text").inner_text()
    assert label.startswith("load-user ") and label.endswith("ms"), label
    assert 55 <= float(label.split()[1].removesuffix("ms")) < 1000, label
    # the charge failed once: the failed attempt is app time, its backoff durable time
    charge = bars(page, "charge-card")
    assert {"failed", "retry", "app"} <= set(charge), charge
    assert charge["retry"] >= 20, charge  # the backoff: 50 ms · U[0.5, 1] (decision 0006)
    attempts_table = page.locator("table.attempts")
    expect(attempts_table).to_contain_text("card declined")
    expect(page.locator("#run-output")).to_contain_text('"ok": true')
    shot(page, "waterfall")
    page.locator(".wf-row[data-step='charge-card'] summary").click()
    expect(page.locator(".wf-row[data-step='charge-card'] pre")).to_contain_text('"charged": 42')

    # rerun from send-email: the new run keeps load-user and charge-card, runs send-email
    page.locator(".wf-row[data-step='send-email'] button").click()
    link = page.locator("#flash a")
    expect(link).to_be_visible()
    expect(page.locator("#flash")).to_contain_text("from step send-email")
    new_id = link.inner_text()
    assert new_id != run_id
    link.click()
    expect(page.locator("#run-status")).to_have_text("completed", timeout=15_000)
    expect(page.locator(".wf-row.copied")).to_have_count(2)
    expect(page.locator(".wf-row[data-step='send-email']")).not_to_have_class("copied")
    assert len(attempts) == 2  # charge-card was not run again


def test_a_sleeping_run_shows_its_nap_and_is_cancelled_from_the_page(
        page: Any, engine: Any, make_app: Any) -> None:
    name = event_name("nap")
    app = make_app([napper(name)])
    run_id = app.run_of(app.send(name))
    app.wait_run(run_id, ("sleeping",))
    login(page, engine)
    page.goto(f"{engine.url}/ws/{app.id}/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("sleeping")
    expect(page.locator(".wf-row[data-step='cooldown'] .wf-text")).to_have_text("cooldown 2d")
    nap = bars(page, "cooldown")
    assert nap["sleeping"] >= 2 * 86400_000 - 5000, nap  # the nap is durable time
    shot(page, "sleeping")
    page.click("#cancel-run")
    expect(page.locator("#flash")).to_contain_text("Run cancelled")
    expect(page.locator("#run-status")).to_have_text("cancelled", timeout=10_000)  # live
    assert app.client.get_run(run_id)["status"] == "cancelled"
    expect(page.locator("#cancel-run")).to_have_count(0)


def test_a_running_runs_waterfall_grows_live(page: Any, engine: Any, make_app: Any) -> None:
    name = event_name("slow")
    app = make_app([slow(name)])
    login(page, engine)
    run_id = app.run_of(app.send(name))
    page.goto(f"{engine.url}/ws/{app.id}/runs/{run_id}")
    page.evaluate("window.__notReloaded = true")
    first = page.locator(".wf-row").count()
    assert first < 5
    expect(page.locator(".wf-row")).to_have_count(5, timeout=20_000)
    expect(page.locator("#run-status")).to_have_text("completed", timeout=10_000)
    assert page.evaluate("window.__notReloaded") is True
    seen = page.locator(".wf-row .wf-text").all_inner_texts()
    assert [s.split()[0] for s in seen] == [f"chunk-{i}" for i in range(5)]


def test_event_data_and_outputs_are_shown_as_text(page: Any, engine: Any,
                                                  make_app: Any) -> None:
    payload = "<script>window.__xss = 1</script><img src=x onerror=window.__xss=2>"

    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("render-<b>bold</b>", lambda: {"html": payload})
        return payload

    name = event_name("xss")
    app = make_app([DurableFunction(id="xss", trigger={"event": name}, handler=handler)])
    run_id = app.run_of(app.send(name, {"comment": payload}))
    app.wait_run(run_id)
    login(page, engine)
    page.goto(f"{engine.url}/ws/{app.id}/runs/{run_id}")
    expect(page.locator("#run-event")).to_contain_text(payload)
    expect(page.locator("#run-output")).to_contain_text("<script>")
    page.locator(".wf-row summary").first.click()
    expect(page.locator(".wf-row pre").first).to_contain_text(payload)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    assert page.locator("#run-event script, #run-event img").count() == 0
    csp = page.evaluate("fetch(location.href).then(r => r.headers.get('content-security-policy'))")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    shot(page, "xss-as-text")


def test_a_wait_for_an_event_is_durable_time_labelled_with_its_length(
        page: Any, engine: Any, make_app: Any) -> None:
    name = event_name("approve")

    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("request", lambda: "sent")
        approval = step.wait_for_event("await-approval", event=f"{name}.ok", timeout="4h")
        return {"approved": approval is not None}

    app = make_app([DurableFunction(id="approver", trigger={"event": name}, handler=handler)])
    run_id = app.run_of(app.send(name))
    app.wait_run(run_id, ("waiting",))
    login(page, engine)
    page.goto(f"{engine.url}/ws/{app.id}/runs/{run_id}")
    parked = page.locator(".wf-row[data-step='await-approval']")
    expect(parked.locator(".wf-text")).to_contain_text(f"(for {name}.ok)")  # still parked
    expect(parked).to_have_class("wf-row pending")
    time.sleep(1.2)
    app.send(f"{name}.ok", {"by": "ada"})
    expect(page.locator("#run-status")).to_have_text("completed", timeout=15_000)  # live
    expect(parked.locator(".wf-text")).not_to_contain_text("(for")
    waited = bars(page, "await-approval")
    assert set(waited) == {"waiting"} and 1100 <= waited["waiting"] < 10_000, waited
    label = parked.locator(".wf-text").inner_text()
    assert label.startswith("await-approval ") and label.endswith("s"), label
    assert 1.1 <= float(label.split()[1].removesuffix("s")) < 10, label
    parked.locator("summary").click()
    expect(parked.locator("pre")).to_contain_text('"ada"')
