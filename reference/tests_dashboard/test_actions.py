"""Actions: a production action acts only on the second, confirming request (enforced by the
server), CSRF, the workspaces grid (create, key shown once, rotate and retire), bulk actions,
the failures view's retry, the functions page."""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ADMIN_TOKEN, AppServer, EngineHandle, event_name, login, query, shot, wait_for
from durable import Client, DurableFunction, Step, provision_app, wsgi
from playwright.sync_api import expect


def napper(name: str) -> DurableFunction:
    def handler(event: dict[str, Any], step: Step) -> Any:
        step.run("prepare", lambda: "ready")
        step.sleep("cooldown", "2d")

    return DurableFunction(id="napper", trigger={"event": name}, handler=handler)


class ProdApp:
    """A workspace in the `prod` environment with its app on our SDK."""

    def __init__(self, engine: Any, functions: list[DurableFunction]) -> None:
        created = provision_app(base_url=engine.url, name=f"shop-{uuid.uuid4().hex[:6]}",
                                app_url="http://127.0.0.1:1/x", environment="prod",
                                admin_token=ADMIN_TOKEN)
        self.id, self.key = created["id"], created["key"]
        self.server = AppServer(wsgi(functions, signing_key=self.key))
        query(engine.config.database_url, "UPDATE workspaces SET app_url = %s WHERE id = %s "
              "RETURNING id", self.server.url, self.id)
        self.client = Client(engine.url, self.id, self.key, timeout=10)
        self.client.sync(functions)

    def status(self, run_id: str) -> str:
        return str(self.client.get_run(run_id)["status"])


@pytest.fixture
def prod_app(engine: Any) -> Iterator[Any]:
    apps: list[ProdApp] = []

    def make(functions: list[DurableFunction]) -> ProdApp:
        apps.append(ProdApp(engine, functions))
        return apps[-1]

    yield make
    for app in apps:
        app.server.close()


def test_a_production_action_acts_only_on_the_confirming_second_click(
        page: Any, engine: Any, prod_app: Any) -> None:
    name = event_name("nap")
    app = prod_app([napper(name)])
    run_id = app.client.send(name, {})["runIds"][0]
    wait_for(lambda: app.status(run_id) == "sleeping", 15)
    login(page, engine)
    page.goto(f"{engine.url}/ws/{app.id}/runs/{run_id}")
    expect(page.locator("header .env-prod")).to_have_text("prod")
    page.click("#cancel-run")
    expect(page.locator("#flash .confirm")).to_contain_text("Production workspace")
    shot(page, "prod-confirm")
    time.sleep(0.5)
    assert app.status(run_id) == "sleeping"  # the first click did nothing

    # a script replaying the first request (no confirmation token) does nothing either
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    answer = post(f"{engine.url}/ws/{app.id}/runs/{run_id}/cancel", {"csrf": csrf}, cookies)
    assert "Confirm" in answer and app.status(run_id) == "sleeping"
    # nor one with a made-up or another action's token
    token = page.locator("#flash input[name=confirm]").get_attribute("value")
    post(f"{engine.url}/ws/{app.id}/runs/{run_id}/rerun", {"csrf": csrf, "confirm": token,
                                                          "key": "k1"}, cookies)
    assert query(engine.config.database_url, "SELECT count(*) AS n FROM runs WHERE rerun_of = %s",
                 run_id)[0]["n"] == 0

    # the page's own second click carried a token the rerun attempt used up: ask again, and
    # confirm on the new prompt (the old one, with the used token, is on the page until the
    # new one replaces it)
    page.click("#cancel-run")
    expect(page.locator("#flash input[name=confirm]")).not_to_have_value(token or "")
    expect(page.locator("#confirm-action")).to_be_visible()
    page.click("#confirm-action")
    expect(page.locator("#flash")).to_contain_text("Run cancelled")
    assert app.status(run_id) == "cancelled"
    expect(page.locator("#run-status")).to_have_text("cancelled", timeout=10_000)


def post(url: str, form: dict[str, str], cookies: str, origin: str | None = None) -> str:
    data = urllib.parse.urlencode(form).encode()
    headers = {"Cookie": cookies, "Content-Type": "application/x-www-form-urlencoded"}
    if origin:
        headers["Origin"] = origin
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError as error:
        return f"{error.code} {error.read().decode()}"


def test_a_state_change_without_the_csrf_token_or_from_another_origin_is_refused(
        page: Any, engine: Any, make_app: Any) -> None:
    name = event_name("nap")
    app = make_app([napper(name)])
    run_id = app.run_of(app.send(name))
    app.wait_run(run_id, ("sleeping",))
    login(page, engine)
    page.goto(f"{engine.url}/ws/{app.id}/runs")
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    url = f"{engine.url}/ws/{app.id}/runs/{run_id}/cancel"
    assert post(url, {}, cookies).startswith("403")
    assert post(url, {"csrf": "forged"}, cookies).startswith("403")
    assert post(url, {"csrf": csrf}, cookies, origin="http://evil.example").startswith("403")
    assert post(url, {"csrf": csrf}, "").startswith("401")  # no session
    assert app.client.get_run(run_id)["status"] == "sleeping"
    assert "Run cancelled" in post(url, {"csrf": csrf}, cookies)
    assert app.client.get_run(run_id)["status"] == "cancelled"


