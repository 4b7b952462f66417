"""Compatibility: an app written against dicabrio-durable-sdk 0.1.0's API runs end to end,
unchanged: run, sleep, wait with match, sendEvent, retries and a failure handler; dev
discovery. `nox -s reference` runs it on our SDK, `nox -s reference-compat` on the published
package itself."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from conftest import AppServer, CheckedClient, EngineHandle, query, wait_for
from durable import DurableFunction, NonRetriableError, Step, wsgi


def test_published_sdk_app_end_to_end(make_app: Any, database_url: str) -> None:
    suffix = uuid.uuid4().hex[:6]
    signup, approval, welcome, order = (f"user.created.{suffix}", f"approval.{suffix}",
                                        f"welcome.{suffix}", f"order.{suffix}")
    tries = {"n": 0}
    lock = threading.Lock()

    def onboarding(event: dict[str, Any], step: Step) -> Any:
        user = step.run("load-user", lambda: {"id": event["data"]["id"], "name": "Ada"})

        def flaky_mail() -> str:
            with lock:
                tries["n"] += 1
                if tries["n"] < 2:
                    raise ConnectionError("smtp hiccup")
            return "queued"

        mail = step.run("send-mail", flaky_mail)
        step.sleep("cooldown", "200ms")
        ok = step.wait_for_event("approve", event=approval, match={"userId": user["id"]},
                                 timeout="10s")
        receipts = step.send_event("welcome", {"name": welcome, "data": {"id": user["id"]}})
        return {"approved": ok is not None, "mail": mail, "sent": len(receipts)}

    def welcomer(event: dict[str, Any], step: Step) -> Any:
        return step.run("greet", lambda: f"hello {event['data']['id']}")

    def charge(event: dict[str, Any], step: Step) -> Any:
        def fail() -> None:
            raise NonRetriableError("card declined", code="DECLINED")

        step.run("charge", fail)

    def refund(event: dict[str, Any], step: Step, error: Exception, run_id: str) -> Any:
        return step.run("notify", lambda: {"refunded": True, "why": str(error)})

    app = make_app([
        DurableFunction(id="onboarding", trigger={"event": signup}, handler=onboarding,
                        retries=3, concurrency={"limit": 2, "key": "tenantId"}),
        DurableFunction(id="welcome", trigger={"event": welcome}, handler=welcomer),
        DurableFunction(id="charge", trigger={"event": order}, handler=charge,
                        on_failure=refund),
    ])
    run_id = app.run_of(app.send(signup, {"id": "u1", "tenantId": "t1"}))
    app.wait_run(run_id, ("waiting",))
    app.send(approval, {"userId": "someone-else"})
    app.send(approval, {"userId": "u1"})
    run = app.wait_run(run_id)
    assert run["status"] == "completed"
    assert run["output"] == {"approved": True, "mail": "queued", "sent": 1}
    assert tries["n"] == 2
    assert [s["id"] for s in run["steps"]] == ["load-user", "send-mail", "cooldown", "approve",
                                               "welcome"]
    child = app.wait_run(run["steps"][-1]["data"][0]["runIds"][0])
    assert child["output"] == "hello u1"

    order_run = app.run_of(app.send(order, {"amount": 5}))
    failed = wait_for(lambda: (r := app.client.get_run(order_run)).get("failureHandler", {})
                      .get("status") == "completed" and r)
    assert failed["status"] == "failed" and failed["error"]["code"] == "DECLINED"
    output = query(database_url, "SELECT failure_output FROM runs WHERE id = %s", order_run)
    assert output[0]["failure_output"] == {"refunded": True, "why": "card declined"}
    # the definition (including flow control to come) is stored as synced
    stored = query(database_url, "SELECT definition FROM functions WHERE workspace_id = %s AND"
                   " runtime_id = 'onboarding'", app.id)[0]["definition"]
    assert stored["concurrency"] == {"limit": 2, "key": "tenantId"}


def test_dev_mode_discovers_the_app_and_creates_its_workspace(database_url: str) -> None:
    name = f"dev.{uuid.uuid4().hex[:6]}"
    app_id = f"devapp-{uuid.uuid4().hex[:6]}"
    key = "dev-signing-key-" + uuid.uuid4().hex
    fn = DurableFunction(id="hello", trigger={"event": name},
                         handler=lambda e, s: s.run("hi", lambda: "hi " + e["data"]["who"]))
    server = AppServer(wsgi([fn], signing_key=key, dev=True, app_id=app_id, app_name="My app"))
    handle = EngineHandle(database_url, dev=True, dev_app_url=server.url).start()
    try:
        rows = wait_for(lambda: query(database_url, "SELECT name, environment, app_url FROM "
                                      "workspaces WHERE id = %s", app_id), 10)
        assert rows[0] == {"name": "My app", "environment": "dev", "app_url": server.url}
        # said after the workspace is committed, so it may trail the row by a moment
        assert wait_for(lambda: any("dev app found" in line and app_id in line
                                    for line in handle.lines), 5)
        client = CheckedClient(handle.url, app_id, key)
        run_id = client.send(name, {"who": "there"})["runIds"][0]
        run = wait_for(lambda: (r := client.get_run(run_id))["status"] == "completed" and r)
        assert run["output"] == "hi there"
    finally:
        handle.stop()
        server.close()


def test_dev_mode_waits_quietly_for_an_absent_app(database_url: str) -> None:
    handle = EngineHandle(database_url, dev=True,
                          dev_app_url="http://127.0.0.1:1/api/durable").start()
    try:
        wait_for(lambda: any("looking for your app" in line for line in handle.lines))
        import time

        time.sleep(0.5)  # several discovery attempts fail; none prints or crashes
        assert not any("found" in line for line in handle.lines)
        assert len(handle.lines) == 1
    finally:
        handle.stop()


def test_dev_mode_says_once_why_an_app_not_in_dev_mode_is_not_found(database_url: str) -> None:
    fn = DurableFunction(id="hello", trigger={"event": "dev.none"},
                         handler=lambda e, s: None)
    server = AppServer(wsgi([fn], signing_key="k" * 32))  # dev=False: discovery gets 401
    handle = EngineHandle(database_url, dev=True, dev_app_url=server.url).start()
    try:
        hint = wait_for(lambda: [line for line in handle.lines if "answered 401" in line], 10)
        assert "DURABLE_DEV=1" in hint[0] and server.url in hint[0]
        import time

        time.sleep(1.0)  # several more discovery rounds: the hint is not repeated
        assert len([line for line in handle.lines if "answered 401" in line]) == 1
    finally:
        handle.stop()
        server.close()
