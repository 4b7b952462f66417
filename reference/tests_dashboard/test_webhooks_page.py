"""The webhooks page: a workspace's endpoints (URL, preset, transform, never the secret) and
their last deliveries, an accepted one linking its run and a refused one with its reason."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

from conftest import ADMIN_TOKEN, event_name, login, shot
from durable import DurableFunction
from playwright.sync_api import expect


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_the_webhooks_page_shows_endpoints_and_why_deliveries_were_refused(
        page: Any, engine: Any, make_app: Any) -> None:
    name = event_name("hooked")
    app = make_app([DurableFunction(id="hooked", trigger={"event": name},
                                    handler=lambda e, s: e["data"])])
    created = json.dumps({"name": "shop", "transform": f"{{name: '{name}', data: body}}",
                          "signature": {"preset": "github", "secret": "page-secret"}}).encode()
    request = urllib.request.Request(f"{engine.url}/api/apps/{app.id}/webhooks", data=created,
                                     method="POST", headers={
                                         "Content-Type": "application/json",
                                         "Authorization": f"Bearer {ADMIN_TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        hook = json.loads(answer.read())
    body = b'{"order": 7}'
    signed = "sha256=" + hmac.new(b"page-secret", body, hashlib.sha256).hexdigest()
    assert post(engine.url + hook["url"], body, {"X-Hub-Signature-256": signed}) == 200
    assert post(engine.url + hook["url"], body, {"X-Hub-Signature-256": "sha256=00"}) == 401

    login(page, engine)
    page.goto(f"{engine.url}/ws/{app.id}/runs")
    page.click("nav.crumbs >> text=Webhooks")
    expect(page).to_have_url(f"{engine.url}/ws/{app.id}/webhooks")
    card = page.locator("#hook-shop")
    expect(card).to_contain_text(hook["url"])
    expect(card).to_contain_text("github")
    rows = card.locator("table.deliveries tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("401 INVALID_SIGNATURE")
    expect(rows.nth(0)).to_contain_text("does not match the body")
    expect(rows.nth(1)).to_contain_text("200 accepted")
    run_link = rows.nth(1).locator("a").first
    run_id = run_link.inner_text().strip()
    assert run_id
    run_link.click()
    expect(page).to_have_url(f"{engine.url}/ws/{app.id}/runs/{run_id}")
    assert "page-secret" not in page.content()
    page.go_back()
    assert "page-secret" not in page.content()
    shot(page, "webhooks")