def test_workspaces_grid_creates_a_workspace_and_shows_its_key_once(
        page: Any, engine: Any, prod_app: Any) -> None:
    prod_app([])
    login(page, engine)
    name = f"billing-{uuid.uuid4().hex[:6]}"
    page.fill("input[name=name]", name)
    page.fill("input[name=environment]", "staging")
    page.fill("input[name=appUrl]", "http://127.0.0.1:9/api/durable")
    page.click("button:has-text('Create')")
    key = page.locator("#secret").inner_text()
    assert key.startswith("signkey_") and len(key) == 8 + 64
    page.reload()
    assert key not in page.content()  # shown once
    cell = page.locator(".ws", has_text=name)
    expect(cell).to_contain_text("1 active key")
    expect(page.locator(".ws.prod").first).to_be_visible()  # prod stands out
    shot(page, "workspaces")
    cell.locator("text=Rotate key").click()
    new_key = page.locator("#secret").inner_text()
    assert new_key.startswith("signkey_") and new_key != key
    page.reload()
    cell = page.locator(".ws", has_text=name)
    expect(cell).to_contain_text("2 active keys")
    cell.locator("text=Retire old key").click()
    expect(page.locator("#flash")).to_contain_text("retired")
    page.reload()
    expect(page.locator(".ws", has_text=name)).to_contain_text("1 active key")


def test_bulk_cancel_and_rerun_by_filter_and_retry_from_failures(
        page: Any, engine: Any, make_app: Any) -> None:
    nap, boom = event_name("nap"), event_name("boom")

    def broken(event: dict[str, Any], step: Step) -> Any:
        if not event["data"].get("fixed"):
            raise RuntimeError("boom <b>not bold</b>")
        return "ok"

    app = make_app([napper(nap), DurableFunction(id="broken", trigger={"event": boom},
                                                 handler=broken, retries=0)])
    sleepers = [app.run_of(app.send(nap)) for _ in range(3)]
    failed = app.run_of(app.send(boom))
    for run_id in sleepers:
        app.wait_run(run_id, ("sleeping",))
    app.wait_run(failed, ("failed",))
    login(page, engine)
    page.goto(f"{engine.url}/ws/{app.id}/runs?status=sleeping")
    expect(page.locator("#runs tr")).to_have_count(3)
    page.click("text=Cancel all matching")
    expect(page.locator("#flash")).to_contain_text("3 run(s) cancelled")
    expect(page.locator("#runs tr")).to_have_count(0, timeout=10_000)  # rows leave live
    assert {app.client.get_run(r)["status"] for r in sleepers} == {"cancelled"}

    page.goto(f"{engine.url}/ws/{app.id}/runs?function=napper")
    page.click("text=Rerun all matching")
    expect(page.locator("#flash")).to_contain_text("3 rerun(s) started")
    expect(page.locator("#runs tr")).to_have_count(6, timeout=10_000)  # new rows live

    page.goto(f"{engine.url}/ws/{app.id}/failures")
    expect(page.locator("table.attempts")).to_contain_text("boom <b>not bold</b>")
    shot(page, "failures")
    page.click("button:has-text('Retry')")
    expect(page.locator("#flash")).to_contain_text("back on the queue")
    # the retry ran the handler again (and it failed again)
    wait_for(lambda: query(engine.config.database_url, "SELECT count(*) AS n FROM deliveries "
                           "WHERE run_id = %s AND error IS NOT NULL", failed)[0]["n"] >= 2, 15)
    wait_for(lambda: app.client.get_run(failed)["status"] == "failed", 15)


def test_functions_page_shows_versions_triggers_rules_and_next_cron_fire(
        page: Any, engine: Any, make_app: Any) -> None:
    def noop(event: dict[str, Any], step: Step) -> Any:
        return 1

    app = make_app([
        DurableFunction(id="nightly", trigger={"cron": "0 3 * * *"}, handler=noop),
        DurableFunction(id="limited", trigger={"event": event_name("lim")}, handler=noop,
                        concurrency={"limit": 2}, version="v2"),
    ])
    login(page, engine)
    page.goto(f"{engine.url}/ws/{app.id}/functions")
    nightly = page.locator("#fn-nightly")
    expect(nightly).to_contain_text("cron 0 3 * * *")
    expect(nightly).to_contain_text("03:00:00")
    limited = page.locator("#fn-limited")
    expect(limited).to_contain_text("limited@v2")
    expect(limited).to_contain_text("concurrency")
    shot(page, "functions")


def test_a_confirmation_from_one_engine_process_is_honoured_once_by_another(
        engine: Any, prod_app: Any) -> None:
    """Behind a load balancer the second click may reach another process: the confirmation
    lives in Postgres, is single use, and is bound to the visitor and the action."""
    name = event_name("nap")
    app = prod_app([napper(name)])
    run_id = app.client.send(name, {})["runIds"][0]
    wait_for(lambda: app.status(run_id) == "sleeping", 15)
    other = EngineHandle(engine.config.database_url, workers=False).start()
    try:
        cookie, csrf = http_login(engine.url)
        cancel = f"/ws/{app.id}/runs/{run_id}/cancel"
        first = post(engine.url + cancel, {"csrf": csrf}, cookie)
        token = first.split('name="confirm" value="', 1)[1].split('"', 1)[0]
        assert app.status(run_id) == "sleeping"
        # another visitor (a second session) cannot use it
        other_cookie, other_csrf = http_login(other.url)
        post(other.url + cancel, {"csrf": other_csrf, "confirm": token}, other_cookie)
        assert app.status(run_id) == "sleeping"
        # that attempt used it up: a fresh one, carried to the other process, acts
        first = post(engine.url + cancel, {"csrf": csrf}, cookie)
        token = first.split('name="confirm" value="', 1)[1].split('"', 1)[0]
        done = post(other.url + cancel, {"csrf": csrf, "confirm": token}, cookie)
        assert "Run cancelled" in done and app.status(run_id) == "cancelled"
        replay = post(other.url + cancel, {"csrf": csrf, "confirm": token}, cookie)
        assert "Confirm" in replay  # single use: asked again
    finally:
        other.stop()


def test_wrong_tokens_slow_down_logins_on_every_engine_process(engine: Any) -> None:
    other = EngineHandle(engine.config.database_url, workers=False).start()
    try:
        times = []
        for base in (engine.url, other.url, engine.url):
            started = time.monotonic()
            answer = post(base + "/login", {"token": "wrong"}, "")
            times.append(time.monotonic() - started)
            assert "Wrong" in answer or "401" in answer or "wrong" in answer
        # 0.5 s, 1 s, 2 s: the count is shared, so the third try waits 2 s on either process
        assert times[1] >= 0.9 and times[2] >= 1.9, times
        cookie, _ = http_login(other.url)  # the right token clears the count
        started = time.monotonic()
        post(engine.url + "/login", {"token": "wrong"}, "")
        assert time.monotonic() - started < 0.9
        assert cookie
    finally:
        other.stop()


def http_login(base: str) -> tuple[str, str]:
    """A session cookie and its CSRF token, over plain HTTP."""
    request = urllib.request.Request(
        base + "/login", data=urllib.parse.urlencode({"token": ADMIN_TOKEN}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"}, method="POST")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(request, timeout=15)
        raise AssertionError("login did not redirect")
    except urllib.error.HTTPError as answer:
        cookie = (answer.headers.get("Set-Cookie") or "").split(";")[0]
    with urllib.request.urlopen(urllib.request.Request(
            base + "/", headers={"Cookie": cookie}), timeout=15) as page:
        body = page.read().decode()
    return cookie, body.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_an_expired_session_or_confirmation_is_refused(engine: Any, prod_app: Any) -> None:
    name = event_name("nap")
    app = prod_app([napper(name)])
    run_id = app.client.send(name, {})["runIds"][0]
    wait_for(lambda: app.status(run_id) == "sleeping", 15)
    db = engine.config.database_url
    cookie, csrf = http_login(engine.url)
    cancel = engine.url + f"/ws/{app.id}/runs/{run_id}/cancel"
    first = post(cancel, {"csrf": csrf}, cookie)
    token = first.split('name="confirm" value="', 1)[1].split('"', 1)[0]
    # 60 s later (moved back in the store rather than waited for)
    assert query(db, "UPDATE dashboard_confirmations SET expires_at = now() - interval "
                 "'1 second' WHERE token_hash = %s RETURNING action",
                 hashlib.sha256(token.encode()).hexdigest())
    assert "Confirm" in post(cancel, {"csrf": csrf, "confirm": token}, cookie)
    assert app.status(run_id) == "sleeping"
    # a session past its 12 hours: pages send to the login, actions are refused
    session_hash = hashlib.sha256(cookie.split("=", 1)[1].encode()).hexdigest()
    assert query(db, "UPDATE dashboard_sessions SET expires_at = now() - interval '1 second' "
                 "WHERE id_hash = %s RETURNING csrf", session_hash)
    answer = post(cancel, {"csrf": csrf}, cookie)
    assert answer.startswith("401") or answer.startswith("403") or "Log in" in answer, answer
    assert app.status(run_id) == "sleeping"
